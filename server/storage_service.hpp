#pragma once
// What the storage and archive handlers share: the btrfs volume tree under the configured root,
// the work pool archive packing and unpacking run on (`stop_service` uses the app's one systemd
// manager, server/systemd_service.hpp). Lives on the loop thread, owned by the app.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>

#include "adapters/btrfs/btrfs.hpp"
#include "adapters/pool/work_pool.hpp"
#include "core/problem.hpp"

namespace sc::server {

class storage_service {
 public:
  // `archives`: the work queue archive extraction and packing run on; it must outlive the service.
  storage_service(std::filesystem::path btrfs_root, pool::work_queue& archives);
  ~storage_service();
  storage_service(const storage_service&) = delete;
  storage_service& operator=(const storage_service&) = delete;

  // The volume tree; the root subvolumes exist once `ready()` has succeeded.
  btrfs::volumes& volumes() noexcept { return volumes_; }
  // Creates the missing root subvolumes the first time it is awaited (again after a failure).
  boost::asio::awaitable<result<void>> ready();

  // The dashboard's volume counts (GET /status/ping): user filesystems, installed and
  // uninstalled package volumes. Listing costs two btrfs processes, so a count is reused for two
  // seconds.
  struct volume_counts {
    std::size_t filesystems = 0;
    std::size_t installed = 0;
    std::size_t uninstalled = 0;
  };
  boost::asio::awaitable<result<volume_counts>> counts();

  // Archive extraction and packing (CPU and blocking file I/O): the app's "archives" queue.
  pool::work_queue& archive_pool() noexcept { return archive_pool_; }

 private:
  btrfs::volumes volumes_;
  bool roots_ready_ = false;
  pool::work_queue& archive_pool_;
  std::optional<volume_counts> counts_;
  std::chrono::steady_clock::time_point counts_at_;
};

}  // namespace sc::server
