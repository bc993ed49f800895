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

reply openapi(request_context& context) {
  // The routes by path, in the order each path first appears in the table.
  std::vector<std::pair<std::string_view, std::vector<const route*>>> paths;
  for (const route& r : context.services.routes().routes()) {
    auto item = std::find_if(paths.begin(), paths.end(), [&r](const auto& p) { return p.first == r.path; });
    if (item == paths.end()) item = paths.insert(paths.end(), {r.path, {}});
    item->second.push_back(&r);
  }
  auto problem_content = [](json_writer& w) {
    w.key("content").begin_object().key("application/problem+json").begin_object();
    w.key("schema").begin_object().key("$ref").value("#/components/schemas/problem").end_object();
    w.end_object().end_object();
  };
  auto write_operation = [&problem_content](json_writer& w, const route& r, std::string_view method) {
    w.begin_object().key("operationId").value(operation_id(method, r.path)).key("summary").value(r.summary);
    if (r.path.ends_with(rest_of_path)) {
      w.key("parameters").begin_array().begin_object();
      w.key("name").value("path").key("in").value("path").key("required").value(true);
      w.key("description").value("the rest of the path, passed on");
      w.key("schema").begin_object().key("type").value("string").end_object();
      w.end_object().end_array();
    }
    w.key("x-auth-level").value(to_string(r.auth));
    // Public routes say so (no requirement); the others take the session token. The local root
    // peer on the Unix socket needs none (x-auth-level says who may call).
    w.key("security").begin_array();
    if (r.auth != auth_level::public_access) w.begin_object().key("bearer").begin_array().end_array().end_object();
    w.end_array();
    w.key("responses").begin_object();
    w.key("200").begin_object().key("description").value("success").end_object();
    w.key("4XX").begin_object().key("description").value("the request was refused (problem+json)");
    problem_content(w);
    w.end_object();
    w.key("default").begin_object().key("description").value("problem");
    problem_content(w);
    w.end_object();
    w.end_object().end_object();
  };
  co_return http::json_response(json_string([&](json_writer& w) {
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
        write_operation(w, *r, method);
      }
      w.end_object();
    }
    w.end_object();
    w.key("components").begin_object().key("schemas").begin_object().key("problem").begin_object();
    w.key("type").value("object").key("required").value(std::vector<std::string>{"type", "title", "status", "detail"});
    w.key("properties").begin_object();
    for (auto [name, type] : {std::pair{"type", "string"}, std::pair{"title", "string"}, std::pair{"status", "integer"},
                              std::pair{"detail", "string"}, std::pair{"errors", "array"}}) {
      w.key(name).begin_object().key("type").value(type).end_object();
    }
    w.end_object().end_object().end_object();
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

}  // namespace sc::server::handlers
