// Systemd units and the journal (behavior-ops.md §8, issue 4): the managed units over D-Bus, unit
// actions awaiting their job, a filtered journal tail with cursors both ways, and the live log
// stream (server/log_stream.hpp). Decode, call the manager / journal reader / hub, encode.
#include <algorithm>
#include <array>
#include <charconv>
#include <unordered_map>

#include "adapters/store/package_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/journal_query.hpp"
#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/packages/plan.hpp"
#include "core/units.hpp"
#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/journal_json.hpp"
#include "server/json_body.hpp"
#include "server/lifecycle.hpp"
#include "server/systemd_service.hpp"

namespace sc::server::handlers {

namespace {

namespace jq = journal_query;

// One row of GET /systemd/units (behavior-ops.md §8.2): UnitStatus fields PascalCase, the extra
// fields snake_case and omitted when empty or false.
struct unit_row {
  std::string name;
  std::string description;
  std::string load_state;
  std::string active_state;
  std::string sub_state;
  std::string unit_file_state;
  std::string package_identifier;
  std::string display_identifier;
  std::string package_description;
  bool is_dependency = false;
  bool nc_failed = false;
  bool nc_active = false;
};

constexpr std::array<list_field<unit_row>, 9> unit_fields = {{
    {"Name", [](const unit_row& u) -> list_value { return std::string_view(u.name); }},
    {"Description", [](const unit_row& u) -> list_value { return std::string_view(u.description); }},
    {"LoadState", [](const unit_row& u) -> list_value { return std::string_view(u.load_state); }},
    {"ActiveState", [](const unit_row& u) -> list_value { return std::string_view(u.active_state); }},
    {"SubState", [](const unit_row& u) -> list_value { return std::string_view(u.sub_state); }},
    {"UnitFileState", [](const unit_row& u) -> list_value { return std::string_view(u.unit_file_state); }},
    {"package_identifier", [](const unit_row& u) -> list_value { return std::string_view(u.package_identifier); }},
    {"display_identifier", [](const unit_row& u) -> list_value { return std::string_view(u.display_identifier); }},
    {"package_description", [](const unit_row& u) -> list_value { return std::string_view(u.package_description); }},
}};

void write_unit(json_writer& w, const unit_row& u) {
  w.begin_object();
  w.key("Name").value(u.name);
  w.key("Description").value(u.description);
  w.key("LoadState").value(u.load_state);
  w.key("ActiveState").value(u.active_state);
  w.key("SubState").value(u.sub_state);
  w.key("UnitFileState").value(u.unit_file_state);
  if (!u.package_identifier.empty()) w.key("package_identifier").value(u.package_identifier);
  if (!u.display_identifier.empty()) w.key("display_identifier").value(u.display_identifier);
  if (!u.package_description.empty()) w.key("package_description").value(u.package_description);
  if (u.is_dependency) w.key("is_dependency").value(true);
  if (u.nc_failed) w.key("nc_failed").value(true);
  if (u.nc_active) w.key("nc_active").value(true);
  w.end_object();
}

schema::type unit_schema() {
  using namespace schema;
  return component("systemd_unit", object({{"Name", string()},
                                           {"Description", string()},
                                           {"LoadState", string()},
                                           {"ActiveState", string()},
                                           {"SubState", string()},
                                           {"UnitFileState", string()},
                                           optional("package_identifier", string()),
                                           optional("display_identifier", string()),
                                           optional("package_description", string()),
                                           optional("is_dependency", boolean()),
                                           optional("nc_failed", boolean()),
                                           optional("nc_active", boolean())}));
}

// The entry server/journal_json.cpp write_journal_entry writes (the tail and the live stream).
schema::type journal_entry_schema() {
  using namespace schema;
  std::vector<member> members{
      {"Cursor", string()}, {"RealtimeTimestamp", format(string(), "date-time")}, {"MonotonicTimestamp", integer(0)}};
  for (const char* field : {"Message",
                            "MessageID",
                            "Priority",
                            "CodeFile",
                            "CodeLine",
                            "CodeFunc",
                            "Errno",
                            "SyslogFacility",
                            "SyslogIdentifier",
                            "SyslogPID",
                            "PID",
                            "UID",
                            "GID",
                            "Comm",
                            "Exe",
                            "Cmdline",
                            "CapEffective",
                            "AuditSession",
                            "AuditLoginUID",
                            "SystemdCGroup",
                            "SystemdSession",
                            "SystemdUnit",
                            "SystemdUserUnit",
                            "SystemdOwnerUID",
                            "SystemdSlice",
                            "SELinuxContext",
                            "SourceRealtimeTimestamp",
                            "BootID",
                            "MachineID",
                            "Hostname",
                            "Transport"}) {
    members.emplace_back(field, string());
  }
  return component("journal_entry", object(std::move(members)));
}

// A job that ended other than "done" is the unit's failure, not the client's and not ours.
problem job_problem(std::string_view action, std::string_view name, std::string_view job_result) {
  return problem(502, std::string(action) + " of " + std::string(name) + " finished with job result \"" +
                          std::string(job_result) + "\"");
}

// The total-viewer limit: the `log_stream_max_viewers` setting (core/settings.cpp), stored values
// having passed its validation.
std::size_t max_log_viewers(app& services) {
  std::size_t limit = 20'000;
  if (auto text = services.system_settings().get("log_stream_max_viewers")) {
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec == std::errc{} && end == text->data() + text->size()) limit = value;
  }
  return limit;
}

}  // namespace

reply systemd_units(request_context& context) {
  list_query query = parse_list_query(context.query);
  auto manager = co_await context.services.systemd().manager(context.services.bus());
  if (!manager) co_return http::problem_response(manager.error());
  // Managed units only, filtered by D-Bus patterns so the manager sends nothing else.
  std::vector<std::string> states;
  std::vector<std::string> patterns{std::string(units::package_unit_prefix) + "*",
                                    std::string(units::system_unit_prefix) + "*"};
  auto listed = co_await (*manager)->list_units_by_patterns(std::move(states), std::move(patterns));
  if (!listed) co_return http::problem_response(listed.error());

  std::unordered_map<std::string_view, const systemd::unit_status*> by_name;
  for (const auto& u : *listed) by_name.emplace(u.name, &u);
  // Package units are named after their install records (names are parsed only through them):
  // a package unit without a record is not ours to show.
  struct package_of_unit {
    std::string identifier;
    std::string description;
    bool dependency = false;
  };
  std::unordered_map<std::string, package_of_unit> packages_by_unit;
  for (const auto& record : context.services.lifecycle().records().installed()) {
    for (const auto& c : record.plan.containers) {
      packages_by_unit[packages::service_unit_name(c.ref)] = {
          record.plan.package.repo + "/" + c.ref.effective_name + "@" + c.ref.version, c.description,
          !c.dependency_key.empty()};
    }
  }
  std::vector<unit_row> rows;
  for (const auto& u : *listed) {
    auto kind = units::classify_unit(u.name);
    if (kind != units::unit_kind::package_service && kind != units::unit_kind::system_service) continue;
    const package_of_unit* package = nullptr;
    if (kind == units::unit_kind::package_service) {
      auto found = packages_by_unit.find(u.name);
      if (found == packages_by_unit.end()) continue;
      package = &found->second;
    }
    unit_row row;
    if (package != nullptr) {
      row.package_identifier = package->identifier;
      row.display_identifier = package->identifier;
      row.package_description = package->description;
      row.is_dependency = package->dependency;
    }
    row.name = u.name;
    row.description = u.description;
    row.load_state = u.load_state;
    row.active_state = u.active_state;
    row.sub_state = u.sub_state;
    if (kind == units::unit_kind::package_service) {
      auto nc = by_name.find(units::network_unit_of(u.name));
      auto state = units::combine_package_state(
          u.active_state,
          nc == by_name.end() ? std::nullopt : std::optional(std::string_view(nc->second->active_state)));
      row.active_state = state.active_state;
      row.nc_active = state.controller_active;
      row.nc_failed = state.controller_failed;
    }
    rows.push_back(std::move(row));
  }
  // Unit file states in one call for the whole listing, not one property read per unit.
  std::vector<std::string> file_states;
  std::vector<std::string> file_patterns{std::string(units::package_unit_prefix) + "*",
                                         std::string(units::system_unit_prefix) + "*"};
  auto files = co_await (*manager)->list_unit_files_by_patterns(std::move(file_states), std::move(file_patterns));
  if (!files) co_return http::problem_response(files.error());
  std::unordered_map<std::string_view, std::string_view> file_state_of;
  for (const auto& f : *files) file_state_of.emplace(f.name, f.state);
  for (auto& row : rows) {
    if (auto found = file_state_of.find(row.name); found != file_state_of.end()) row.unit_file_state = found->second;
  }

  auto page = paginate(rows, query, std::span<const list_field<unit_row>>(unit_fields));
  std::string body;
  json_writer writer(body);
  write_list_envelope(writer, page, write_unit);
  co_return http::json_response(std::move(body));
}

reply systemd_status(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  std::string action_text = body->string("action");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto action = units::parse_unit_action(action_text);
  if (!action) co_return http::problem_response(action.error());
  if (auto allowed = units::check_unit_action(name, *action); !allowed)
    co_return http::problem_response(allowed.error());

  auto manager = co_await context.services.systemd().manager(context.services.bus());
  if (!manager) co_return http::problem_response(manager.error());
  systemd::systemd_manager& m = **manager;
  std::string_view verb = units::to_string(*action);
  // Named arguments throughout: GCC 12 mishandles defaulted by-value coroutine arguments.
  const std::string mode = "replace";
  result<std::string> job = std::string();
  if (*action == units::unit_action::start) {
    job = co_await m.start_unit(name, mode);
  } else if (*action == units::unit_action::stop) {
    job = co_await m.stop_unit(name, mode);
  } else {
    job = co_await m.restart_unit(name, mode);
  }
  if (!job) co_return http::problem_response(job.error());
  if (*job != "done") co_return http::problem_response(job_problem(verb, name, *job));
  co_return http::empty_response();
}

reply systemd_logs_tail(request_context& context) {
  auto query = jq::parse_tail_query(context.query);
  if (!query) co_return http::problem_response(query.error());
  auto found = co_await context.services.systemd().tail(std::move(*query));
  if (!found) co_return http::problem_response(found.error());

  const long utc_offset = local_utc_offset();
  std::string body;
  body.reserve(found->size() * 1024 + 64);
  json_writer writer(body);
  writer.begin_object().key("entries").begin_array();
  for (const auto& e : *found) write_journal_entry(writer, e, utc_offset);
  writer.end_array();
  // "" rather than a default string_view: the writer copies from data(), which must not be null.
  writer.key("cursor").value(found->empty() ? std::string_view("") : std::string_view(found->front().cursor));
  writer.key("end_cursor").value(found->empty() ? std::string_view("") : std::string_view(found->back().cursor));
  writer.end_object();
  co_return http::json_response(std::move(body));
}

reply systemd_logs(request_context& context) {
  auto query = jq::parse_stream_query(context.query, context.request["Last-Event-ID"]);
  if (!query) co_return http::problem_response(query.error());
  if (context.request.method() == http::verb::head) {
    // The stream's headers and no stream: HEAD must not hold a viewer open.
    http::response head = http::text_response({}, "text/event-stream");
    head.set(boost::beast::http::field::cache_control, "no-cache");
    co_return head;
  }
  auto served =
      co_await context.services.systemd().logs().serve(context, std::move(*query), max_log_viewers(context.services));
  if (!served) co_return http::problem_response(served.error());
  co_return http::empty_response();
}

namespace contracts {

const contract& systemd_units() {
  static const contract c{.response = schema::page(unit_schema())};
  return c;
}

const contract& systemd_status() {
  using namespace schema;
  // 404 for a unit systemd does not know, 409 for a masked one, 502 for a job that did not end
  // "done".
  static const contract c{
      .request = request({{"name", string({.max_length = 256})}, {"action", string({.max_length = 32})}}),
      .media_type = "",
      .problems = {404, 409, 502}};
  return c;
}

const contract& systemd_logs_tail() {
  using namespace schema;
  // 422 for a query parameter out of its rules; 429 when the journal scans are all taken.
  static const contract c{.response = object({{"entries", array(journal_entry_schema())},
                                              {"cursor", describe(string(), "the first entry's; \"\" when none")},
                                              {"end_cursor", describe(string(), "the last entry's; \"\" when none")}}),
                          .problems = {422, 429}};
  return c;
}

const contract& systemd_logs() {
  // server/log_stream.cpp: one unnamed event per entry (its id the entry's cursor); keepalives and
  // the slow-reader notice are comments.
  static const contract c{.media_type = "",
                          .events = {{"", journal_entry_schema(), "a journal entry; the event's id is its cursor"}},
                          .problems = {422}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
