#include "adapters/btrfs/btrfs.hpp"

#include <btrfsutil.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <unordered_map>

#include "core/storage.hpp"

namespace sc::btrfs {

namespace {

using file_io::lookup_names;
using file_io::unique_fd;

constexpr lookup_names volume_names{"name", "filesystem"};

// The failure of a libbtrfsutil call: its own text plus the errno it left.
problem library_problem(std::string_view call, std::string_view relative, btrfs_util_error error) {
  return problem::internal_error(std::string(call) + " " + std::string(relative) + ": " + btrfs_util_strerror(error) +
                                 " (" + std::generic_category().message(errno) + ")");
}

bool is_subvolume_root(const struct stat& info) {
  return S_ISDIR(info.st_mode) && info.st_ino == BTRFS_FIRST_FREE_OBJECTID;
}

std::uint64_t le64(const char* at) {
  std::uint64_t value = 0;
  std::memcpy(&value, at, sizeof value);
  return le64toh(value);
}

}  // namespace

result<std::vector<subvolume_info>> read_qgroups(int fd) {
  // libbtrfsutil has no qgroup calls; this is what `btrfs qgroup show` does, on our fd.
  btrfs_ioctl_search_args args{};
  btrfs_ioctl_search_key& key = args.key;
  key.tree_id = BTRFS_QUOTA_TREE_OBJECTID;
  key.min_objectid = key.max_objectid = 0;
  key.min_type = BTRFS_QGROUP_INFO_KEY;
  key.max_type = BTRFS_QGROUP_LIMIT_KEY;
  key.min_offset = 0;
  key.max_offset = UINT64_MAX;
  key.min_transid = 0;
  key.max_transid = UINT64_MAX;
  std::unordered_map<std::uint64_t, subvolume_info> by_id;
  for (;;) {
    key.nr_items = 4096;
    if (::ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) != 0) {
      if (errno == ENOENT) return std::vector<subvolume_info>{};  // quotas off: no quota tree
      return problem::internal_error(std::string("BTRFS_IOC_TREE_SEARCH (quota tree): ") +
                                     std::generic_category().message(errno));
    }
    if (key.nr_items == 0) break;
    std::size_t at = 0;
    btrfs_ioctl_search_header last{};
    for (std::uint32_t i = 0; i < key.nr_items; ++i) {
      btrfs_ioctl_search_header header{};
      if (at + sizeof header > sizeof args.buf) break;
      std::memcpy(&header, args.buf + at, sizeof header);
      at += sizeof header;
      const char* item = args.buf + at;
      at += header.len;
      last = header;
      if ((header.offset >> 48) != 0) continue;  // higher-level qgroups are not subvolumes
      subvolume_info& info = by_id[header.offset];
      info.id = header.offset;
      if (header.type == BTRFS_QGROUP_INFO_KEY && header.len >= sizeof(btrfs_qgroup_info_item)) {
        info.usage = le64(item + offsetof(btrfs_qgroup_info_item, rfer));
      } else if (header.type == BTRFS_QGROUP_LIMIT_KEY && header.len >= sizeof(btrfs_qgroup_limit_item)) {
        std::uint64_t flags = le64(item + offsetof(btrfs_qgroup_limit_item, flags));
        std::uint64_t max_rfer = le64(item + offsetof(btrfs_qgroup_limit_item, max_rfer));
        info.quota = (flags & BTRFS_QGROUP_LIMIT_MAX_RFER) != 0 ? max_rfer : 0;
      }
    }
    // Continue after the last key returned.
    key.min_objectid = last.objectid;
    key.min_type = last.type;
    if (last.offset == UINT64_MAX) {
      if (last.type >= BTRFS_QGROUP_LIMIT_KEY) break;
      key.min_type = last.type + 1;
      key.min_offset = 0;
    } else {
      key.min_offset = last.offset + 1;
    }
  }
  std::vector<subvolume_info> out;
  out.reserve(by_id.size());
  for (auto& [id, info] : by_id) out.push_back(std::move(info));
  return out;
}

volumes::volumes(std::filesystem::path base) : base_(std::move(base)) {}

result<int> volumes::root() {
  if (!root_) {
    // The configured base is trusted (it is ours, not a client's): opened by its path once.
    root_.reset(::open(base_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_)
      return problem::unavailable("btrfs root " + base_.string() +
                                  " cannot be opened: " + std::generic_category().message(errno));
  }
  return root_.get();
}

result<unique_fd> volumes::open_subvolume(std::string_view relative, lookup_names names) {
  auto base = root();
  if (!base) return base.error();
  auto opened = file_io::open_beneath(*base, relative, O_RDONLY | O_DIRECTORY, 0, names);
  if (!opened) return opened.error();
  struct stat info {};
  if (::fstat(opened->get(), &info) != 0 || !is_subvolume_root(info)) {
    return problem::not_found(std::string(names.what) + " not found");
  }
  return opened;
}

bool volumes::is_subvolume(std::string_view relative) {
  return open_subvolume(relative).has_value();
}

boost::asio::awaitable<result<void>> volumes::ensure_roots() {
  auto base = root();
  if (!base) co_return base.error();
  for (auto name : storage::root_subvolumes) {
    const std::string leaf(name);
    struct stat info {};
    if (::fstatat(*base, leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) continue;
    auto made = btrfs_util_create_subvolume_fd(*base, leaf.c_str(), 0, nullptr, nullptr);
    // Created concurrently by someone else: the directory is what we wanted.
    if (made != BTRFS_UTIL_OK && errno != EEXIST) co_return library_problem("create subvolume", leaf, made);
  }
  co_return result<void>();
}

result<void> volumes::create_parents(std::string_view relative) {
  auto base = root();
  if (!base) return base.error();
  unique_fd dir(::fcntl(*base, F_DUPFD_CLOEXEC, 0));
  if (!dir) return problem::internal_error(std::string("dup: ") + std::generic_category().message(errno));
  std::size_t start = 0;
  for (std::size_t slash = relative.find('/'); slash != std::string_view::npos; slash = relative.find('/', start)) {
    const std::string component(relative.substr(start, slash - start));
    const std::string_view so_far = relative.substr(0, slash);
    auto next = file_io::open_beneath(dir.get(), component, O_RDONLY | O_DIRECTORY, 0, volume_names);
    if (!next && next.error().status == 404) {
      struct stat info {};
      if (::fstatat(dir.get(), component.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(info.st_mode)) {
        if (S_ISLNK(info.st_mode)) return file_io::lookup_problem(ELOOP, so_far, volume_names);
        return problem::conflict(std::string(so_far) + " exists and is not a directory");
      }
      auto made = btrfs_util_create_subvolume_fd(dir.get(), component.c_str(), 0, nullptr, nullptr);
      if (made != BTRFS_UTIL_OK && errno != EEXIST) return library_problem("create subvolume", so_far, made);
      next = file_io::open_beneath(dir.get(), component, O_RDONLY | O_DIRECTORY, 0, volume_names);
    }
    if (!next) return next.error();
    dir = std::move(*next);
    start = slash + 1;
  }
  return {};
}

result<void> volumes::enable_quota() {
  if (quota_enabled_) return {};
  auto base = root();
  if (!base) return base.error();
  // Enabling quotas that are on already is a no-op for the kernel.
  btrfs_ioctl_quota_ctl_args args{};
  args.cmd = BTRFS_QUOTA_CTL_ENABLE;
  if (::ioctl(*base, BTRFS_IOC_QUOTA_CTL, &args) != 0) {
    return problem::internal_error(std::string("BTRFS_IOC_QUOTA_CTL enable: ") +
                                   std::generic_category().message(errno));
  }
  quota_enabled_ = true;
  return {};
}

boost::asio::awaitable<result<void>> volumes::create(std::string relative, std::uint64_t quota) {
  auto base = root();
  if (!base) co_return base.error();
  if (auto parents = create_parents(relative); !parents) co_return parents.error();
  auto parent = file_io::open_parent_beneath(*base, relative, volume_names);
  if (!parent) co_return parent.error();
  struct stat info {};
  if (::fstatat(parent->parent.get(), parent->leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) {
    co_return problem::conflict("filesystem already exists");
  }
  auto made = btrfs_util_create_subvolume_fd(parent->parent.get(), parent->leaf.c_str(), 0, nullptr, nullptr);
  if (made != BTRFS_UTIL_OK) {
    if (errno == EEXIST) co_return problem::conflict("filesystem already exists");
    if (errno == ENAMETOOLONG) co_return file_io::lookup_problem(ENAMETOOLONG, relative, volume_names);
    co_return library_problem("create subvolume", relative, made);
  }
  if (quota > 0) co_return co_await set_quota(std::move(relative), quota);
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::remove(std::string relative) {
  auto base = root();
  if (!base) co_return base.error();
  auto parent = file_io::open_parent_beneath(*base, relative, volume_names);
  if (!parent) co_return parent.error();
  struct stat info {};
  if (::fstatat(parent->parent.get(), parent->leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    co_return problem::not_found("filesystem not found");
  }
  if (S_ISLNK(info.st_mode)) co_return file_io::lookup_problem(ELOOP, relative, volume_names);
  if (!is_subvolume_root(info)) co_return problem::conflict("not a subvolume");
  // The kernel looks the name up in the parent we hold and checks that it is a subvolume root, so
  // a swap after our fstatat can make this fail but never delete anything else.
  auto deleted = btrfs_util_delete_subvolume_fd(parent->parent.get(), parent->leaf.c_str(), 0);
  if (deleted != BTRFS_UTIL_OK) {
    if (errno == ENOTEMPTY) co_return problem::conflict("filesystem contains nested filesystems; remove them first");
    if (errno == ENOENT) co_return problem::not_found("filesystem not found");
    if (errno == EINVAL || errno == ENOTDIR) co_return problem::conflict("not a subvolume");
    if (errno == EPERM || errno == EBUSY) co_return problem::conflict("filesystem is in use and cannot be deleted");
    co_return library_problem("delete subvolume", relative, deleted);
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::rename(std::string from, std::string to) {
  auto base = root();
  if (!base) co_return base.error();
  auto source = file_io::open_parent_beneath(*base, from, volume_names);
  if (!source) co_return source.error();
  struct stat info {};
  if (::fstatat(source->parent.get(), source->leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    co_return problem::not_found("filesystem not found");
  }
  if (S_ISLNK(info.st_mode)) co_return file_io::lookup_problem(ELOOP, from, volume_names);
  constexpr lookup_names target_names{"filesystem.name", "filesystem"};
  if (auto parents = create_parents(to); !parents) co_return parents.error();
  auto target = file_io::open_parent_beneath(*base, to, target_names);
  if (!target) co_return target.error();
  // RENAME_NOREPLACE: an existing volume is never silently replaced (the original's os.Rename
  // would replace an empty directory).
  if (::renameat2(source->parent.get(), source->leaf.c_str(), target->parent.get(), target->leaf.c_str(),
                  RENAME_NOREPLACE) != 0) {
    int error = errno;
    if (error == EEXIST || error == ENOTEMPTY)
      co_return problem::conflict("a filesystem with the new name already exists");
    if (error == ENOENT) co_return problem::not_found("filesystem not found");
    if (error == EINVAL) co_return problem::unprocessable("filesystem.name", "cannot move a filesystem into itself");
    if (error == ENAMETOOLONG) co_return file_io::lookup_problem(error, to, target_names);
    co_return problem::internal_error("rename " + from + " to " + to + ": " + std::generic_category().message(error));
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::snapshot(std::string from, std::string to, bool read_only) {
  auto base = root();
  if (!base) co_return base.error();
  auto source = open_subvolume(from, {"from", "subvolume"});
  if (!source) co_return source.error();
  constexpr lookup_names target_names{"to", "snapshot"};
  if (auto parents = create_parents(to); !parents) co_return parents.error();
  auto target = file_io::open_parent_beneath(*base, to, target_names);
  if (!target) co_return target.error();
  int flags = read_only ? BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY : 0;
  auto made = btrfs_util_create_snapshot_fd2(source->get(), target->parent.get(), target->leaf.c_str(), flags, nullptr,
                                             nullptr);
  if (made != BTRFS_UTIL_OK) {
    if (errno == EEXIST) co_return problem::conflict("snapshot " + to + " already exists");
    co_return library_problem("snapshot " + from + " to", to, made);
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::set_quota(std::string relative, std::uint64_t quota) {
  if (auto enabled = enable_quota(); !enabled) co_return enabled.error();
  auto volume = open_subvolume(relative);
  if (!volume) co_return volume.error();
  // qgroupid 0: the qgroup of the subvolume the fd is in. max_rfer (u64)-1 clears the limit.
  btrfs_ioctl_qgroup_limit_args args{};
  args.qgroupid = 0;
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  args.lim.max_rfer = quota > 0 ? quota : UINT64_MAX;
  if (::ioctl(volume->get(), BTRFS_IOC_QGROUP_LIMIT, &args) != 0) {
    co_return problem::internal_error("BTRFS_IOC_QGROUP_LIMIT " + relative + ": " +
                                      std::generic_category().message(errno));
  }
  co_return result<void>();
}

boost::asio::awaitable<result<std::vector<subvolume_info>>> volumes::list(std::string prefix) {
  auto base = root();
  if (!base) co_return base.error();
  btrfs_util_subvolume_iterator* raw = nullptr;
  // top 0: below the base's own subvolume, paths relative to it.
  auto made = btrfs_util_create_subvolume_iterator_fd(*base, 0, 0, &raw);
  if (made != BTRFS_UTIL_OK) co_return library_problem("list subvolumes of", base_.string(), made);
  std::unique_ptr<btrfs_util_subvolume_iterator, void (*)(btrfs_util_subvolume_iterator*)> iterator(
      raw, btrfs_util_destroy_subvolume_iterator);
  std::vector<subvolume_info> out;
  for (;;) {
    char* path = nullptr;
    std::uint64_t id = 0;
    auto next = btrfs_util_subvolume_iterator_next(iterator.get(), &path, &id);
    if (next == BTRFS_UTIL_ERROR_STOP_ITERATION) break;
    if (next != BTRFS_UTIL_OK) co_return library_problem("list subvolumes of", base_.string(), next);
    std::unique_ptr<char, void (*)(void*)> owned(path, std::free);
    std::string_view text(path);
    if (!text.starts_with(prefix)) continue;
    subvolume_info info;
    info.id = id;
    info.path = std::string(text);
    out.push_back(std::move(info));
  }
  if (out.empty()) co_return out;
  auto groups = read_qgroups(*base);
  if (!groups) co_return groups.error();
  std::unordered_map<std::uint64_t, const subvolume_info*> by_id;
  for (const auto& g : *groups) by_id.emplace(g.id, &g);
  for (auto& entry : out) {
    if (auto found = by_id.find(entry.id); found != by_id.end()) {
      entry.quota = found->second->quota;
      entry.usage = found->second->usage;
    }
  }
  co_return out;
}

boost::asio::awaitable<result<subvolume_info>> volumes::info(std::string relative) {
  auto volume = open_subvolume(relative);
  if (!volume) co_return volume.error();
  subvolume_info out;
  out.path = relative;
  if (auto got = btrfs_util_subvolume_id_fd(volume->get(), &out.id); got != BTRFS_UTIL_OK) {
    co_return library_problem("subvolume id of", relative, got);
  }
  auto groups = read_qgroups(volume->get());
  if (!groups) co_return groups.error();
  for (const auto& g : *groups) {
    if (g.id == out.id) {
      out.quota = g.quota;
      out.usage = g.usage;
    }
  }
  co_return out;
}

}  // namespace sc::btrfs
