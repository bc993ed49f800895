#pragma once
// The app's private parts, shared by the files that implement it (app.cpp: start and stop;
// app_listeners.cpp: sockets, the deadline sweep, the watchdog; app_dbus.cpp: D-Bus supervision;
// app_requests.cpp: CORS, authentication, audit and dispatch). Nothing outside them includes it.

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "adapters/systemd/bus.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "server/app.hpp"
#include "server/http.hpp"

namespace sc::server {

using generic_acceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol, http::executor>;

// The listening sockets and the timers of the server's own loops.
struct app::listeners {
  struct entry {
    generic_acceptor acceptor;
    http::peer_info::transport kind;
    std::string description;
  };
  std::list<entry> entries;
  boost::asio::steady_timer watchdog;
  boost::asio::steady_timer shutdown_timer;
  boost::asio::steady_timer deadline_sweep;
  boost::asio::steady_timer last_resort;
  boost::asio::steady_timer audit_prune;
  explicit listeners(boost::asio::io_context& io)
      : watchdog(io), shutdown_timer(io), deadline_sweep(io), last_resort(io), audit_prune(io) {}
};

// D-Bus supervision. A lost connection (dbus-daemon restarted, the system bus re-executed) is
// replaced without restarting the server: reconnect attempts back off from 250 ms to 8 s, /ready
// reports `dbus` down meanwhile, and /systemd requests answer 503 until the next connection's
// manager opens. The lost connection and the manager made on it are kept ("retired") until no
// request is being served, because a handler may still hold the manager across an await; its
// calls fail at once with 503 since the connection is dead.
struct app::dbus_link {
  explicit dbus_link(boost::asio::io_context& io) : retry(io) {}
  struct retired {
    std::unique_ptr<systemd::bus_connection> bus;
    std::unique_ptr<systemd::systemd_manager> manager;  // made on `bus`: destroyed first (declared last)
  };
  boost::asio::steady_timer retry;
  std::vector<retired> lost;
  std::chrono::milliseconds backoff = first_backoff;
  bool supervising = false;
  static constexpr std::chrono::milliseconds first_backoff{250};
  static constexpr std::chrono::milliseconds longest_backoff{8000};
};

}  // namespace sc::server
