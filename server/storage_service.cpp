#include "server/storage_service.hpp"

#include "adapters/systemd/bus.hpp"
#include "adapters/systemd/systemd_manager.hpp"

namespace sc::server {

storage_service::storage_service(std::filesystem::path btrfs_root)
    : volumes_(std::filesystem::absolute(btrfs_root).lexically_normal()), archive_pool_(2, 2) {}

storage_service::~storage_service() = default;

boost::asio::awaitable<result<void>> storage_service::ready() {
  // One named result returned on every path: GCC 12 warns of an uninitialised temporary otherwise.
  result<void> outcome;
  if (!roots_ready_) {
    outcome = co_await volumes_.ensure_roots();
    roots_ready_ = outcome.has_value();
  }
  co_return outcome;
}

boost::asio::awaitable<result<systemd::systemd_manager*>> storage_service::manager(systemd::bus_connection* bus) {
  if (manager_) co_return manager_.get();
  if (bus == nullptr) co_return problem::unavailable("systemd is not reachable (no D-Bus connection)");
  // Named options: the `= {}` default argument inside a co_await expression is freed twice by
  // GCC 12 (DESIGN.md pitfalls).
  systemd::manager_options options;
  auto opened = co_await systemd::systemd_manager::open(*bus, options);
  if (!opened) co_return opened.error();
  // Another request may have opened one while this one waited; keep the first.
  if (!manager_) manager_ = std::move(*opened);
  co_return manager_.get();
}

}  // namespace sc::server
