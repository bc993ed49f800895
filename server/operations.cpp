#include "server/operations.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <utility>

#include "adapters/asio/completion.hpp"

namespace sc::server {

namespace asio = boost::asio;

namespace {

// Releases the operation's key and signal however its coroutine ends.
struct release {
  std::shared_ptr<operation_registry> registry;
  std::string key;
  std::shared_ptr<asio::cancellation_signal> signal;
  ~release() {
    registry->busy.erase(key);
    std::erase(registry->cancels, signal);
    if (registry->cancels.empty() && registry->on_idle) std::exchange(registry->on_idle, nullptr)();
  }
};

asio::awaitable<void> guarded(std::shared_ptr<operation_registry> registry, std::string key, asio::awaitable<void> work,
                              std::shared_ptr<asio::cancellation_signal> signal) {
  release releaser{std::move(registry), std::move(key), std::move(signal)};
  co_await std::move(work);
}

}  // namespace

void spawn_operation(asio::io_context& io, const std::shared_ptr<operation_registry>& registry, std::string key,
                     asio::awaitable<void> work, const char* what) {
  auto signal = std::make_shared<asio::cancellation_signal>();
  registry->cancels.push_back(signal);
  auto slot = signal->slot();
  asio::co_spawn(io, guarded(registry, std::move(key), std::move(work), std::move(signal)),
                 asio::bind_cancellation_slot(slot, log_escaped{what}));
}

bool cancel_operations(operation_registry& registry, std::function<void()> on_idle) {
  if (registry.cancels.empty()) return false;
  registry.on_idle = std::move(on_idle);
  auto signals = registry.cancels;  // emitting may end operations, which erase themselves
  for (const auto& signal : signals) signal->emit(asio::cancellation_type::terminal);
  return true;
}

}  // namespace sc::server
