#pragma once
// System services (behavior-core.md §5.8, issue 15): infrastructure the controller runs beside the
// packages, each as a unit `town-os-system--<key>.service` with `Restart=always` that the
// controller writes from its configuration, reconciles at start and supervises. A subsystem (DNS
// today; the ingress and monitoring later) contributes a `system_service_provider`: it writes what
// its server reads (configuration, data) and describes its unit as a core `service_unit`. The unit
// files go through the same writer as the packages' (server/unit_files.hpp).
//
// The controller's own unit is listed too (key `systemcontroller`), never written by it.
// Loop thread only.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "core/service_unit.hpp"

namespace sc::pool {
class work_queue;
}
namespace sc::systemd {
class bus_connection;
class systemd_manager;
}  // namespace sc::systemd

namespace sc::server {

class systemd_service;

struct system_service_definition {
  std::string display_name;
  std::string image;  // the container image, or the Debian-packaged program the unit runs
  std::string port;   // where it serves, as text ("" when it serves no port)
  units::service_unit unit;
};

class system_service_provider {
 public:
  virtual ~system_service_provider() = default;
  // The service's key: the unit is town-os-system--<key>.service. [a-z0-9-]+.
  virtual std::string_view key() const = 0;
  virtual std::string_view display_name() const = 0;
  // The service and its unit, from the current configuration. No side effect.
  virtual result<system_service_definition> describe() const = 0;
  // Writes what the server reads (configuration, data) from the current configuration. Called at
  // start, on refresh and before every start through the API, then the unit is written.
  virtual boost::asio::awaitable<result<void>> write_files() = 0;
};

// One row of GET /system-services: the unit's systemd status and the registry's fields.
struct system_service_status {
  std::string unit;  // Name
  std::string description;
  std::string load_state;
  std::string active_state;
  std::string sub_state;
  std::string unit_file_state;
  std::string key;
  std::string display_name;
  std::string image;
  std::string port;
};

class system_services {
 public:
  struct options {
    std::filesystem::path unit_dir;
    std::string wanted_by = "multi-user.target";  // default.target under a user manager
    // The port of the controller's TCP listener, as bound (port 0 in the flag means "any").
    std::function<std::string()> controller_port;
  };
  system_services(boost::asio::io_context& io, systemd_service& systemd, pool::work_queue& files, options opts);
  ~system_services();
  system_services(const system_services&) = delete;
  system_services& operator=(const system_services&) = delete;

  // Registers a provider (it must outlive this service). Before start().
  void add(system_service_provider& provider);
  bool empty() const noexcept { return providers_.empty(); }
  static std::string unit_name(std::string_view key);

  // Once systemd answers: every service's files and unit written, enabled, and started (restarted
  // when its unit file changed). `bus` gives the current connection (null while there is none).
  void start(std::function<systemd::bus_connection*()> bus);
  void stop();

  // GET /system-services: every registered service, then the controller. 503 without systemd.
  boost::asio::awaitable<result<std::vector<system_service_status>>> statuses();
  // POST /system-services/status with §5.8's refusals (400 for enable/disable, for stopping the
  // controller, for an unknown key; 404 when nothing is configured). The controller's restart is
  // scheduled a second later and this returns at once. Start, restart, refresh and
  // restart_service answer 409 while another of them (or the start-up reconcile) runs.
  boost::asio::awaitable<result<void>> set_status(std::string key, std::string action);
  // POST /system-services/refresh: rewrites every unit from the current configuration and
  // restarts those whose files changed (the others are started if they are not running). The
  // failures, "; "-joined ("" when none).
  boost::asio::awaitable<result<std::string>> refresh();
  // Rewrites one service's files and unit and restarts it (POST /dns/setup).
  boost::asio::awaitable<result<void>> restart_service(std::string key);
  // Whether the service's unit is active now (false without systemd).
  boost::asio::awaitable<bool> active(std::string key);

 private:
  boost::asio::awaitable<result<systemd::systemd_manager*>> manager();
  // Prepares and installs one service; restarts it when its unit changed or `force_restart`.
  boost::asio::awaitable<result<void>> apply(system_service_provider& provider, bool force_restart);
  boost::asio::awaitable<void> reconcile_at_start();
  system_service_provider* find(std::string_view key) const;

  boost::asio::io_context& io_;
  systemd_service& systemd_;
  pool::work_queue& files_;
  options options_;
  std::function<systemd::bus_connection*()> bus_;
  std::vector<system_service_provider*> providers_;
  std::shared_ptr<boost::asio::cancellation_signal> cancel_ = std::make_shared<boost::asio::cancellation_signal>();
  bool stopped_ = false;
  // One write-and-apply at a time (start-up reconcile, start, restart, refresh, setup): two would
  // race on the same unit file and jobs. A second one is a 409. Shared with the coroutine frames
  // that hold it, which a hard stop may destroy after this object.
  std::shared_ptr<bool> applying_ = std::make_shared<bool>(false);
  struct apply_claim;
};

}  // namespace sc::server
