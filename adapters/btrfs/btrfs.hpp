#pragma once
// The btrfs volume tree under one base directory (behavior-ops.md §3.3), on directory fds.
//
// The base is opened once; every `relative` path is resolved beneath it with openat2
// (adapters/file_io/beneath.hpp: no symlink, no "..", no magic link is ever followed, race-free),
// and the operation then acts on the fds it got. Subvolumes are created, deleted, snapshotted and
// identified through libbtrfsutil's fd-based calls. Quotas go through the btrfs ioctls on an fd
// (libbtrfsutil has no qgroup calls: BTRFS_IOC_QUOTA_CTL, BTRFS_IOC_QGROUP_LIMIT, and one
// BTRFS_IOC_TREE_SEARCH of the quota tree for usage and limits). No `btrfs` process is spawned.
//
// Every `relative` argument must already be validated by core/storage; resolution beneath the base
// is the second line of defence, and the one that stops symlinks planted inside volumes.
//
// Threads: the calls are short ioctls and dentry lookups (bench/btrfs_bench.cpp: tens of µs; a
// create or delete commits no transaction of its own) and run on the calling thread, the loop. The
// awaitable signatures stay so that a slow call can move to the work pool without touching callers.
// Not thread-safe: one loop owns it.
//
// Failures: 404 a subvolume or a path component does not exist, 409 it already exists or cannot be
// deleted because it holds nested subvolumes, 422 a path crosses a symlink or leaves the base,
// 500 (internal: the call and errno text) when btrfs fails otherwise.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/file_io/beneath.hpp"
#include "core/problem.hpp"

namespace sc::btrfs {

struct subvolume_info {
  std::uint64_t id = 0;
  std::string path;         // relative to the base, e.g. "user/media"
  std::uint64_t quota = 0;  // max_rfer in bytes, 0 = none
  std::uint64_t usage = 0;  // rfer in bytes
};

class volumes {
 public:
  // `base` is the btrfs mount point (top-level subvolume), absolute. Opened on first use.
  explicit volumes(std::filesystem::path base);

  const std::filesystem::path& base() const noexcept { return base_; }

  // The directory fd of the base (opened once; 503 when it cannot be opened). Owned by this object.
  result<int> root();

  // The root directory of the subvolume `relative`, opened beneath the base (O_RDONLY |
  // O_DIRECTORY). 404 when missing or not a subvolume root; 422 (naming `names.field`) when the
  // path crosses a symlink.
  result<file_io::unique_fd> open_subvolume(std::string_view relative,
                                            file_io::lookup_names names = {"name", "filesystem"});
  // True when `relative` resolves beneath the base, without symlinks, to a subvolume root.
  bool is_subvolume(std::string_view relative);

  // Creates the root subvolumes (core/storage root_subvolumes) that are missing; one that appears
  // concurrently is fine.
  boost::asio::awaitable<result<void>> ensure_roots();

  // Creates `relative`, with every missing intermediate component as a subvolume (an existing
  // plain directory is tolerated). 409 if the leaf exists. quota > 0 sets a qgroup limit.
  boost::asio::awaitable<result<void>> create(std::string relative, std::uint64_t quota);
  // Deletes the subvolume `relative` (404 missing, 409 not a subvolume or has nested ones).
  boost::asio::awaitable<result<void>> remove(std::string relative);
  // renameat2(RENAME_NOREPLACE) between the two parents' fds (409 if `to` exists, 404 if `from`
  // is missing). Missing parents of `to` are created as subvolumes.
  boost::asio::awaitable<result<void>> rename(std::string from, std::string to);
  // A snapshot of the subvolume `from` at `to` (409 if `to` exists; parents of `to` are created as
  // subvolumes). `read_only` makes it immutable: what an upgrade keeps to roll back to.
  boost::asio::awaitable<result<void>> snapshot(std::string from, std::string to, bool read_only);
  // quota > 0: limit the subvolume's referenced bytes; 0: clear its limit.
  boost::asio::awaitable<result<void>> set_quota(std::string relative, std::uint64_t quota);

  // Every subvolume below the base with its quota and usage: one subvolume iteration plus one
  // search of the quota tree, whatever the number of volumes. Paths starting with `prefix` only
  // (string prefix, "" for all).
  boost::asio::awaitable<result<std::vector<subvolume_info>>> list(std::string prefix);
  // Quota and usage of one subvolume (404 when missing, 422 through a symlink).
  boost::asio::awaitable<result<subvolume_info>> info(std::string relative);

 private:
  result<void> create_parents(std::string_view relative);
  result<void> enable_quota();

  std::filesystem::path base_;
  file_io::unique_fd root_;
  bool quota_enabled_ = false;
};

// Usage and limits of every level-0 qgroup of the filesystem holding `fd`, by subvolume id (id,
// usage, quota filled; path empty). Empty when quotas are off. Exposed for tests and benches.
result<std::vector<subvolume_info>> read_qgroups(int fd);

}  // namespace sc::btrfs
