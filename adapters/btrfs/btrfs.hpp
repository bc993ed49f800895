#pragma once
// The btrfs volume tree under one base directory (behavior-ops.md §3.3), through the `btrfs` CLI
// run by the one spawn helper (explicit argv, 30 s timeout, process group killed on timeout).
//
// Every `relative` argument must already be validated by core/storage (the adapter still joins it
// with join_under and refuses anything that leaves the base). Methods are coroutines that must be
// awaited on the event loop thread (the spawn helper's requirement); they complete there.
//
// Failures: 404 when a subvolume does not exist, 409 when it already exists or cannot be deleted
// because it holds nested subvolumes, 500 (internal: the command and its combined output) when a
// btrfs command fails otherwise, 503 when the command could not run in time.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

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
  // `base` is the btrfs mount point (top-level subvolume), absolute. `program` is the btrfs binary.
  explicit volumes(std::filesystem::path base, std::string program = "btrfs",
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const std::filesystem::path& base() const noexcept { return base_; }

  // `base/relative`, refused (422) unless it stays under the base.
  result<std::filesystem::path> path_of(std::string_view relative) const;

  // Creates the root subvolumes (core/storage root_subvolumes) that are missing; one that appears
  // concurrently is fine.
  boost::asio::awaitable<result<void>> ensure_roots();

  // Creates `relative`, with every missing intermediate component as a subvolume (an existing
  // plain directory is tolerated). 409 if the leaf exists. quota > 0 sets a qgroup limit.
  boost::asio::awaitable<result<void>> create(std::string relative, std::uint64_t quota);
  // Deletes the subvolume `relative` (404 missing, 409 not a subvolume or has nested ones).
  boost::asio::awaitable<result<void>> remove(std::string relative);
  // rename(2) without replacing (409 if `to` exists, 404 if `from` is missing). Missing parents of
  // `to` are created as subvolumes.
  boost::asio::awaitable<result<void>> rename(std::string from, std::string to);
  // quota > 0: `btrfs qgroup limit <quota>`; 0: `btrfs qgroup limit none` (only when one is set).
  boost::asio::awaitable<result<void>> set_quota(std::string relative, std::uint64_t quota);

  // Every subvolume of the filesystem with its quota and usage: `btrfs subvolume list` plus one
  // `btrfs qgroup show --raw -r` (two children whatever the number of volumes). Paths starting
  // with `prefix` only (string prefix, "" for all).
  boost::asio::awaitable<result<std::vector<subvolume_info>>> list(std::string prefix);
  // Quota and usage of one subvolume (404 when missing).
  boost::asio::awaitable<result<subvolume_info>> info(std::string relative);

  // True when `relative` exists and is the root of a subvolume (inode 256 on btrfs; no child).
  bool is_subvolume(std::string_view relative) const;

 private:
  boost::asio::awaitable<result<std::string>> run(std::vector<std::string> argv);
  boost::asio::awaitable<result<void>> create_one(const std::filesystem::path& path);
  boost::asio::awaitable<result<void>> create_parents(std::string_view relative);
  boost::asio::awaitable<result<std::vector<subvolume_info>>> qgroups();
  boost::asio::awaitable<result<void>> enable_quota();

  std::filesystem::path base_;
  std::string program_;
  std::chrono::milliseconds timeout_;
  bool quota_enabled_ = false;
};

// Parsers of the CLI output, exposed for tests.
// `btrfs subvolume list`: "ID <id> gen <g> top level <t> path <path…>" per line.
std::vector<subvolume_info> parse_subvolume_list(std::string_view text);
// `btrfs qgroup show --raw -r`: rows "0/<id> <rfer> <excl> <max_rfer|none> [path]" after 2 header
// lines; fills id, usage and quota.
std::vector<subvolume_info> parse_qgroup_show(std::string_view text);

}  // namespace sc::btrfs
