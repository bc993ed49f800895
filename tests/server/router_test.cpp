// The route table's lookup and its construction checks, without a server: exact paths, HEAD
// served by GET routes, 404 against 405 with the Allow list, and the table refusing bad entries.
#include "server/router.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <utility>

namespace sc::server {
namespace {

boost::asio::awaitable<http::response> ok(request_context&) {
  co_return http::empty_response();
}

router small_table() {
  return router({
      {http::verb::get, "/health", auth_level::public_access, ok, "health"},
      {http::verb::get, "/settings", auth_level::authenticated, ok, "settings"},
      {http::verb::post, "/settings", auth_level::admin, ok, "set settings"},
      {http::verb::post, "/account/create", auth_level::bootstrap_or_admin, ok, "create"},
  });
}

TEST(router, finds_the_route_of_an_exact_path_and_method) {
  router table = small_table();
  auto get = table.find(http::verb::get, "/settings");
  ASSERT_NE(get.found, nullptr);
  EXPECT_EQ(get.found->auth, auth_level::authenticated);
  EXPECT_EQ(get.index, 1u);
  auto post = table.find(http::verb::post, "/settings");
  ASSERT_NE(post.found, nullptr);
  EXPECT_EQ(post.found->auth, auth_level::admin);
  EXPECT_EQ(post.index, 2u);
}

TEST(router, head_is_served_by_the_get_route) {
  router table = small_table();
  auto head = table.find(http::verb::head, "/health");
  ASSERT_NE(head.found, nullptr);
  EXPECT_EQ(head.found->method, http::verb::get);
  auto no_get = table.find(http::verb::head, "/account/create");
  EXPECT_EQ(no_get.found, nullptr);
  EXPECT_EQ(no_get.status, 405);
}

TEST(router, unknown_paths_are_404_and_are_matched_exactly) {
  router table = small_table();
  for (std::string_view path : {"/nope", "/health/", "/Health", "/settings?x=1", "", "/"}) {
    auto m = table.find(http::verb::get, path);
    EXPECT_EQ(m.found, nullptr) << path;
    EXPECT_EQ(m.status, 404) << path;
  }
}

TEST(router, a_known_path_with_another_method_is_405_with_allow) {
  router table = small_table();
  auto m = table.find(http::verb::delete_, "/settings");
  EXPECT_EQ(m.found, nullptr);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
  EXPECT_EQ(table.find(http::verb::get, "/account/create").allow, "POST");
}

TEST(router, refuses_duplicate_and_malformed_entries) {
  EXPECT_THROW(router({{http::verb::get, "/a", auth_level::public_access, ok, ""},
                       {http::verb::get, "/a", auth_level::admin, ok, ""}}),
               std::logic_error);
  EXPECT_THROW(router({{http::verb::get, "relative", auth_level::public_access, ok, ""}}), std::logic_error);
  EXPECT_THROW(router({{http::verb::get, "", auth_level::public_access, ok, ""}}), std::logic_error);
  EXPECT_THROW(router({{http::verb::get, "/a", auth_level::public_access, nullptr, ""}}), std::logic_error);
  EXPECT_NO_THROW(router({{http::verb::get, "/a", auth_level::public_access, ok, ""},
                          {http::verb::post, "/a", auth_level::admin, ok, ""}}));
}

TEST(router, a_prefix_route_takes_every_path_below_it_and_exact_paths_win) {
  router table({
      {http::verb::get, "/monitoring/status", auth_level::authenticated, ok, "status"},
      {http::verb::get, "/monitoring/{path}", auth_level::admin, ok, "short prefix"},
      {http::verb::get, "/monitoring/grafana/{path}", auth_level::public_access, ok, "proxy"},
      {http::verb::post, "/monitoring/grafana/{path}", auth_level::public_access, ok, "proxy"},
  });
  EXPECT_EQ(table.find(http::verb::get, "/monitoring/status").index, 0u);
  for (std::string_view path :
       {"/monitoring/grafana/", "/monitoring/grafana/graph", "/monitoring/grafana/api/v1/query"}) {
    auto m = table.find(http::verb::get, path);
    ASSERT_NE(m.found, nullptr) << path;
    EXPECT_EQ(m.index, 2u) << path << ": the longest prefix wins";
    EXPECT_EQ(table.find(http::verb::post, path).index, 3u);
  }
  EXPECT_EQ(table.find(http::verb::get, "/monitoring/other").index, 1u);
  EXPECT_EQ(table.find(http::verb::get, "/monitoring/grafana").index, 1u);
  EXPECT_EQ(table.find(http::verb::get, "/monitoring").status, 404);
  EXPECT_EQ(table.find(http::verb::get, "/monitoringx/grafana/").status, 404);
  auto put = table.find(http::verb::put, "/monitoring/grafana/x");
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.allow, "GET, HEAD, POST");
  EXPECT_THROW(router({{http::verb::get, "/a{path}", auth_level::public_access, ok, ""}}), std::logic_error);
  EXPECT_THROW(router({{http::verb::get, "/a/{path}", auth_level::public_access, ok, ""},
                       {http::verb::get, "/a/{path}", auth_level::public_access, ok, ""}}),
               std::logic_error);
}

TEST(router, the_application_table_is_unique_and_every_level_is_named) {
  router table(build_routes());
  std::set<std::pair<std::string, std::string>> seen;
  for (const route& r : table.routes()) {
    EXPECT_TRUE(seen.emplace(std::string(boost::beast::http::to_string(r.method)), std::string(r.path)).second);
    EXPECT_NE(to_string(r.auth), "unknown") << r.path;
    EXPECT_FALSE(r.summary.empty()) << r.path << " has no OpenAPI summary";
    auto m = table.find(r.method, r.path);
    EXPECT_EQ(m.found, &r) << r.path;
  }
  EXPECT_GT(seen.size(), 40u);
}

// Issue 17: every route declares what it answers (a JSON schema, another media type, or no body); a GET reads
// no body; a stream names its events. (That a POST's body is declared is json_body's check: reading
// an undeclared member stops a debug build.)
TEST(router, every_route_declares_its_contract) {
  router table(build_routes());
  for (const route& r : table.routes()) {
    ASSERT_NE(r.contract, nullptr) << r.path;
    const contract& c = r.contract();
    if (c.media_type == "application/json") {
      EXPECT_NE(c.response, nullptr) << r.path << " declares no response";
    }
    if (c.media_type.empty()) {
      EXPECT_EQ(c.response, nullptr) << r.path << " declares a body and no media type";
    }
    if (r.method == http::verb::get) {
      EXPECT_EQ(c.request, nullptr) << r.path << ": a GET has no body";
    }
    for (const auto& e : c.events) EXPECT_NE(e.data, nullptr) << r.path << " event " << e.name;
    if (r.deadline == no_handler_deadline) {
      EXPECT_FALSE(c.events.empty()) << r.path << " streams undeclared events";
    }
  }
}

}  // namespace
}  // namespace sc::server
