// Package repositories (behavior-ops.md §5.4): list, add, remove, move, refresh. Credentials are
// taken apart from the URL on the way in and never leave again (GET shows url and username only).
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <cstdlib>

#include "adapters/asio/completion.hpp"
#include "adapters/store/repository_store.hpp"
#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/packages/repository.hpp"
#include "server/app.hpp"
#include "server/catalog.hpp"
#include "server/connection.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/sse.hpp"

namespace sc::server::handlers {

namespace {

constexpr string_rule name_rule{.max_length = 64, .allow_empty = true, .allow_newlines = false};
constexpr string_rule url_rule{.max_length = 2048, .allow_empty = false, .allow_newlines = false};
constexpr string_rule credential_rule{.max_length = 1024, .allow_empty = true, .allow_newlines = false};
constexpr std::int64_t max_position = 1'000'000;

struct repository_row {
  std::string name;
  std::string url;
  std::string username;
  std::string error;
};

// The password is not a field at all: it can be neither searched nor sorted by.
constexpr std::array<list_field<repository_row>, 4> repository_fields = {{
    {"name", [](const repository_row& r) -> list_value { return std::string_view(r.name); }, false},
    {"url", [](const repository_row& r) -> list_value { return std::string_view(r.url); }, false},
    {"username", [](const repository_row& r) -> list_value { return std::string_view(r.username); }, false},
    {"error", [](const repository_row& r) -> list_value { return std::string_view(r.error); }, false},
}};

// An entry of the list: `username` is "" when none; `error` only after a failed refresh.
schema::type repository_schema() {
  using namespace schema;
  return component(
      "package_repository",
      object({{"name", string()}, {"url", string()}, {"username", string()}, optional("error", string())}));
}

}  // namespace

reply repository_list(request_context& context) {
  auto& packages = context.services.packages();
  std::vector<repository_row> rows;
  for (const auto& r : packages.repositories().list())
    rows.push_back({r.name, r.url, r.username, packages.error_of(r.name)});
  auto page =
      paginate(rows, parse_list_query(context.query), std::span<const list_field<repository_row>>(repository_fields));
  std::string body;
  json_writer writer(body);
  write_list_envelope(writer, page, [](json_writer& w, const repository_row& r) {
    w.begin_object().key("name").value(r.name).key("url").value(r.url);
    w.key("username").value(r.username);  // "" when none: the original client reads it as a string
    if (!r.error.empty()) w.key("error").value(r.error);
    w.end_object();
  });
  co_return http::json_response(std::move(body));
}

reply repository_add(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->optional_string("name").value_or("");
  std::string url = body->string("url");
  std::string username = body->optional_string("username").value_or("");
  std::string password = body->optional_string("password").value_or("");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());

  if (username.empty() != password.empty()) {
    co_return http::problem_response(
        problem::unprocessable("username", "both username and password must be provided together"));
  }
  auto parsed = packages::parse_repository_url(url);
  if (!parsed) co_return http::problem_response(parsed.error());
  if (username.empty()) {
    // Credentials in the URL, else the system defaults (behavior-ops.md §5.4).
    username = parsed->username;
    password = parsed->password;
    if (username.empty() && password.empty()) {
      const char* default_user = std::getenv("TOWN_OS_REPO_USERNAME");
      const char* default_password = std::getenv("TOWN_OS_REPO_PASSWORD");
      if (default_user != nullptr && default_password != nullptr) {
        username = default_user;
        password = default_password;
      }
    }
  }
  if (name.empty()) name = packages::repository_name_from_url(parsed->url);
  if (!packages::valid_repository_name(name)) {
    co_return http::problem_response(problem::unprocessable(
        "name", "invalid repository name (1-64 letters, digits, '_' or '-', starting with a letter or digit)"));
  }
  packages::repository repo{name, parsed->url, username, password};
  auto added = co_await context.services.packages().add(std::move(repo));
  if (!added) co_return http::problem_response(added.error());
  co_return http::empty_response();
}

reply repository_remove(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (auto removed = co_await context.services.packages().remove(name); !removed)
    co_return http::problem_response(removed.error());
  co_return http::empty_response();
}

reply repository_move(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  std::int64_t position = body->integer("position");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (auto moved = context.services.packages().move(name, position); !moved)
    co_return http::problem_response(moved.error());
  co_return http::empty_response();
}

namespace {

// The progress stream of the current original (behavior-ops.md §1.3, §5.4): a "refreshing" step,
// then done or the errors in Go's map formatting. The subscriber keeps the stream's state alive;
// the catalog lives as long as the app, which outlives every connection.
boost::asio::awaitable<void> refresh_into(catalog& packages, std::shared_ptr<sse_subscriber> subscriber) {
  subscriber->push(std::make_shared<const std::string>(format_sse_event(R"({"step":"refreshing"})")));
  auto errors = co_await packages.refresh();
  std::string frame;
  if (errors.empty()) {
    frame = R"({"done":true})";
  } else {
    std::string text = "refresh errors: map[";
    bool first = true;
    for (const auto& [name, error] : errors) {
      if (!first) text += " ";
      first = false;
      text += name + ":" + error;
    }
    text += "]";
    frame = json_string([&](json_writer& w) { w.begin_object().key("error").value(text).end_object(); });
  }
  subscriber->push(std::make_shared<const std::string>(format_sse_event(frame)));
  subscriber->close();
}

// The frames refresh_into sends, all unnamed events.
schema::type refresh_event_schema() {
  using namespace schema;
  return one_of({object({{"step", enumeration({"refreshing"})}}), object({{"done", boolean()}}),
                 object({{"error", describe(string(), "refresh errors: map[name:error ...]")}})});
}

}  // namespace

// The reference's shape: an empty body on success, else a JSON object of name → error. A client
// that asks for text/event-stream (the current dashboard) gets the original's progress stream.
reply repository_refresh(request_context& context) {
  if (context.request[boost::beast::http::field::accept].find("text/event-stream") != std::string_view::npos) {
    auto subscriber = std::make_shared<sse_subscriber>(context.stream.get_executor(), 8);
    if (context.owner != nullptr) {
      context.owner->state = connection::phase::streaming;
      context.owner->stop_stream = [subscriber] { subscriber->close(); };
    }
    boost::asio::co_spawn(context.stream.get_executor(), refresh_into(context.services.packages(), subscriber),
                          log_escaped{"repository refresh stream"});
    co_await serve_sse(context.stream, subscriber, sse_options{}, sse_head(context.request, context.services));
    context.response_written = true;
    co_return http::empty_response();
  }
  auto errors = co_await context.services.packages().refresh();
  if (errors.empty()) co_return http::empty_response();
  json_members out;
  for (const auto& [name, error] : errors) out.set_string(name, error);
  co_return http::json_response(json_string([&](json_writer& w) { out.write(w); }));
}

namespace contracts {

const contract& repository_list() {
  static const contract c{.response = schema::page(repository_schema())};
  return c;
}

// A clone git refuses is the client's 422 (on "url"); its timeout stays a 504.
const contract& repository_add() {
  using namespace schema;
  static const contract c{.request = request({optional("name", string(name_rule)),
                                              {"url", string(url_rule)},
                                              optional("username", string(credential_rule)),
                                              optional("password", string(credential_rule))}),
                          .media_type = "",
                          .problems = {409}};
  return c;
}

const contract& repository_remove() {
  using namespace schema;
  static const contract c{.request = request({{"name", string(name_rule)}}), .media_type = "", .problems = {404}};
  return c;
}

const contract& repository_move() {
  using namespace schema;
  static const contract c{
      .request = request({{"name", string(name_rule)}, {"position", integer(-max_position, max_position)}}),
      .media_type = "",
      .problems = {404}};
  return c;
}

// 200 with no body when every repository refreshed, else the errors by repository name; a client
// asking for text/event-stream gets refresh_into's stream instead.
const contract& repository_refresh() {
  static const contract c{.response = schema::map(schema::string()),
                          .events = {{"", refresh_event_schema(), "a refreshing step, then the end: done or error"}}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
