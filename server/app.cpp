#include "server/app.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <system_error>

#include "adapters/asio/completion.hpp"
#include "adapters/crypto/local_ca.hpp"
#include "adapters/file_io/file_ring.hpp"
#include "adapters/pool/work_pool.hpp"
#include "adapters/process/spawn.hpp"
#include "adapters/store/audit_store.hpp"
#include "adapters/store/database.hpp"
#include "adapters/store/page_store.hpp"
#include "adapters/store/repository_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "adapters/systemd/bus.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/cors.hpp"
#include "core/ingress.hpp"
#include "core/log.hpp"
#include "core/required_programs.hpp"
#include "server/app_parts.hpp"
#include "server/catalog.hpp"
#include "server/connection.hpp"
#include "server/dns_service.hpp"
#include "server/identity.hpp"
#include "server/ingress_service.hpp"
#include "server/lifecycle.hpp"
#include "server/monitoring_service.hpp"
#include "server/pages_service.hpp"
#include "server/storage_service.hpp"
#include "server/system_services.hpp"
#include "server/systemd_service.hpp"
#include "server/vm_image_store.hpp"

namespace sc::server {

namespace asio = boost::asio;
namespace {

std::string make_boot_id() {
  sd_id128_t id;
  if (sd_id128_randomize(&id) < 0) return {};
  char text[SD_ID128_UUID_STRING_MAX];
  return sd_id128_to_uuid_string(id, text);
}

}  // namespace

app::app(asio::io_context& io, config settings)
    : io_(io),
      settings_(std::move(settings)),
      router_(build_routes()),
      metrics_(router_.routes().size()),
      boot_id_(make_boot_id()),
      started_(std::chrono::steady_clock::now()),
      start_time_unix_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {
  auth_.validate_token = [](std::string_view) { return std::optional<principal>{}; };
  auth_.bootstrap_open = [] { return true; };
  hash_queue_ = &pool_.add_queue("hashing", 4, 16);
  archive_queue_ = &pool_.add_queue("archives", 2, 2);
  catalog_queue_ = &pool_.add_queue("catalog", 1, 64);
  maintenance_queue_ = &pool_.add_queue("maintenance", 1, 4);
  journal_scan_queue_ = &pool_.add_queue("journal scans", 1, 8);
  package_files_queue_ = &pool_.add_queue("package files", 1, 64);
  systemd_ = std::make_unique<systemd_service>(io_, metrics_, *journal_scan_queue_);
  dbus_link_ = std::make_unique<dbus_link>(io_);
}

app::~app() = default;

// Package repositories (issue 6). The first boot seeds the default repository: SC_DEFAULT_REPOSITORY
// overrides its URL (tests point it at a local fixture; empty seeds nothing).
result<void> app::open_packages() {
  std::optional<packages::repository> seed;
  const char* configured = std::getenv("SC_DEFAULT_REPOSITORY");
  std::string seed_url = configured != nullptr ? configured : "https://github.com/town-os/default-packages";
  if (!seed_url.empty()) {
    auto parsed = packages::parse_repository_url(seed_url);
    if (!parsed) return problem::internal_error("SC_DEFAULT_REPOSITORY: " + parsed.error().detail);
    seed = packages::repository{"default", parsed->url, parsed->username, parsed->password};
  }
  auto opened = store::repository_store::open(*database_, std::move(seed));
  if (!opened) return opened.error();
  repositories_ = std::move(*opened);
  catalog::options options;
  options.directory = std::filesystem::path(settings_.state_dir) / "repositories";
  options.interval = [this] {
    return std::chrono::seconds(
        std::max<std::int64_t>(settings_store_->integer("repository_refresh_interval", 300), 60));
  };
  catalog_ = std::make_unique<catalog>(io_, *repositories_, *catalog_queue_, std::move(options));
  catalog_->start();

  lifecycle::options lifecycle_options;
  lifecycle_options.unit_dir = settings_.unit_dir;
  lifecycle_options.secrets_dir = std::filesystem::path(settings_.state_dir) / "secrets";
  lifecycle_options.git_seeds_dir = std::filesystem::path(settings_.state_dir) / "git-seeds";
  auto& render = lifecycle_options.render;
  render.btrfs_root = std::filesystem::absolute(storage_->volumes().base()).string();
  render.secrets_directory = std::filesystem::absolute(lifecycle_options.secrets_dir).string();
  if (settings_.systemd_scope == "user") {
    // The sandbox host: no system bus, so podman's helpers get the sandbox's (DESIGN.md).
    render.wanted_by = "default.target";
    if (settings_.bus != "system") render.system_bus_address = settings_.bus;
  }
  struct statfs cgroup_fs {};
  render.split_cgroups = ::statfs("/sys/fs/cgroup", &cgroup_fs) == 0 && cgroup_fs.f_type == CGROUP2_SUPER_MAGIC;
  if (auto subnet = ingress::parse_subnet(settings_.ingress_subnet); !subnet)
    return problem::internal_error("--ingress-subnet: " + subnet.error().detail);
  render.ingress_subnet = settings_.ingress_subnet;
  if (const char* die = std::getenv("SC_TEST_DIE_AT_STEP"); die != nullptr) lifecycle_options.die_at_step = die;
  lifecycle_ = std::make_unique<server::lifecycle>(io_, *database_, *catalog_, *storage_, *systemd_, *settings_store_,
                                                   *package_files_queue_, std::move(lifecycle_options));
  return lifecycle_->open();
}

// System services (issue 15): DNS today. The lifecycle tells the zone about installs and uninstalls.
result<void> app::open_system_services() {
  system_services::options options;
  options.unit_dir = settings_.unit_dir;
  if (settings_.systemd_scope == "user") options.wanted_by = "default.target";
  options.controller_port = [this] {
    for (const auto& address : bound_addresses()) {
      if (address.starts_with("tcp:")) return address.substr(address.rfind(':') + 1);
    }
    auto colon = settings_.listen.rfind(':');
    return colon == std::string::npos ? std::string() : settings_.listen.substr(colon + 1);
  };
  system_services_ = std::make_unique<system_services>(io_, *systemd_, *package_files_queue_, std::move(options));
  std::vector<std::string> enabled;
  for (std::string_view rest = settings_.system_services; !rest.empty();) {
    auto comma = rest.find(',');
    if (auto key = rest.substr(0, comma); !key.empty() && key != "none") enabled.emplace_back(key);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  for (const auto& key : enabled) {
    if (key != "dns" && key != "ingress" && key != "prometheus" && key != "node-exporter")
      return problem::internal_error("unknown system service \"" + key +
                                     "\" (known: dns, ingress, prometheus, node-exporter)");
  }
  auto listen = dns_service::parse_listen(settings_.dns_listen);
  if (!listen) return problem::internal_error("--dns-listen: " + listen.error().detail);
  dns_service::options dns_options;
  dns_options.directory = std::filesystem::path(settings_.state_dir) / "dns";
  dns_options.listen_address = listen->first;
  dns_options.port = listen->second;
  dns_options.served = std::find(enabled.begin(), enabled.end(), "dns") != enabled.end();
  dns_ = std::make_unique<dns_service>(*database_, *settings_store_, *lifecycle_, *package_files_queue_,
                                       std::move(dns_options));
  if (auto opened = dns_->open(); !opened) return opened.error();
  if (dns_->served()) system_services_->add(*dns_);
  lifecycle_->on_installed_changed([this] { return dns_->packages_changed(); });

  if (std::find(enabled.begin(), enabled.end(), "ingress") != enabled.end()) {
    ingress_service::options ingress_options;
    ingress_options.directory = std::filesystem::path(settings_.state_dir) / "ingress";
    auto https = ingress::parse_listen(settings_.ingress_https);
    if (!https) return problem::internal_error("--ingress-https: " + https.error().detail);
    auto http = ingress::parse_listen(settings_.ingress_http);
    if (!http) return problem::internal_error("--ingress-http: " + http.error().detail);
    ingress_options.https = *https;
    ingress_options.http = *http;
    ingress_ = std::make_unique<ingress_service>(*settings_store_, *lifecycle_, tls_ca_.get(), *package_files_queue_,
                                                 std::move(ingress_options));
    system_services_->add(*ingress_);
    lifecycle_->on_installed_changed([this] { return ingress_->packages_changed(); });
  }

  const bool prometheus = std::find(enabled.begin(), enabled.end(), "prometheus") != enabled.end();
  const bool node_exporter = std::find(enabled.begin(), enabled.end(), "node-exporter") != enabled.end();
  if (prometheus || node_exporter) {
    monitoring_service::options monitoring_options;
    monitoring_options.directory = std::filesystem::path(settings_.state_dir) / "monitoring";
    auto prometheus_listen = monitoring_service::parse_loopback_listen(settings_.prometheus_listen);
    if (!prometheus_listen) return problem::internal_error("--prometheus-listen: " + prometheus_listen.error().detail);
    auto exporter_listen = monitoring_service::parse_loopback_listen(settings_.node_exporter_listen);
    if (!exporter_listen) return problem::internal_error("--node-exporter-listen: " + exporter_listen.error().detail);
    monitoring_options.prometheus = *prometheus_listen;
    monitoring_options.node_exporter = *exporter_listen;
    monitoring_options.prometheus_served = prometheus;
    monitoring_options.node_exporter_served = node_exporter;
    // Prometheus scrapes the TCP listener as bound: on loopback when it listens on every address.
    monitoring_options.controller_target = [this] {
      std::string port;
      for (const auto& address : bound_addresses()) {
        if (address.starts_with("tcp:")) port = address.substr(address.rfind(':') + 1);
      }
      const auto colon = settings_.listen.rfind(':');
      std::string host = colon == std::string::npos ? std::string() : settings_.listen.substr(0, colon);
      if (port.empty() && colon != std::string::npos) port = settings_.listen.substr(colon + 1);
      if (port.empty() || port == "0") return std::string();  // --listen none: nothing to scrape
      if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host = "127.0.0.1";
      return host + ":" + port;
    };
    monitoring_ =
        std::make_unique<monitoring_service>(*settings_store_, storage_->volumes(), std::move(monitoring_options));
    if (auto opened = monitoring_->open(); !opened) return opened.error();
    if (node_exporter) system_services_->add(monitoring_->node_exporter());
    if (prometheus) {
      system_services_->add(monitoring_->prometheus());
      auth_.is_metrics_credential = [this](std::string_view token) {
        return monitoring_->is_metrics_credential(token);
      };
    }
  }
  return {};
}

result<void> app::open() {
  files_ = std::make_unique<file_io::file_ring>(io_.get_executor());
  storage_ = std::make_unique<server::storage_service>(settings_.btrfs_root, *archive_queue_);
  vm_image_store::options vm_image_options;
  vm_image_options.download_timeout = settings_.vm_image_download_timeout;
  vm_image_options.allowed = settings_.vm_image_allowed;
  for (const auto& allowed : vm_image_options.allowed) {
    log::warning("VM image downloads may reach " + allowed.address.to_string() +
                 (allowed.port ? ":" + std::to_string(*allowed.port) : std::string(" (any port)")) +
                 " (--vm-image-allow-address: for tests only)");
  }
  vm_images_ = std::make_unique<vm_image_store>(*storage_, *files_, settings_.btrfs_root, std::move(vm_image_options));
  auto opened = store::database::open(settings_.database);
  if (!opened) return opened.error();
  database_ = std::move(*opened);
  auto loaded_settings = store::settings_store::open(*database_);
  if (!loaded_settings) return loaded_settings.error();
  settings_store_ = std::move(*loaded_settings);
  audit_ = std::make_unique<store::audit_store>(*database_);
  if (auto pruner = store::audit_pruner::open(settings_.database); pruner) {
    audit_pruner_ = std::move(*pruner);
  } else {
    log::warning("audit retention is off: " + pruner.error().internal);
  }
  identity::options identity_options;
  identity_options.hash_memory.total_kib = settings_.password_hash_memory / 1024;
  auto opened_identity = identity::open(*database_, io_, *hash_queue_, std::move(identity_options));
  if (!opened_identity) return opened_identity.error();
  identity_ = std::move(*opened_identity);
  // The hooks refer to the service, which lives as long as the app.
  auth_.validate_token = [this](std::string_view token) { return identity_->validate(token); };
  auth_.bootstrap_open = [this] { return identity_->bootstrap_open(); };
  char host_name[256] = {};
  if (::gethostname(host_name, sizeof host_name - 1) == 0) hostname_ = host_name;
  // The local CA the ingress's certificates come from (GET /tls/ca.crt). Without it the API
  // still serves; the route answers 503 naming why.
  if (auto ca = crypto::local_ca::open(std::filesystem::path(settings_.state_dir) / "tls",
                                       "Town OS local CA" + (hostname_.empty() ? "" : " (" + hostname_ + ")"));
      ca) {
    tls_ca_ = std::move(*ca);
  } else {
    tls_ca_problem_ = ca.error().detail;
    log::error("TLS: " + ca.error().detail);
  }
  setting_changed("dns_tld");
  setting_changed("session_lifetime");
  setting_changed("password_hash_memory");
  if (auto opened_packages = open_packages(); !opened_packages) return opened_packages.error();
  if (auto opened_services = open_system_services(); !opened_services) return opened_services.error();
  // Static pages (issue 16): served by the ingress, which asks for them at every write.
  auto page_rows = store::page_store::open(*database_);
  if (!page_rows) return page_rows.error();
  page_store_ = std::move(*page_rows);
  pages_service::options pages_options;
  pages_options.webroot_dir = std::filesystem::path(settings_.state_dir) / "pages-webroot";
  pages_options.git_dir = std::filesystem::path(settings_.state_dir) / "pages-git";
  pages_ = std::make_unique<pages_service>(io_, *page_store_, *storage_, std::move(pages_options));
  dns_->set_page_domains([this] {
    std::vector<std::string> domains;
    for (const auto& p : pages_->all()) domains.push_back(p.domain);
    return domains;
  });
  pages_->on_changed([this] { return dns_->packages_changed(); });
  if (ingress_) {
    ingress_->set_static_sites([this] { return pages_->static_sites(); });
    pages_->on_changed([this] { return ingress_->packages_changed(); });
  }
  log::info(std::string("event loop: sockets on Asio's ") +
#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
            "io_uring backend"
#else
            "epoll reactor"
#endif
            + "; file I/O: " + files_->backend_name() +
            (files_->fallback_reason().empty() ? "" : " (" + std::string(files_->fallback_reason()) + ")"));
  log::info("database " + settings_.database + " at schema version " + std::to_string(database_->schema_version()));
  // Without D-Bus the controller still serves (health, accounts, settings); /ready says what is down
  // and the supervision below keeps trying.
  connect_dbus();
  // Unfinished package operations and reconcile, once the loop runs (they wait for D-Bus).
  lifecycle_->start([this] { return bus_.get(); });
  system_services_->start([this] { return bus_.get(); });
  pages_->start();
  return {};
}

void app::request_stop() {
  if (stopping_) return;
  stopping_ = true;
  if (catalog_) catalog_->stop();
  if (system_services_) system_services_->stop();
  // Package operations stop where they stand (the journal resumes them at the next start); what
  // they use is released only once the last one has ended.
  if (lifecycle_) lifecycle_->stop([this] { connection_finished(); });
  if (pages_) pages_->stop([this] { connection_finished(); });
  sd_notify(0, "STOPPING=1");
  systemd_->stop_streams();
  log::info("stopping: no new connections; in-flight requests have " +
            std::to_string(settings_.shutdown_grace.count()) + " ms");
  if (listeners_) {
    for (auto& entry : listeners_->entries) {
      boost::system::error_code ignored;
      entry.acceptor.close(ignored);
    }
    listeners_->watchdog.cancel();
  }
  for (connection* c : connections_) {
    boost::system::error_code ignored;
    // An idle connection's pending read is cancelled, not its socket closed: if the read has
    // already completed (bytes taken from the kernel, coroutine not yet resumed), the request is
    // still served, with Connection: close. Bytes still in the kernel mean mid-request too.
    if (c->state == connection::phase::idle && c->stream->available(ignored) == 0) {
      c->stream->cancel(ignored);
    } else if (c->state == connection::phase::streaming && c->stop_stream) {
      c->stop_stream();
    }
  }
  if (!listeners_) return;
  connection_finished();
  if (stopped_) return;
  // After the grace period, whatever is still open is cancelled and closed hard.
  listeners_->shutdown_timer.expires_after(settings_.shutdown_grace);
  listeners_->shutdown_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) stop_hard();
  });
}

void app::stop_hard() {
  log::warning("stopping: grace period over, cancelling " + std::to_string(connections_.size()) + " connection(s)");
  // Cancelling runs the handlers' cancellation handlers now (children get their kill sequence) and
  // their coroutines later; copied first, since nothing may leave the list under the loop.
  std::vector<connection*> open(connections_.begin(), connections_.end());
  for (connection* c : open) c->cancel_handler(connection::cancel_reason::shutdown);
  for (connection* c : connections_) {
    boost::system::error_code ignored;
    c->stream->close(ignored);
  }
  // A cancelled child is killed with SIGKILL at once and reaped within milliseconds. Something
  // that ignores cancellation must still not keep the process: half a second later the loop stops,
  // and destroying the remaining coroutine frames kills and reaps their children synchronously
  // (adapters/process/spawn.hpp).
  listeners_->last_resort.expires_after(std::chrono::milliseconds(500));
  listeners_->last_resort.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    log::error("stopping: " + std::to_string(connections_.size()) +
               " connection(s) ignored cancellation; stopping the event loop");
    io_.stop();
  });
}

void app::connection_finished() {
  if (!stopping_ || stopped_ || !connections_.empty()) return;
  if (lifecycle_ && lifecycle_->running() > 0) return;
  if (pages_ && pages_->running() > 0) return;
  stopped_ = true;
  if (listeners_) {
    listeners_->shutdown_timer.cancel();
    listeners_->last_resort.cancel();
    listeners_->audit_prune.cancel();
    listeners_->watchdog.cancel();
    listeners_->deadline_sweep.cancel();
  }
  // Long-lived watchers keep the loop running; release them so io.run() returns.
  storage_.reset();
  dbus_link_->retry.cancel();
  systemd_->close();
  dbus_link_->lost.clear();
  bus_.reset();
  files_.reset();
  if (on_stopped_) on_stopped_();
}

std::vector<std::pair<std::string, std::string>> app::readiness() {
  std::vector<std::pair<std::string, std::string>> checks;
  if (!database_) {
    checks.emplace_back("database", "not open");
  } else if (auto ok = database_->check(); !ok) {
    checks.emplace_back("database", ok.error().detail);
  } else {
    checks.emplace_back("database", "");
  }
  if (!bus_) {
    checks.emplace_back("dbus", bus_error_.empty() ? "not connected" : bus_error_);
  } else if (!bus_->connected()) {
    checks.emplace_back("dbus", "connection to " + settings_.bus + " lost");
  } else {
    checks.emplace_back("dbus", "");
  }
  struct statfs info {};
  if (::statfs(settings_.btrfs_root.c_str(), &info) != 0) {
    checks.emplace_back("btrfs", settings_.btrfs_root + ": " + std::generic_category().message(errno));
  } else if (info.f_type != BTRFS_SUPER_MAGIC) {
    checks.emplace_back("btrfs", settings_.btrfs_root + " is not a btrfs filesystem");
  } else {
    checks.emplace_back("btrfs", "");
  }
  // The programs the daemon and its units execute (core/required_programs.txt): a request that
  // needs a missing one gets a 503 naming it (process::run_process).
  std::string missing;
  for (const required_program& required : required_programs()) {
    if (!required.used_by(program_user::daemon) || process::find_program(required.program)) continue;
    missing += missing.empty() ? "missing " : ", ";
    missing += std::string(required.program) + " (Debian package " + std::string(required.package) + ")";
  }
  checks.emplace_back("programs", missing);
  return checks;
}

void app::setting_changed(std::string_view key) {
  if (!settings_store_) return;
  if (key == "dns_tld") {
    auto tld = settings_store_->get("dns_tld");
    cors_hosts_ = cors::allowed_hosts(settings_.allowed_hosts, hostname_, tld.value_or(""));
    // The package names move with the TLD, and their leaves with them.
    if (ingress_) boost::asio::co_spawn(io_, ingress_->packages_changed(), log_escaped{"ingress after a TLD change"});
  } else if (key == "session_lifetime" && identity_) {
    // Stored values passed settings::validate; a hand-edited database keeps the built-in default.
    if (std::int64_t seconds = settings_store_->integer("session_lifetime", 0); seconds > 0) {
      identity_->set_absolute_lifetime(seconds);
    }
  } else if (key == "password_hash_memory" && identity_) {
    // 0 (the default) hands the budget back to the --password-hash-memory flag.
    const auto bytes =
        static_cast<std::uint64_t>(std::max<std::int64_t>(settings_store_->integer("password_hash_memory", 0), 0));
    identity_->hashing_budget().set_total_kib((bytes != 0 ? bytes : settings_.password_hash_memory) / 1024);
  }
}

}  // namespace sc::server
