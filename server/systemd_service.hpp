#pragma once
// What the /systemd handlers reach through the app: the systemd manager (opened on first use, so
// that the server starts without waiting for Manager.Subscribe) and the live log streams.
// Loop-thread only.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include "core/problem.hpp"
#include "server/log_stream.hpp"

namespace boost::asio {
class io_context;
}
namespace sc::systemd {
class bus_connection;
class systemd_manager;
}  // namespace sc::systemd

namespace sc::server {

class metrics;

class systemd_service {
 public:
  systemd_service(boost::asio::io_context& io, metrics& counters);
  ~systemd_service();
  systemd_service(const systemd_service&) = delete;
  systemd_service& operator=(const systemd_service&) = delete;

  // The manager over `bus`, opened (and subscribed) by the first caller; concurrent first callers
  // wait for that one open. 503 when there is no bus or after close(). The pointer stays valid
  // until close().
  boost::asio::awaitable<result<systemd::systemd_manager*>> manager(systemd::bus_connection* bus);

  log_hub& logs() noexcept { return logs_; }

  // The dashboard's unit counts (GET /status/ping, behavior-core.md §5.1): installed-package main
  // services (a failed network controller counts as failed, as in GET /systemd/units) and
  // `town-os-system--*` services. One ListUnitsByPatterns call, reused for two seconds: the
  // dashboard and local tools poll the ping.
  struct unit_counts {
    std::size_t total = 0;
    std::size_t active = 0;
    std::size_t failed = 0;
  };
  struct unit_summary {
    unit_counts packages;
    unit_counts system;
  };
  boost::asio::awaitable<result<unit_summary>> summary(systemd::bus_connection* bus);

  // The D-Bus connection was lost: hands over the manager made on it (null if none) so that the
  // caller destroys it before that connection, once no request can still hold it. The next
  // manager() call opens a new one on the bus it is given.
  std::unique_ptr<systemd::systemd_manager> release_manager();

  // Shutdown, first step: ends every log stream (requests in flight keep the manager).
  void stop_streams();
  // Shutdown, last step, before the bus connection goes: releases the manager (calls still in
  // flight complete with 503).
  void close();

 private:
  struct opening;
  boost::asio::io_context& io_;
  log_hub logs_;
  std::unique_ptr<systemd::systemd_manager> manager_;
  std::unique_ptr<opening> opening_;
  bool closed_ = false;
  std::optional<unit_summary> summary_;
  std::chrono::steady_clock::time_point summary_at_;
};

}  // namespace sc::server
