#pragma once
// What the storage and archive handlers share, and the storage work they call: the btrfs volume
// tree under the configured root, archive uploads (the multipart form read from the body stream,
// its archive part unpacked on the work pool) and the packing side of downloads, and the pause of
// a service around a transfer. Lives on the loop thread, owned by the app; every coroutine here
// runs and completes on the loop.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/archive/extract.hpp"
#include "adapters/archive/pack.hpp"
#include "adapters/asio/one_shot_event.hpp"
#include "adapters/btrfs/btrfs.hpp"
#include "adapters/file_io/beneath.hpp"
#include "adapters/pool/work_pool.hpp"
#include "core/problem.hpp"
#include "core/storage.hpp"

namespace sc::archive {
class byte_pipe;
}
namespace sc::systemd {
class bus_connection;
}

namespace sc::store {
class settings_store;
}

namespace sc::server {

class body_stream;
class systemd_service;

// Stops a unit for the length of an archive transfer and starts it again afterwards. The unit
// name must be validated before `stop`. `restart` must be awaited whatever happened (it does
// nothing unless `stop` got as far as asking); a failed start is logged, not returned.
class service_pause {
 public:
  service_pause(systemd_service& systemd, systemd::bus_connection* bus) : systemd_(systemd), bus_(bus) {}
  void set_unit(std::string unit) { unit_ = std::move(unit); }
  const std::string& unit() const noexcept { return unit_; }
  // Nothing to do without a unit.
  boost::asio::awaitable<result<void>> stop();
  boost::asio::awaitable<void> restart();

 private:
  systemd_service& systemd_;
  systemd::bus_connection* bus_;
  std::string unit_;
  bool stopped_ = false;
};

// One job on the archive pool (an extraction or a packing) whose verdict the loop awaits later.
// Shared between the loop and the coroutine that runs it; `finished` may be awaited once.
template <class Report>
class archive_job {
 public:
  explicit archive_job(const boost::asio::any_io_executor& loop) : done_(loop) {}
  // The value and the failure are kept apart: moving a whole result<Report> into an optional
  // trips GCC 12's -Wmaybe-uninitialized at -O2 (a false positive that fails the release build).
  void complete(result<Report> outcome) {
    if (completed()) return;
    if (outcome) {
      value_.emplace(std::move(*outcome));
    } else {
      failure_.emplace(std::move(outcome.error()));
    }
    done_.set();
  }
  bool completed() const noexcept { return value_.has_value() || failure_.has_value(); }
  boost::asio::awaitable<result<Report>> finished() {
    while (!completed()) (void)co_await done_.wait();
    if (failure_) co_return std::move(*failure_);
    co_return std::move(*value_);
  }

 private:
  std::optional<Report> value_;
  std::optional<problem> failure_;
  one_shot_event done_;
};

class storage_service {
 public:
  // `archives`: the work queue archive extraction and packing run on; it must outlive the service.
  storage_service(const std::filesystem::path& btrfs_root, pool::work_queue& archives);
  ~storage_service();
  storage_service(const storage_service&) = delete;
  storage_service& operator=(const storage_service&) = delete;

  // The volume tree; the root subvolumes exist once `ready()` has succeeded.
  btrfs::volumes& volumes() noexcept { return volumes_; }
  // Creates the missing root subvolumes the first time it is awaited (again after a failure).
  boost::asio::awaitable<result<void>> ready();

  // The dashboard's volume counts (GET /status/ping): user filesystems, installed and
  // uninstalled package volumes. A count is reused for two seconds.
  struct volume_counts {
    std::size_t filesystems = 0;
    std::size_t installed = 0;
    std::size_t uninstalled = 0;
  };
  boost::asio::awaitable<result<volume_counts>> counts();

  // Archive extraction and packing (CPU and blocking file I/O): the app's "archives" queue.
  pool::work_queue& archive_pool() noexcept { return archive_pool_; }

  // An upload (behavior-ops.md §4.1): the multipart form streamed from `body` (its fields before
  // the archive part), the archive part unpacked into the named subvolume (resolved beneath the
  // btrfs root, never through a link) as it arrives on the archive pool, bounded by the volume's
  // quota headroom or free space, `max_size` of body and `unpack_timeout`. The form's
  // `stop_service` is stopped through `pause` before the unpacking starts; the caller restarts it.
  // 4xx for everything the client sent.
  struct upload_limits {
    std::uint64_t max_size = 0;  // bytes of request body; 0: no limit (the max_archive_size setting)
    std::chrono::seconds unpack_timeout{600};
    // As the settings max_archive_size and archive_unpack_timeout say now.
    static upload_limits from(const store::settings_store& settings);
  };
  boost::asio::awaitable<result<archive::extract_report>> receive_upload(body_stream& body,
                                                                         std::string_view content_type,
                                                                         upload_limits limits, service_pause& pause);

  // The same streamed upload for another kind of target (static pages): the form's small fields
  // named in `field_names` (each before the `archive` part; others are ignored) are handed to
  // `resolve` when the archive part begins, which validates them and opens the directory to unpack
  // into (beneath its root, never through a link) with its byte budget. `resolve` is awaited on
  // the loop, once at most; what it returns is used for this upload only.
  struct upload_destination {
    file_io::unique_fd directory;
    std::vector<std::string> subpath;
    std::uint64_t max_bytes = 0;  // file data the archive may unpack
  };
  using upload_fields = std::vector<std::pair<std::string, std::string>>;
  using upload_resolver = std::function<boost::asio::awaitable<result<upload_destination>>(upload_fields)>;
  boost::asio::awaitable<result<archive::extract_report>> receive_archive(body_stream& body,
                                                                          std::string_view content_type,
                                                                          upload_limits limits,
                                                                          std::vector<std::string> field_names,
                                                                          upload_resolver resolve);
  // What an upload may unpack into the volume `relative` (opened as `fd`): its quota headroom,
  // else the filesystem's free bytes.
  boost::asio::awaitable<std::uint64_t> extraction_budget(std::string relative, int fd);

  // The download side (§4.2): the subvolume named by the client and the validated `members`
  // ("." for all), resolved beneath the btrfs root without following links (404 missing, 422
  // through or onto a link). Returns the volume's root fd, shared with the packing job.
  boost::asio::awaitable<result<std::shared_ptr<file_io::unique_fd>>> open_download(
      std::string_view subvolume, const std::vector<std::string>& members);
  // Packs `members` of `root` into `pipe` on the archive pool; the job completes on `loop`.
  std::shared_ptr<archive_job<archive::pack_report>> start_packing(boost::asio::any_io_executor loop,
                                                                   const std::shared_ptr<archive::byte_pipe>& pipe,
                                                                   std::shared_ptr<file_io::unique_fd> root,
                                                                   std::vector<std::string> members,
                                                                   storage::archive_format format);

 private:
  btrfs::volumes volumes_;
  bool roots_ready_ = false;
  pool::work_queue& archive_pool_;
  std::optional<volume_counts> counts_;
  std::chrono::steady_clock::time_point counts_at_;
};

}  // namespace sc::server
