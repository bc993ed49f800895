#pragma once
// org.freedesktop.systemd1.Manager over a bus_connection, as awaitable calls on the loop.
//
// Every method is a coroutine that must be started on the loop thread of the bus_connection's
// io_context and completes there. Each D-Bus call carries `call_timeout`; sd-bus fails it with
// NoReply when it passes, and a loop timer slightly later guarantees completion even if a reply
// callback were lost. Expected failures are values:
//   404 not_found        the unit does not exist (org.freedesktop.systemd1.NoSuchUnit)
//   422 unprocessable    an invalid unit name or mode (checked before anything is sent)
//   503 unavailable      not connected, the manager was closed, or the awaiting coroutine was
//                        cancelled (its D-Bus call is then abandoned)
//   504 gateway_timeout  no reply within call_timeout, or a job not finished within job_timeout
//   500 internal_error   any other D-Bus error; `internal` holds "<error name>: <message>"
//
// Lifetime: the manager holds a reference to the bus_connection, which must outlive it. Destroy
// the manager on the loop thread; calls still in flight then complete with 503 (never hang).
// One manager per connection is the intended use (it calls Manager.Subscribe once).

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace sc::systemd {

class bus_connection;

// One row of Manager.ListUnits: a(ssssssouso).
struct unit_status {
  std::string name;
  std::string description;
  std::string load_state;    // "loaded", "not-found", "masked", ...
  std::string active_state;  // "active", "inactive", "failed", "activating", ...
  std::string sub_state;     // "running", "dead", "exited", ...
  std::string following;
  std::string object_path;
  std::uint32_t job_id = 0;  // 0 when no job is queued
  std::string job_type;
  std::string job_path;
};

// One change reported by EnableUnitFiles / DisableUnitFiles: (type, file name, destination).
struct unit_file_change {
  std::string type;  // "symlink" or "unlink"
  std::string file;
  std::string destination;
};

struct enable_result {
  bool carries_install_info = false;
  std::vector<unit_file_change> changes;
};

// One line of ListUnitFilesByPatterns: a unit file's name (last path component) and its state
// ("enabled", "disabled", "static", "masked", "generated", ...).
struct unit_file_state {
  std::string name;
  std::string state;
};

struct manager_options {
  std::chrono::milliseconds call_timeout{25'000};        // per D-Bus method call
  std::chrono::milliseconds job_timeout{120'000};        // start/stop/restart: call plus job completion
  std::string destination = "org.freedesktop.systemd1";  // bus name of the manager (tests change it)
  bool subscribe = true;  // Manager.Subscribe at open; start/stop/restart need it (job signals)
};

class systemd_manager {
 public:
  struct state;  // implementation; public only so that the .cpp's free coroutines can name it

  // Makes the proxy, registers for Manager.JobRemoved (a synchronous AddMatch round trip: call
  // at startup) and awaits Manager.Subscribe (systemd sends job signals only to subscribers).
  // No default argument on purpose: GCC 12 double-frees a defaulted `= {}` argument of a
  // coroutine called inside `co_await` (seen at shutdown). The one-argument form is safe.
  static boost::asio::awaitable<result<std::unique_ptr<systemd_manager>>> open(bus_connection& bus,
                                                                               manager_options options);
  static boost::asio::awaitable<result<std::unique_ptr<systemd_manager>>> open(bus_connection& bus);
  // open() in two steps, so that the synchronous part runs at startup and never on a request:
  // `create` makes the proxy and does the AddMatch round trip (blocking); `subscribe` awaits
  // Manager.Subscribe (when options.subscribe), which must complete before the first job.
  static result<std::unique_ptr<systemd_manager>> create(bus_connection& bus, manager_options options);
  boost::asio::awaitable<result<void>> subscribe();

  explicit systemd_manager(std::shared_ptr<state> s);
  ~systemd_manager();
  systemd_manager(const systemd_manager&) = delete;
  systemd_manager& operator=(const systemd_manager&) = delete;

  boost::asio::awaitable<result<std::vector<unit_status>>> list_units();
  // Either vector may be empty (no filter). Patterns are shell globs ("town-os-package--*").
  boost::asio::awaitable<result<std::vector<unit_status>>> list_units_by_patterns(std::vector<std::string> states,
                                                                                  std::vector<std::string> patterns);

  // Manager.ListUnitFilesByPatterns: the state of every unit file matching, in one call. Either
  // vector may be empty (no filter).
  boost::asio::awaitable<result<std::vector<unit_file_state>>> list_unit_files_by_patterns(
      std::vector<std::string> states, std::vector<std::string> patterns);

  // Queue a job and await its JobRemoved signal; the value is systemd's job result: "done",
  // "canceled", "timeout", "failed", "dependency" or "skipped" (only "done" is success, the caller
  // decides what the others mean). `mode` is "replace", "fail", "isolate", "ignore-dependencies",
  // "ignore-requirements" or "replace-irreversibly".
  boost::asio::awaitable<result<std::string>> start_unit(std::string name, std::string mode = "replace");
  boost::asio::awaitable<result<std::string>> stop_unit(std::string name, std::string mode = "replace");
  boost::asio::awaitable<result<std::string>> restart_unit(std::string name, std::string mode = "replace");

  // Callers normally follow these with reload().
  boost::asio::awaitable<result<enable_result>> enable_unit_files(std::vector<std::string> names, bool runtime = false,
                                                                  bool force = false);
  boost::asio::awaitable<result<std::vector<unit_file_change>>> disable_unit_files(std::vector<std::string> names,
                                                                                   bool runtime = false);
  // Manager.Reload (daemon-reload): unit files written since are loaded when this returns.
  boost::asio::awaitable<result<void>> reload();

  // Manager.ResetFailedUnit: forget a unit's "failed" state (and its restart counter).
  boost::asio::awaitable<result<void>> reset_failed_unit(std::string name);

  // One property of a loaded unit, rendered as text: strings as is, numbers in decimal, booleans
  // "yes"/"no", string arrays joined by spaces. `interface` is e.g. "org.freedesktop.systemd1.Unit"
  // (ActiveState, SubState, ...) or "org.freedesktop.systemd1.Service" (MainPID, Result, ...).
  boost::asio::awaitable<result<std::string>> get_unit_property(
      std::string name, std::string property, std::string interface = "org.freedesktop.systemd1.Unit");

  // org.freedesktop.DBus.Peer.Ping on the manager: a round trip proving systemd answers.
  boost::asio::awaitable<result<void>> ping();

  // The bus is up (cheap; no round trip).
  bool connected() const noexcept;

 private:
  std::shared_ptr<state> state_;
};

// The wall time callers have spent awaiting the manager's replies and jobs (a start job lasts until
// systemd reports it done), across the process (for /metrics; bench/install.sh splits an install's
// time by it). Thread-safe.
std::uint64_t manager_wait_nanoseconds() noexcept;

}  // namespace sc::systemd
