#include "server/storage_service.hpp"


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

}  // namespace sc::server
