// The client library's pure parts: the SSE parser, problem+json as a typed error, URLs, and how
// answers are rendered for people.
#include "tools/townctl/client/client.hpp"

#include <gtest/gtest.h>

#include "tools/townctl/cli/render.hpp"

namespace sc::client {
namespace {

TEST(sse_parser, assembles_events_split_anywhere) {
  const std::string stream =
      ": keepalive\r\nid: c1\r\ndata: {\"a\":1}\r\n\r\n: t=5\nid: c2\ndata: line one\ndata: line two\n\nevent: x\n"
      "data:nospace\r\r";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    sse_parser parser;
    auto events = parser.feed(std::string_view(stream).substr(0, split));
    auto rest = parser.feed(std::string_view(stream).substr(split));
    events.insert(events.end(), rest.begin(), rest.end());
    ASSERT_EQ(events.size(), 3u) << "split at " << split;
    EXPECT_EQ(events[0].id, "c1");
    EXPECT_EQ(events[0].data, R"({"a":1})");
    EXPECT_EQ(events[1].id, "c2");
    EXPECT_EQ(events[1].data, "line one\nline two");
    EXPECT_EQ(events[2].event, "x");
    EXPECT_EQ(events[2].data, "nospace");
    EXPECT_EQ(events[2].id, "c2");
  }
}

TEST(sse_parser, an_id_without_data_dispatches_nothing) {
  sse_parser parser;
  EXPECT_TRUE(parser.feed("id: lonely\n\n").empty());
  EXPECT_EQ(parser.last_event_id(), "lonely");
}

TEST(api_error, problem_json_becomes_a_typed_error) {
  auto error = parse_problem(
      422, R"({"type":"about:blank#422","title":"Unprocessable Entity","status":422,"detail":"bad answers",)"
           R"("errors":[{"field":"responses.port","message":"not a port"}],"journal":["l1","l2"]})");
  EXPECT_EQ(error.status, 422);
  EXPECT_EQ(error.type, "about:blank#422");
  EXPECT_EQ(error.title, "Unprocessable Entity");
  EXPECT_EQ(error.detail, "bad answers");
  ASSERT_EQ(error.errors.size(), 1u);
  EXPECT_EQ(error.errors[0].field, "responses.port");
  EXPECT_EQ(error.journal.size(), 2u);
  EXPECT_EQ(error.classify(), error_class::refused);
  EXPECT_EQ(error.describe(), "422 Unprocessable Entity: bad answers\n  responses.port: not a port");

  auto html = parse_problem(502, "<html>bad gateway</html>");
  EXPECT_EQ(html.detail, "Bad Gateway");
  EXPECT_EQ(html.classify(), error_class::unavailable);
  EXPECT_EQ(parse_problem(401, "").classify(), error_class::auth);
  EXPECT_EQ(parse_problem(403, "").classify(), error_class::auth);
  EXPECT_EQ(parse_problem(404, "").classify(), error_class::not_found);
  EXPECT_EQ(parse_problem(409, "").classify(), error_class::conflict);
  EXPECT_EQ(transport_error("refused").classify(), error_class::unavailable);
}

TEST(endpoint, urls_are_plain_http_host_and_port) {
  auto v4 = endpoint::from_url("http://10.0.0.2:8080/");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.0.0.2");
  EXPECT_EQ(v4->port, "8080");
  EXPECT_EQ(v4->describe(), "http://10.0.0.2:8080");
  auto v6 = endpoint::from_url("http://[::1]");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "5309");
  EXPECT_EQ(v6->describe(), "http://[::1]:5309");
  EXPECT_FALSE(endpoint::from_url("https://box"));
  EXPECT_FALSE(endpoint::from_url("http://user:pw@box"));
  EXPECT_FALSE(endpoint::from_url("http://box/path"));
  EXPECT_EQ(endpoint::unix_socket("/run/x.sock").describe(), "unix:/run/x.sock");
}

TEST(package_ref, parses_repo_name_and_version) {
  auto full = package_ref::parse("default/gitea@2.0");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->repo, "default");
  EXPECT_EQ(full->name, "gitea");
  EXPECT_EQ(full->version, "2.0");
  auto bare = package_ref::parse("gitea");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->repo.empty());
  EXPECT_FALSE(package_ref::parse("x@"));
  EXPECT_FALSE(package_ref::parse("/x"));
}

// `json` parsed and rendered for people.
std::string human(std::string_view json, std::string_view columns = {}) {
  auto document = json_document::parse(json);
  EXPECT_TRUE(document) << json;
  return document ? townctl::render_human(document->root(), columns) : std::string();
}

TEST(render, lists_become_tables_and_objects_lines) {
  const std::string page =
      R"({"entries":[{"name":"data","quota":10,"state":"user","extra":{"x":1}},{"name":"media","quota":2048,)"
      R"("state":"user"}],"has_more":true,"total_pages":2,"total_count":3})";
  EXPECT_EQ(human(page, "name,state,quota"),
            "NAME   STATE  QUOTA\ndata   user   10\nmedia  user   2048\n(2 of 3; more with --offset)\n");
  EXPECT_EQ(human(page, ""),
            "NAME   QUOTA  STATE\ndata   10     user\nmedia  2048   user\n(2 of 3; more with --offset)\n");
  EXPECT_EQ(human(R"(["a","b"])"), "a\nb\n");
  EXPECT_EQ(human(R"({"status":"ok","n":{"a":true}})"), "status: ok\nn:\n  a: yes\n");
}

TEST(render, progress_has_escape_codes_only_on_a_terminal) {
  EXPECT_EQ(townctl::step_line(2, 5, "applying_templates", false), "[2/5] applying_templates\n");
  auto drawn = townctl::step_line(2, 5, "applying_templates", true);
  EXPECT_EQ(drawn.front(), '\r');
  EXPECT_NE(drawn.find("\x1b[K"), std::string::npos);
  auto plain = townctl::transfer_line(std::uint64_t{1} << 20, std::uint64_t{4} << 20, std::chrono::seconds(1), false);
  EXPECT_EQ(plain, "1.0 MiB / 4.0 MiB  25%  1.0 MiB/s  ETA 3s\n");
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_EQ(townctl::human_bytes(1536), "1.5 KiB");
}

}  // namespace
}  // namespace sc::client
