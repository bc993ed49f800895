#pragma once
// The one route table: (method, path, auth level, handler), built in one function
// (`build_routes`, server/routes.cpp). No macros, no static registration. The OpenAPI document,
// /metrics labels and the authorization-matrix tests all read this table.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/query.hpp"
#include "core/schema.hpp"
#include "server/http.hpp"

namespace sc::server {

class app;
struct connection;
struct route;
class body_stream;

enum class auth_level {
  public_access,       // anyone
  authenticated,       // a valid session, or the local root peer (an administrator principal)
  admin,               // a valid session of an administrator, or the local root peer
  bootstrap_or_admin,  // anyone while no enabled administrator exists, else as admin
  local_only,          // the local root peer only (Unix socket, uid 0)
  admin_or_metrics,    // as admin, or the metrics credential (Prometheus; server/monitoring_service.hpp)
};
std::string_view to_string(auth_level level) noexcept;

// Who made the request, once authenticated. The local root peer on the Unix socket is an
// administrator without a session (DESIGN.md: privilege from peer credentials, not addresses).
struct principal {
  std::string username;
  std::string session_id;
  bool admin = false;
  bool local_root = false;
  // A non-admin holding grants: may use only the grant allow-list (behavior-core.md §2.5).
  std::vector<std::string> grants;
};

struct request_context {
  http::request& request;
  const http::peer_info& peer;
  http::stream& stream;
  app& services;
  std::string_view path;  // without the query string
  query_params query;
  std::optional<principal> caller;  // set by the dispatcher when a valid token or local root is present
  // A handler that writes its own response to `stream` (SSE, streamed downloads) sets this; the
  // connection is closed afterwards.
  bool response_written = false;
  connection* owner = nullptr;  // the connection serving this request (streams hook shutdown here)
  // Numbers requests across the process; a 5xx is logged with it and its problem carries it in
  // `instance` (app::request_urn), so a report from a client finds the log line.
  std::uint64_t id = 0;
  std::size_t route_index = static_cast<std::size_t>(-1);  // set by the dispatcher, for metrics
  // Routes with `streams_body`: the body, still on the socket (`request.body()` is empty).
  body_stream* body = nullptr;
  const route* matched = nullptr;  // set by the dispatcher: the route being served
};

using handler = boost::asio::awaitable<http::response> (*)(request_context& context);

// How long a handler may run. At the deadline the dispatcher cancels it (terminal cancellation of
// everything it awaits: children are killed with their group and reaped, D-Bus and journal waits
// end) and answers 504. Plain requests get the default; long operations and streams say their own.
inline constexpr std::chrono::milliseconds default_handler_deadline{30'000};
// For streams (SSE): no deadline; the client, a limit of the stream's own, or shutdown ends them.
inline constexpr std::chrono::milliseconds no_handler_deadline{0};

// A path ending in this segment is a prefix route: it takes every path that starts with what comes
// before it (`/monitoring/grafana/{path}` takes `/monitoring/grafana/` and everything below), and
// the OpenAPI document declares the segment as a path parameter. Exact paths win over prefixes.
inline constexpr std::string_view rest_of_path = "{path}";

// What a route takes and answers, declared once (core/schema.hpp): the request decoder
// (server/json_body) reads the body by `request`, /openapi.json writes all of it, and the contract
// tests validate what the server answers against the document.
struct contract {
  schema::type request{};                            // the JSON body; null: the route reads none
  bool request_optional = false;                     // an empty body reads as {} (every member optional)
  schema::type response{};                           // the 200 body when it is JSON
  std::string_view media_type = "application/json";  // the 200 body's media type; "": no body
  std::vector<schema::event> events{};               // events of the stream (text/event-stream) it may answer with
  // Statuses answered with a problem beyond those every route may answer (400, 413, 431 from the
  // transport; 500, 503, 504) and those its auth level (401, 403) and its body (422) imply.
  std::vector<int> problems{};
};
// A function returning a contract built once (function-local static: no static-order question).
using contract_fn = const contract& (*)();

struct route {
  http::verb method;
  std::string_view path;
  auth_level auth;
  handler fn;
  std::string_view summary;        // one line for the OpenAPI document
  contract_fn contract = nullptr;  // its request, response and stream events (null: none declared)
  // The handler pulls the body itself from `request_context::body` (large uploads): the connection
  // reads only the header, and the handler enforces its own size limit.
  bool streams_body = false;
  std::chrono::milliseconds deadline = default_handler_deadline;
};

class router {
 public:
  explicit router(std::vector<route> routes);

  struct match {
    const route* found = nullptr;  // null: see `status`
    std::size_t index = 0;         // position in routes(), for per-route metrics
    int status = 200;              // 404 unknown path, 405 known path with another method
    std::string allow;             // for 405: "GET, HEAD" etc.
  };
  // HEAD matches a GET route (the body is dropped by the transport).
  match find(http::verb method, std::string_view path) const;

  std::span<const route> routes() const noexcept { return routes_; }

 private:
  std::vector<route> routes_;
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_path_;
  std::vector<std::pair<std::string_view, std::vector<std::size_t>>> by_prefix_;  // longest first
};

// The route's contract; an empty one for a route declared without (tests' own tables).
const contract& contract_of(const route& r);

// The application's route table (server/routes.cpp).
std::vector<route> build_routes();

}  // namespace sc::server
