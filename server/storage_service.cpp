#include "server/storage_service.hpp"

#include "core/storage.hpp"

namespace sc::server {

storage_service::storage_service(std::filesystem::path btrfs_root, pool::work_queue& archives)
    : volumes_(std::filesystem::absolute(btrfs_root).lexically_normal()), archive_pool_(archives) {}

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

boost::asio::awaitable<result<storage_service::volume_counts>> storage_service::counts() {
  constexpr auto fresh_for = std::chrono::seconds(2);
  if (counts_ && std::chrono::steady_clock::now() - counts_at_ < fresh_for) co_return *counts_;
  if (auto ready_now = co_await ready(); !ready_now) co_return ready_now.error();
  auto listed = co_await volumes_.list("");
  if (!listed) co_return listed.error();
  volume_counts counted;
  for (const auto& info : *listed) {
    auto entry = storage::classify(info.path);
    if (!entry) continue;
    switch (entry->state) {
      case storage::volume_state::user:
        ++counted.filesystems;
        break;
      case storage::volume_state::installed:
        ++counted.installed;
        break;
      case storage::volume_state::uninstalled:
        ++counted.uninstalled;
        break;
    }
  }
  counts_ = counted;
  counts_at_ = std::chrono::steady_clock::now();
  co_return counted;
}

}  // namespace sc::server
