#pragma once
// What the /systemd handlers reach through the app: the systemd manager (opened on first use, so
// that the server starts without waiting for Manager.Subscribe) and the live log streams.
// Loop-thread only.

#include "core/problem.hpp"
#include "server/log_stream.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

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
};

}  // namespace sc::server
