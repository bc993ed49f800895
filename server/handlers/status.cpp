#include <sys/statvfs.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
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

namespace json = boost::json;

reply health(request_context& context) {
  double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - context.services.started()).count();
  co_return http::json_text_response(json_string([&](json_writer& w) {
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
  co_return http::json_text_response(json_string([&](json_writer& w) {
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

reply openapi(request_context& context) {
  json::object paths;
  const json::object problem_content{
      {"application/problem+json", json::object{{"schema", json::object{{"$ref", "#/components/schemas/problem"}}}}}};
  for (const route& r : context.services.routes().routes()) {
    std::string method(boost::beast::http::to_string(r.method));
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json::object operation;
    operation["operationId"] = operation_id(method, r.path);
    operation["summary"] = r.summary;
    if (r.path.ends_with(rest_of_path)) {
      operation["parameters"] = json::array{json::object{{"name", "path"},
                                                         {"in", "path"},
                                                         {"required", true},
                                                         {"description", "the rest of the path, passed on"},
                                                         {"schema", json::object{{"type", "string"}}}}};
    }
    operation["x-auth-level"] = to_string(r.auth);
    // Public routes say so (no requirement); the others take the session token. The local root
    // peer on the Unix socket needs none (x-auth-level says who may call).
    operation["security"] =
        r.auth == auth_level::public_access ? json::array{} : json::array{json::object{{"bearer", json::array{}}}};
    json::object responses;
    responses["200"] = json::object{{"description", "success"}};
    responses["4XX"] =
        json::object{{"description", "the request was refused (problem+json)"}, {"content", problem_content}};
    responses["default"] = json::object{{"description", "problem"}, {"content", problem_content}};
    operation["responses"] = std::move(responses);
    auto& item = paths[r.path];
    if (!item.is_object()) item = json::object{};
    item.as_object()[method] = std::move(operation);
  }
  json::object problem_schema{{"type", "object"},
                              {"required", json::array{"type", "title", "status", "detail"}},
                              {"properties", json::object{{"type", json::object{{"type", "string"}}},
                                                          {"title", json::object{{"type", "string"}}},
                                                          {"status", json::object{{"type", "integer"}}},
                                                          {"detail", json::object{{"type", "string"}}},
                                                          {"errors", json::object{{"type", "array"}}}}}};
  json::object document{
      {"openapi", "3.1.0"},
      {"info", json::object{{"title", "Town OS systemcontroller"},
                            {"version", "0.1.0"},
                            {"description",
                             "The control plane of a Town OS home server: accounts, storage, "
                             "packages, units, logs and settings."}}},
      {"servers", json::array{json::object{{"url", "/"}, {"description", "this controller"}}}},
      {"security", json::array{json::object{{"bearer", json::array{}}}}},
      {"paths", std::move(paths)},
      {"components", json::object{{"schemas", json::object{{"problem", std::move(problem_schema)}}},
                                  {"securitySchemes",
                                   json::object{{"bearer", json::object{{"type", "http"}, {"scheme", "bearer"}}}}}}}};
  co_return http::json_response(document);
}

reply status_ping(request_context& context) {
  // behavior-core.md §5.1: anonymous callers get the minimal form; a valid session or the local
  // root peer gets the dashboard. Subsystems that do not exist yet report honest zeros.
  app& services = context.services;
  bool needs_setup = services.auth().bootstrap_open();
  if (!context.caller) {
    auto response = http::json_text_response(json_string([&](json_writer& w) {
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
  auto response = http::json_text_response(json_string([&](json_writer& w) {
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

}  // namespace sc::server::handlers
