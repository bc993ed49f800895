#pragma once
// The running controller: configuration, the adapters it owns, the route table, counters, and the
// dispatcher that turns a request into a response (route → auth → handler → problem mapping).
// Everything here lives on the one loop thread.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/pool/work_pool.hpp"
#include "server/config.hpp"
#include "server/metrics.hpp"
#include "server/router.hpp"

namespace sc::store {
class database;
class repository_store;
class settings_store;
class audit_store;
class audit_pruner;
class page_store;
}  // namespace sc::store
namespace sc::crypto {
class local_ca;
}
namespace sc::file_io {
class file_ring;
}
namespace sc::systemd {
class bus_connection;
}

namespace sc::server {

struct connection;
class identity;
class catalog;
class storage_service;
class systemd_service;
class lifecycle;
class system_services;
class dns_service;
class ingress_service;
class monitoring_service;
class vm_image_store;
class pages_service;

// How sessions are checked. The accounts layer installs these; until then no token is valid and
// the bootstrap window is open.
struct auth_hooks {
  std::function<std::optional<principal>(std::string_view token)> validate_token;
  std::function<bool()> bootstrap_open;
  // The metrics credential (server/monitoring_service.hpp); unset: none.
  std::function<bool(std::string_view token)> is_metrics_credential;
};

class app {
 public:
  app(boost::asio::io_context& io, config settings);
  ~app();
  app(const app&) = delete;
  app& operator=(const app&) = delete;

  // Opens the store and connects the adapters. Listeners are started by `serve`.
  result<void> open();
  // Binds the listeners (socket activation, TCP, Unix) and starts accepting.
  result<void> serve();
  // Graceful stop: stop accepting, let in-flight requests finish within the grace period, end
  // streams, then close what is left. Completes by letting io.run() return.
  void request_stop();
  bool stopping() const noexcept { return stopping_; }
  // The stop has completed: no connection is left and long-lived watchers are released.
  bool stopped() const noexcept { return stopped_; }
  // Called once, when stopping and the last connection has closed (main cancels its signal set).
  void on_stopped(std::function<void()> callback) { on_stopped_ = std::move(callback); }
  // A connection closed; finishes the stop when it was the last one (server/connection.cpp).
  void connection_finished();

  // Route → auth → handler (under its deadline and cancellation slot) → problem mapping, then
  // CORS and audit. Every 5xx is logged here, once, with the request's id, and its problem carries
  // the same id in `instance` (request_urn).
  boost::asio::awaitable<http::response> dispatch(request_context& context);
  std::uint64_t next_request_id() noexcept { return ++last_request_id_; }
  // "urn:request:<boot id prefix>-<id>": unique across restarts, quoted in logs and problems.
  std::string request_urn(std::uint64_t id) const;

  boost::asio::io_context& io() noexcept { return io_; }
  const config& settings() const noexcept { return settings_; }
  const router& routes() const noexcept { return router_; }
  metrics& counters() noexcept { return metrics_; }
  store::database& database() noexcept { return *database_; }
  // Bulk file I/O on this loop (uploads, downloads): io_uring, or its thread-pool fallback.
  file_io::file_ring& files() noexcept { return *files_; }
  // The D-Bus connection systemd is reached through; null when it could not be made (see /ready).
  systemd::bus_connection* bus() noexcept { return bus_.get(); }
  auth_hooks& auth() noexcept { return auth_; }
  // Accounts and sessions (server/identity.hpp); installs the auth hooks. Open after open().
  server::identity& accounts() noexcept { return *identity_; }
  // System settings, cached in memory (reads never touch SQLite). Open after open().
  store::settings_store& system_settings() noexcept { return *settings_store_; }
  // The audit log. dispatch() records every mutating request itself (core/audit.hpp says which,
  // authentication attempts included); call audit().record() only for events that are not requests.
  store::audit_store& audit() noexcept { return *audit_; }
  // Package repositories and the in-memory package catalog (server/catalog.hpp). Open after open().
  server::catalog& packages() noexcept { return *catalog_; }
  // Storage and archives (issue 5): btrfs volumes under --btrfs-root, the archive pool, systemd.
  server::storage_service& storage() noexcept { return *storage_; }
  // The VM image cache (server/vm_image_store.hpp), in the vm-images subvolume.
  server::vm_image_store& vm_images() noexcept { return *vm_images_; }
  // Static pages (server/pages_service.hpp): the pages table, their content, what the ingress serves.
  server::pages_service& pages() noexcept { return *pages_; }
  // The CORS headers dispatch() adds, for a response a handler writes itself (streamed downloads).
  void add_cors_headers_to(const http::request& request, http::response& response) const {
    add_cors_headers(request, response);
  }
  // A setting was stored (POST /settings/set): refreshes what derives from it (dns_tld → CORS hosts).
  void setting_changed(std::string_view key);
  // The hosts whose origins CORS accepts (core/cors.hpp): configured + localhost + hostname forms.
  const std::vector<std::string>& cors_allowed_hosts() const noexcept { return cors_hosts_; }
  // The systemd manager and the live log streams (server/systemd_service.hpp).
  systemd_service& systemd() noexcept { return *systemd_; }
  // Installed packages and their operations (server/lifecycle.hpp).
  server::lifecycle& lifecycle() noexcept { return *lifecycle_; }
  // The local CA (null when it could not be opened; `tls_ca_problem` says why).
  const crypto::local_ca* tls_ca() const noexcept { return tls_ca_.get(); }
  const std::string& tls_ca_problem() const noexcept { return tls_ca_problem_; }
  // System services (server/system_services.hpp) and the DNS zone (server/dns_service.hpp).
  server::system_services& services() noexcept { return *system_services_; }
  server::dns_service& dns() noexcept { return *dns_; }
  // The HTTPS ingress (server/ingress_service.hpp); null when it is not one of the system services.
  server::ingress_service* ingress() noexcept { return ingress_.get(); }
  // Monitoring (server/monitoring_service.hpp); null when Prometheus is not one of the system services.
  server::monitoring_service* monitoring() noexcept { return monitoring_.get(); }
  const std::string& boot_id() const noexcept { return boot_id_; }
  std::chrono::steady_clock::time_point started() const noexcept { return started_; }
  double start_time_unix() const noexcept { return start_time_unix_; }

  // Readiness of each dependency: name → empty when healthy, else what is wrong.
  std::vector<std::pair<std::string, std::string>> readiness();

  // Connection registry, for graceful shutdown (server/connection.cpp).
  std::list<connection*>& connections() noexcept { return connections_; }
  // Where the listeners are bound (after serve()); tests connect here.
  std::vector<std::string> bound_addresses() const;

 private:
  struct listeners;
  struct dbus_link;
  boost::asio::io_context& io_;
  config settings_;
  router router_;
  metrics metrics_;
  auth_hooks auth_;
  // Route match, authentication, authorization, handler, problem mapping (dispatch wraps it with
  // CORS and audit).
  boost::asio::awaitable<http::response> route_request(request_context& context);
  // CORS (behavior-core.md §2.6): the preflight answer, and the headers of every other response.
  http::response preflight(const http::request& request) const;
  void add_cors_headers(const http::request& request, http::response& response) const;
  void record_audit(const request_context& context, const http::response& response, std::string detail);
  // The one place a 5xx is logged: with the request id, which is added to the problem's body.
  void log_server_error(const request_context& context, http::response& response) const;
  // Hard phase of shutdown: cancel every handler, close every socket; then the last resort.
  void stop_hard();
  // Audit retention (issue 10 §8): hourly, and soon after audit_prune_threshold inserts, deletes
  // rows outside the audit_retention_days / audit_max_rows settings in batches on the pool.
  boost::asio::awaitable<void> prune_audit_loop();
  static constexpr std::size_t audit_prune_threshold = 10'000;
  result<void> open_packages();
  result<void> open_system_services();

  // The one work pool (adapters/pool/work_pool.hpp), before everything that submits to it. Its
  // queues: argon2id hashes (4 at once, 16 waiting), archive extraction and packing (2 and 2),
  // repository checkout loading and removal (1 and 64), audit retention (1 and 4), journal tail
  // scans (1 and 8).
  pool::work_pool pool_;
  pool::work_queue* hash_queue_ = nullptr;
  pool::work_queue* archive_queue_ = nullptr;
  pool::work_queue* catalog_queue_ = nullptr;
  pool::work_queue* maintenance_queue_ = nullptr;
  pool::work_queue* journal_scan_queue_ = nullptr;
  pool::work_queue* package_files_queue_ = nullptr;  // unit and env files of package installs
  std::unique_ptr<store::database> database_;
  std::unique_ptr<store::settings_store> settings_store_;
  std::unique_ptr<store::audit_store> audit_;
  std::shared_ptr<store::audit_pruner> audit_pruner_;  // used by one maintenance_queue_ job at a time
  std::unique_ptr<server::identity> identity_;         // after database_: it writes through to it
  std::unique_ptr<store::repository_store> repositories_;
  std::unique_ptr<server::catalog> catalog_;  // after repositories_: it reads and writes them
  std::string hostname_;
  std::unique_ptr<crypto::local_ca> tls_ca_;
  std::string tls_ca_problem_;
  std::vector<std::string> cors_hosts_;
  std::unique_ptr<file_io::file_ring> files_;
  std::unique_ptr<systemd::bus_connection> bus_;
  std::unique_ptr<server::storage_service> storage_;
  std::unique_ptr<server::vm_image_store> vm_images_;  // uses storage_ and files_: destroyed before them
  std::string bus_error_;
  // Reconnects to D-Bus with backoff after a loss (or a failed first connect), and destroys the
  // lost connection once no request can still hold it (server/app_parts.hpp, app::dbus_link).
  std::unique_ptr<dbus_link> dbus_link_;
  void connect_dbus();
  void dbus_lost();
  void supervise_dbus();
  std::unique_ptr<listeners> listeners_;
  std::list<connection*> connections_;
  std::string boot_id_;
  std::chrono::steady_clock::time_point started_;
  double start_time_unix_ = 0;
  std::uint64_t last_request_id_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  std::function<void()> on_stopped_;
  std::unique_ptr<systemd_service> systemd_;          // its streams report to metrics_ when destroyed
  std::unique_ptr<server::dns_service> dns_;          // reads the lifecycle's records
  std::unique_ptr<server::ingress_service> ingress_;  // reads the lifecycle's records
  std::unique_ptr<server::monitoring_service> monitoring_;
  std::unique_ptr<server::system_services> system_services_;  // runs the three above: destroyed before them
  std::unique_ptr<server::lifecycle> lifecycle_;              // uses the catalog, storage and systemd: goes first
  std::unique_ptr<store::page_store> page_store_;
  std::unique_ptr<server::pages_service> pages_;  // uses page_store_ and storage_; the ingress asks it: first
};

}  // namespace sc::server
