#pragma once
// Long operations a service runs in the background (package installs and upgrades, page
// provisioning): each on its own coroutine with a cancellation signal, under a busy key, and all
// of them cancelled at shutdown. The registry is shared (std::shared_ptr) because an operation's
// coroutine may end after its service has gone. Loop thread only.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace sc::server {

struct operation_registry {
  std::set<std::string, std::less<>> busy;  // keys with an operation running (or being claimed)
  std::vector<std::shared_ptr<boost::asio::cancellation_signal>> cancels;  // one per running operation
  std::function<void()> on_idle;  // called once when the last operation ends after a cancel
};

// Runs `work` on its own coroutine, cancellable by cancel_operations(). When it ends, `key` leaves
// `busy` (the caller put it there) and, after a cancel, the last one calls `on_idle`. An exception
// escaping `work` is logged with `what` (a string literal).
void spawn_operation(boost::asio::io_context& io, const std::shared_ptr<operation_registry>& registry, std::string key,
                     boost::asio::awaitable<void> work, const char* what);

// Cancels every running operation (terminal cancellation). `on_idle` runs once the last has ended;
// false (and `on_idle` not kept) when none was running.
bool cancel_operations(operation_registry& registry, std::function<void()> on_idle);

}  // namespace sc::server
