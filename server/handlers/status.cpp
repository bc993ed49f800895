#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "adapters/crypto/local_ca.hpp"
#include "adapters/process/spawn.hpp"
#include "adapters/store/account_store.hpp"
#include "adapters/store/package_store.hpp"
#include "adapters/store/repository_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "server/app.hpp"
#include "server/catalog.hpp"
#include "server/handlers/handlers.hpp"
#include "server/identity.hpp"
#include "server/lifecycle.hpp"
#include "server/storage_service.hpp"
#include "server/systemd_service.hpp"

namespace sc::server::handlers {

reply health(request_context& context) {
  double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - context.services.started()).count();
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object().key("status").value("ok").key("uptime_seconds").value(uptime).end_object();
  }));
}

reply ready(request_context& context) {
  json_members checks;
  std::string down;
  for (const auto& [name, failure] : context.services.readiness()) {
    checks.set_string(name, failure.empty() ? std::string_view("ok") : std::string_view(failure));
    if (!failure.empty()) down += (down.empty() ? "" : "; ") + name + ": " + failure;
  }
  if (!down.empty()) {
    problem p = problem::unavailable("not ready: " + down);
    for (const auto& [name, failure] : context.services.readiness()) {
      if (!failure.empty()) p.errors.push_back({name, failure});
    }
    co_return http::problem_response(p);
  }
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object().key("status").value("ready").key("checks");
    checks.write(w);
    w.end_object();
  }));
}

reply metrics_text(request_context& context) {
  metrics::gauges extra;
  extra.running_children = process::running_children();
  const auto children = process::children_awaited();
  extra.children_awaited = children.count;
  extra.children_wait_seconds = static_cast<double>(children.wait_nanoseconds) / 1e9;
  extra.systemd_wait_seconds = static_cast<double>(systemd::manager_wait_nanoseconds()) / 1e9;
  extra.package_start_wait_seconds = std::chrono::duration<double>(context.services.lifecycle().start_wait()).count();
  extra.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - context.services.started()).count();
  extra.start_time_seconds = context.services.start_time_unix();
  const auto& budget = context.services.accounts().hashing_budget();
  extra.hash_memory_budget = budget.total_kib() * 1024;
  extra.hash_memory_in_use = budget.in_use_kib() * 1024;
  extra.hash_memory_peak = budget.peak_kib() * 1024;
  extra.hash_waiting = budget.waiting();
  extra.upgrades_available = context.services.lifecycle().upgrades().size();
  co_return http::text_response(context.services.counters().render(context.services.routes().routes(), extra),
                                "text/plain; version=0.0.4; charset=utf-8");
}

// The local CA's certificate, for devices to trust (issue 15; beyond the reference). Public: it is
// what a device fetches before it trusts anything here.
reply tls_ca_certificate(request_context& context) {
  const auto* ca = context.services.tls_ca();
  if (ca == nullptr) {
    co_return http::problem_response(
        problem::unavailable("the local certificate authority is not available: " + context.services.tls_ca_problem()));
  }
  auto response = http::text_response(ca->certificate_pem(), "application/x-x509-ca-cert");
  response.set(boost::beast::http::field::content_disposition, "attachment; filename=\"town-os-ca.crt\"");
  co_return response;
}

namespace {

// "post" + "/packages/rebuild-git" → "postPackagesRebuildGit": unique, since (method, path) is.
std::string operation_id(std::string_view method, std::string_view path) {
  std::string id(method);
  bool upper = true;
  for (char c : path) {
    if (c == '/' || c == '-' || c == '.' || c == '_' || c == '{' || c == '}') {
      upper = true;
      continue;
    }
    id += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return id;
}

}  // namespace

namespace {

// The problem+json body (core/problem.cpp, RFC 9457) every refusal and failure carries.
schema::type problem_schema() {
  using namespace schema;
  return component(
      "problem",
      object({{"type", string()},
              {"title", string()},
              {"status", integer(400, 599)},
              {"detail", string()},
              optional("errors", array(object({{"field", string()}, {"message", string()}}))),
              optional("journal", describe(array(string()), "the unit's last journal lines, when a unit failed")),
              optional("instance", describe(string(), "5xx: this request's URN, also in the server's log line"))}));
}

std::string_view reason(int status) {
  switch (status) {
    case 400:
      return "the request is malformed or a required member is missing";
    case 401:
      return "no valid session token";
    case 403:
      return "the caller may not do this";
    case 404:
      return "the named thing does not exist";
    case 409:
      return "the request conflicts with the current state";
    case 411:
      return "the body needs a Content-Length";
    case 413:
      return "the body is too large";
    case 415:
      return "the body's media type is not accepted";
    case 431:
      return "the request header is too large";
    case 422:
      return "a member breaks a rule (errors[] names each)";
    case 429:
      return "too many attempts; retry after the Retry-After seconds";
    case 502:
      return "an upstream (a repository, a registry, a service) failed";
    case 503:
      return "a part the route needs is down (see /ready)";
    case 504:
      return "the route's deadline passed";
    default:
      break;
  }
  return "the request failed";
}

// Statuses the route may answer with a problem, in order: the transport's for any request (400
// malformed, 413 too large, 431 header too large), 403 (the grant fence), those of its auth level
// and its body, its own, and 500/503/504 (a fault, a part down, a deadline).
std::vector<int> problem_statuses(const route& r, const contract& c) {
  std::vector<int> out = c.problems;
  out.insert(out.end(), {400, 413, 431});
  if (c.request || r.streams_body) out.push_back(422);
  // An account holding grants is fenced in on every route it may not use, public ones too.
  out.push_back(403);
  switch (r.auth) {
    case auth_level::public_access:
      break;
    case auth_level::authenticated:
      out.push_back(401);
      break;
    case auth_level::admin:
    case auth_level::bootstrap_or_admin:
    case auth_level::local_only:
    case auth_level::admin_or_metrics:
      out.insert(out.end(), {401, 403});
      break;
  }
  out.insert(out.end(), {500, 503, 504});
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void write_operation(json_writer& w, const route& r, std::string_view method, schema::component_set& components) {
  const contract& c = contract_of(r);
  w.begin_object().key("operationId").value(operation_id(method, r.path)).key("summary").value(r.summary);
  if (r.path.ends_with(rest_of_path)) {
    w.key("parameters").begin_array().begin_object();
    w.key("name").value("path").key("in").value("path").key("required").value(true);
    w.key("description").value("the rest of the path, passed on");
    w.key("schema").begin_object().key("type").value("string").end_object();
    w.end_object().end_array();
  }
  if (c.request) {
    w.key("requestBody").begin_object().key("required").value(!c.request_optional).key("content").begin_object();
    w.key("application/json").begin_object().key("schema");
    schema::write(w, c.request, components);
    w.end_object().end_object().end_object();
  } else if (r.streams_body) {
    w.key("requestBody").begin_object().key("required").value(true).key("content").begin_object();
    w.key("multipart/form-data").begin_object().key("schema").begin_object().key("type").value("object");
    w.end_object().end_object().end_object().end_object();
  }
  w.key("x-auth-level").value(to_string(r.auth));
  // Public routes say so (no requirement); the others take the session token. The local root
  // peer on the Unix socket needs none (x-auth-level says who may call).
  w.key("security").begin_array();
  if (r.auth != auth_level::public_access) w.begin_object().key("bearer").begin_array().end_array().end_object();
  w.end_array();
  w.key("responses").begin_object();
  w.key("200").begin_object().key("description").value(c.events.empty() ? "success" : "success, or a stream of events");
  w.key("content").begin_object();
  if (!c.media_type.empty()) {
    w.key(c.media_type).begin_object().key("schema");
    if (c.response) {
      schema::write(w, c.response, components);
    } else {
      w.begin_object().key("type").value("string").end_object();
    }
    w.end_object();
  }
  if (!c.events.empty()) {
    // OpenAPI 3.1 has no words for a stream's events: the body is text, and x-events gives each
    // event's name and the shape of its data (one JSON value per `data:` line).
    w.key("text/event-stream").begin_object().key("schema").begin_object().key("type").value("string");
    w.key("description").value("Server-Sent Events; x-events gives the shape of each event's data").end_object();
    w.key("x-events").begin_array();
    for (const schema::event& e : c.events) {
      w.begin_object().key("event").value(e.name.empty() ? "message" : e.name);
      if (!e.description.empty()) w.key("description").value(e.description);
      w.key("data");
      schema::write(w, e.data, components);
      w.end_object();
    }
    w.end_array().end_object();
  }
  w.end_object().end_object();
  for (int status : problem_statuses(r, c)) {
    w.key(std::to_string(status)).begin_object().key("description").value(reason(status));
    w.key("content").begin_object().key("application/problem+json").begin_object();
    w.key("schema").begin_object().key("$ref").value("#/components/schemas/problem").end_object();
    w.end_object().end_object().end_object();
  }
  w.end_object().end_object();
}

}  // namespace

reply openapi(request_context& context) {
  // The routes by path, in the order each path first appears in the table.
  std::vector<std::pair<std::string_view, std::vector<const route*>>> paths;
  for (const route& r : context.services.routes().routes()) {
    auto item = std::find_if(paths.begin(), paths.end(), [&r](const auto& p) { return p.first == r.path; });
    if (item == paths.end()) item = paths.insert(paths.end(), {r.path, {}});
    item->second.push_back(&r);
  }
  co_return http::json_response(json_string([&](json_writer& w) {
    schema::component_set components{{"problem", problem_schema()}};
    w.begin_object().key("openapi").value("3.1.0");
    w.key("info").begin_object().key("title").value("Town OS systemcontroller").key("version").value("0.1.0");
    w.key("description")
        .value("The control plane of a Town OS home server: accounts, storage, packages, units, logs and settings.");
    w.end_object();
    w.key("servers").begin_array().begin_object();
    w.key("url").value("/").key("description").value("this controller").end_object().end_array();
    w.key("security").begin_array().begin_object().key("bearer").begin_array().end_array().end_object().end_array();
    w.key("paths").begin_object();
    for (const auto& [path, routes] : paths) {
      w.key(path).begin_object();
      for (const route* r : routes) {
        std::string method(boost::beast::http::to_string(r->method));
        for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        w.key(method);
        write_operation(w, *r, method, components);
      }
      w.end_object();
    }
    w.end_object();
    w.key("components").begin_object().key("schemas").begin_object();
    schema::write_components(w, components);
    w.end_object();
    w.key("securitySchemes").begin_object().key("bearer").begin_object();
    w.key("type").value("http").key("scheme").value("bearer").end_object().end_object();
    w.end_object().end_object();
  }));
}

reply status_ping(request_context& context) {
  // behavior-core.md §5.1: anonymous callers get the minimal form; a valid session or the local
  // root peer gets the dashboard. Subsystems that do not exist yet report honest zeros.
  app& services = context.services;
  bool needs_setup = services.auth().bootstrap_open();
  if (!context.caller) {
    auto response = http::json_response(json_string([&](json_writer& w) {
      w.begin_object().key("status").value("ok");
      if (needs_setup) w.key("needs_setup").value(true);
      if (!services.boot_id().empty()) w.key("boot_id").value(services.boot_id());
      w.end_object();
    }));
    response.set(boost::beast::http::field::cache_control, "no-store");
    co_return response;
  }
  identity& ids = services.accounts();
  std::int64_t now = ids.now();
  std::time_t t = static_cast<std::time_t>(now);
  std::tm local{};
  ::localtime_r(&t, &local);
  std::string locale = "en-US";  // a copy: the settings may change while the reads below wait
  if (auto stored = services.system_settings().get("locale"); stored && !stored->empty()) locale = *stored;

  // The parts that wait (btrfs, D-Bus) first: nothing read above is kept across them. A part that
  // is down leaves its fields at zero or out (its reason is in /ready); the dashboard still loads.
  auto volumes = co_await services.storage().counts();
  auto unit_summary = co_await services.systemd().summary(services.bus());
  struct statvfs disk {};
  const bool have_disk = ::statvfs(services.settings().btrfs_root.c_str(), &disk) == 0;

  const auto upgrades = services.lifecycle().upgrades();
  const auto& caller = *context.caller;
  auto response = http::json_response(json_string([&](json_writer& w) {
    using count = std::uint64_t;
    w.begin_object().key("status").value("ok");
    w.key("filesystems").value(count{volumes ? volumes->filesystems : 0});
    w.key("repositories").value(count{services.packages().repositories().list().size()});
    w.key("packages").value(count{services.packages().snapshot()->package_count()});
    w.key("installed").value(count{services.lifecycle().records().installed().size()});
    w.key("accounts").value(count{ids.all().size()});
    w.key("admins").value(count{ids.enabled_admins()});
    auto units = [&w](const systemd_service::unit_counts& counts) {
      w.begin_object().key("total").value(count{counts.total}).key("active").value(count{counts.active});
      w.key("failed").value(count{counts.failed}).end_object();
    };
    if (unit_summary) {
      w.key("units");
      units(unit_summary->packages);
      if (unit_summary->system.total != 0) {
        w.key("system_services");
        units(unit_summary->system);
      }
    }
    w.key("recent_errors")
        .value(store::count_recent_audit_failures(services.database(), sessions::format_timestamp(now - 300)));
    if (needs_setup) w.key("needs_setup").value(true);
    if (!caller.username.empty()) w.key("username").value(caller.username);
    w.key("installed_volumes").value(count{volumes ? volumes->installed : 0});
    w.key("uninstalled_volumes").value(count{volumes ? volumes->uninstalled : 0});
    if (have_disk) {
      const std::uint64_t block = disk.f_frsize;
      w.key("disk_usage").begin_object();
      w.key("total").value(static_cast<std::uint64_t>(disk.f_blocks) * block);
      w.key("used").value(static_cast<std::uint64_t>(disk.f_blocks - disk.f_bfree) * block);
      w.key("available").value(static_cast<std::uint64_t>(disk.f_bavail) * block);
      w.end_object();
    }
    w.key("upgrades_available").value(count{upgrades.size()});
    if (services.lifecycle().upgrades_dismissed(upgrades)) w.key("upgrades_dismissed").value(true);
    if (auto errors = services.packages().errors(); !errors.empty()) {
      json_members repository_errors;
      for (const auto& [name, error] : errors) repository_errors.set_string(name, error);
      w.key("repository_errors");
      repository_errors.write(w);
    }
    w.key("timezone_offset").value(static_cast<std::int64_t>(local.tm_gmtoff / 60));
    w.key("locale").value(locale).key("proton_enabled").value(false);
    if (!services.boot_id().empty()) w.key("boot_id").value(services.boot_id());
    w.end_object();
  }));
  response.set(boost::beast::http::field::cache_control, "no-store");
  co_return response;
}

namespace contracts {

const contract& health() {
  using namespace schema;
  static const contract c{.response = object({{"status", enumeration({"ok"})}, {"uptime_seconds", number()}})};
  return c;
}

const contract& ready() {
  using namespace schema;
  static const contract c{
      .response =
          object({{"status", enumeration({"ready"})},
                  {"checks", describe(map(enumeration({"ok"})), "every part checked (one down makes this a 503)")}})};
  return c;
}

const contract& metrics_text() {
  static const contract c{.media_type = "text/plain"};
  return c;
}

const contract& openapi() {
  static const contract c{.response = schema::any("the OpenAPI 3.1 document")};
  return c;
}

const contract& tls_ca_certificate() {
  static const contract c{.media_type = "application/x-x509-ca-cert"};
  return c;
}

const contract& status_ping() {
  using namespace schema;
  static const contract c{.response = [] {
    type counts = component("status_unit_counts",
                            object({{"total", integer(0)}, {"active", integer(0)}, {"failed", integer(0)}}));
    type anonymous =
        object({{"status", enumeration({"ok"})}, optional("needs_setup", boolean()), optional("boot_id", string())});
    // units and disk_usage are left out while their part is down (its reason is in /ready).
    type dashboard = object(
        {{"status", enumeration({"ok"})},
         {"filesystems", integer(0)},
         {"repositories", integer(0)},
         {"packages", integer(0)},
         {"installed", integer(0)},
         {"accounts", integer(0)},
         {"admins", integer(0)},
         optional("units", counts),
         optional("system_services", counts),
         {"recent_errors", integer(0)},
         optional("needs_setup", boolean()),
         optional("username", string()),
         {"installed_volumes", integer(0)},
         {"uninstalled_volumes", integer(0)},
         optional("disk_usage", object({{"total", integer(0)}, {"used", integer(0)}, {"available", integer(0)}})),
         {"upgrades_available", integer(0)},
         optional("upgrades_dismissed", boolean()),
         optional("repository_errors", map(string())),
         {"timezone_offset", describe(integer(), "minutes east of UTC")},
         {"locale", string()},
         {"proton_enabled", boolean()},
         optional("boot_id", string())});
    return one_of(
        {describe(anonymous, "without a session"), describe(dashboard, "with a session, or the local root peer")});
  }()};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
