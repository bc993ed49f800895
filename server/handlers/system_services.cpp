// System services (behavior-core.md §5.8, issue 15).
#include "server/system_services.hpp"

#include "core/json_writer.hpp"
#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"

namespace sc::server::handlers {

reply system_services_list(request_context& context) {
  auto rows = co_await context.services.services().statuses();
  if (!rows) co_return http::problem_response(rows.error());
  std::string body;
  json_writer writer(body);
  writer.begin_array();
  for (const auto& r : *rows) {
    writer.begin_object();
    writer.key("Name").value(r.unit);
    writer.key("Description").value(r.description);
    writer.key("LoadState").value(r.load_state);
    writer.key("ActiveState").value(r.active_state);
    writer.key("SubState").value(r.sub_state);
    writer.key("UnitFileState").value(r.unit_file_state);
    writer.key("key").value(r.key);
    writer.key("display_name").value(r.display_name);
    writer.key("image").value(r.image);
    writer.key("port").value(r.port);
    writer.end_object();
  }
  writer.end_array();
  co_return http::json_response(std::move(body));
}

reply system_services_status(request_context& context) {
  auto body = json_body::parse(context);
  // §5.8: every decode failure of this route is a 400 ("invalid request: …").
  if (!body) {
    problem p = body.error();
    p.status = 400;
    p.detail = "invalid request: " + p.detail;
    co_return http::problem_response(p);
  }
  std::string key = body->string("key");
  std::string action = body->string("action");
  if (auto ok = body->finish(); !ok) {
    problem p = ok.error();
    p.status = 400;
    p.detail = "invalid request: " + p.detail;
    co_return http::problem_response(p);
  }
  auto done = co_await context.services.services().set_status(std::move(key), std::move(action));
  if (!done) co_return http::problem_response(done.error());
  co_return http::json_response(R"({"status":"ok"})");
}

reply system_services_refresh(request_context& context) {
  auto errors = co_await context.services.services().refresh();
  if (!errors) co_return http::problem_response(errors.error());
  std::string body;
  json_writer writer(body);
  writer.begin_object().key("status").value("ok");
  if (!errors->empty()) writer.key("errors").value(*errors);
  writer.end_object();
  co_return http::json_response(std::move(body));
}

namespace contracts {

const contract& system_services_list() {
  using namespace schema;
  static const contract c{.response = array(component("system_service", object({{"Name", string()},
                                                                                {"Description", string()},
                                                                                {"LoadState", string()},
                                                                                {"ActiveState", string()},
                                                                                {"SubState", string()},
                                                                                {"UnitFileState", string()},
                                                                                {"key", string()},
                                                                                {"display_name", string()},
                                                                                {"image", string()},
                                                                                {"port", string()}})))};
  return c;
}

const contract& system_services_status() {
  using namespace schema;
  // 404 when no service is configured; 409 while the services are being applied (or the unit is
  // masked); 422 when the unit does not start.
  static const contract c{
      .request = request({{"key", string({.max_length = 64})}, {"action", string({.max_length = 32})}}),
      .response = object({{"status", enumeration({"ok"})}}),
      .problems = {404, 409, 429}};
  return c;
}

const contract& system_services_refresh() {
  using namespace schema;
  static const contract c{
      .response = object(
          {{"status", enumeration({"ok"})},
           optional("errors", describe(string(), "each service that failed, \"<key>: <why>\"; joined by \"; \""))}),
      .problems = {409}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
