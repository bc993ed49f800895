// Monitoring (behavior-core.md §5.8, issue 15): the status and the proxy to Prometheus's UI.
#include "core/monitoring.hpp"

#include "adapters/http_client/exchange.hpp"
#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/monitoring_service.hpp"

namespace sc::server::handlers {

namespace beast = boost::beast;

reply monitoring_status(request_context& context) {
  auto* monitoring = context.services.monitoring();
  if (monitoring == nullptr) co_return http::json_response(R"({"status":"disabled"})");
  co_return http::json_response(co_await monitoring->status(context.services.services()));
}

// /monitoring/grafana/{path}: public per the reference. The upstream is fixed (Prometheus on
// loopback, from the controller's configuration); the client chooses only the path below the
// prefix, checked so that nothing decodes to another place, and the query. Only the headers a
// page and its API calls need go up (never the client's Authorization or cookies); only the ones
// that describe the content come back. Bounded: the request by the body limit, the answer to
// 16 MiB, the whole exchange to 30 s.
reply monitoring_proxy(request_context& context) {
  // A path that would step elsewhere is refused whatever the state of monitoring.
  std::string_view target = context.request.target();
  const auto question = target.find('?');
  const std::string_view query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  auto upstream_target = monitoring::proxied_target(context.path, query);
  if (!upstream_target) co_return http::problem_response(upstream_target.error());
  auto* monitoring = context.services.monitoring();
  if (monitoring == nullptr || !co_await context.services.services().active("prometheus"))
    co_return http::problem_response(problem::unavailable("monitoring is not configured"));

  http_client::string_request up{context.request.method(), *upstream_target, 11};
  for (auto field : {beast::http::field::accept, beast::http::field::content_type, beast::http::field::accept_language,
                     beast::http::field::if_none_match, beast::http::field::if_modified_since}) {
    if (auto value = context.request[field]; !value.empty()) up.set(field, value);
  }
  if (context.request.method() == beast::http::verb::post) up.body() = context.request.body();
  const auto& address = monitoring->prometheus_address();
  auto answer = co_await http_client::exchange(address.host, address.port, std::move(up),
                                               {std::size_t{16} * 1024 * 1024, std::chrono::seconds(30)});
  if (!answer) co_return http::problem_response(answer.error());

  http::response out{answer->result(), context.request.version()};
  for (auto field : {beast::http::field::content_type, beast::http::field::cache_control, beast::http::field::etag,
                     beast::http::field::last_modified, beast::http::field::location}) {
    if (auto value = (*answer)[field]; !value.empty()) out.set(field, value);
  }
  out.body() = std::move(answer->body());
  out.prepare_payload();
  co_return out;
}

namespace contracts {

const contract& monitoring_status() {
  using namespace schema;
  // The report server/monitoring_service.cpp status() writes.
  static const contract c{
      .response = one_of(
          {object({{"status", enumeration({"disabled"})}}),
           component("monitoring_status", object({{"backend", string()},
                                                  {"prometheus", boolean()},
                                                  {"node_exporter", boolean()},
                                                  {"monitoring_ui", boolean()},
                                                  optional("grafana", boolean()),
                                                  {"disk_devices", array(string())},
                                                  optional("scrape_targets_error", string()),
                                                  optional("scrape_targets", array(monitoring::scrape_target_schema())),
                                                  optional("down_jobs", array(string()))}))})};
  return c;
}

const contract& monitoring_proxy() {
  using namespace schema;
  // Prometheus's answer, status and body, passed on: mostly its API's JSON (what the UI's pages
  // ask for), else the UI's pages and assets. 502 and 504 when Prometheus fails to answer.
  static const contract c{.response = any("whatever Prometheus answers"), .problems = {502}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
