#pragma once
// One sdbus-c++ 1.2 connection driven from the single Asio loop thread (no sdbus thread).
//
// The connection's fd is watched with a non-owning Asio descriptor and its timeout with a steady
// timer; on wake-up `processPendingRequest()` runs until it reports nothing left, and the watch is
// re-armed from freshly read `getEventLoopPollData()` (DESIGN.md, "Known pitfalls"). All sdbus
// callbacks (method replies, signals) therefore run on the loop thread, inside that processing.
//
// Contract for code that talks through the connection (see systemd_manager.cpp):
//  - use `sdbus()` only on the loop thread;
//  - call `kick()` after EVERY outgoing call or signal/match registration: sd-bus arms the call's
//    timeout, and may already hold queued messages after a synchronous round trip, neither of
//    which wakes the fd;
//  - never complete an awaiting coroutine inline from an sdbus callback: post/cancel-a-timer so it
//    resumes from the loop, not from inside `processPendingRequest()`;
//  - destroy proxies and slots made on the connection before the bus_connection itself.
//
// Lifetime: the object owns the sdbus connection. Destroying it stops the watch at once (pending
// Asio handlers hold only a weak reference and become no-ops), releases the fd without closing it
// (sdbus owns it) and then closes the connection. Must be destroyed on the loop thread.

#include <functional>
#include <memory>
#include <string>

#include "core/problem.hpp"

namespace sdbus {
class IConnection;
}
namespace boost::asio {
class io_context;
}

namespace sc::systemd {

class bus_connection {
 public:
  struct state;  // implementation; public only so that bus.cpp's free functions can name it

  explicit bus_connection(std::shared_ptr<state> s);
  ~bus_connection();
  bus_connection(const bus_connection&) = delete;
  bus_connection& operator=(const bus_connection&) = delete;

  // The sdbus connection, for making proxies (use the overload taking a connection reference).
  sdbus::IConnection& sdbus() noexcept;
  boost::asio::io_context& context() noexcept;

  // Re-reads the poll data and re-arms the fd wait and the timeout timer; if sd-bus already has
  // work queued it schedules processing on the loop (never processes inline). Cheap; call it after
  // every outgoing call or registration.
  void kick() noexcept;

  // False once the connection has failed or been closed by the peer. Cheap, for /ready.
  bool connected() const noexcept;

  // Runs `callback` once, on the loop, when the connection is found dead (after sd-bus has failed
  // every pending call). The callback must not destroy the bus_connection. Callers guard their own
  // lifetime (e.g. capture a weak_ptr); registrations live as long as the connection.
  void on_disconnect(std::function<void()> callback);

  // Counters for tests and /metrics.
  std::uint64_t wakeups() const noexcept;

 private:
  std::shared_ptr<state> state_;
};

// Connects to `address`: "system" means the system bus, anything else is a D-Bus address such as
// "unix:path=/run/user/0/bus". The connect and the Hello handshake are synchronous (a local socket:
// start-up and reconnects only). The watch starts at once; the io_context must be run by the one
// loop thread.
// sdbus-c++ 1.2 leaks its sd_bus (memory, and the socket once it is open) when a connect fails, and
// a reconnect loop retries while the bus is down. So a unix socket address is first probed with a
// plain connect(2) of our own, and sdbus is asked only once a bus accepts connections: while the
// bus is down, retries cost one socket each, closed at once.
result<std::unique_ptr<bus_connection>> connect_bus(boost::asio::io_context& io, const std::string& address);

// The probe connect_bus makes first: 503 naming the reason when nothing accepts connections at the
// unix socket of `address` (no socket file, refused); success for other transports (not probed).
result<void> probe_bus(const std::string& address);

}  // namespace sc::systemd
