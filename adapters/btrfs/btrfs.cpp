#include "adapters/btrfs/btrfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <unordered_map>

#include "adapters/process/spawn.hpp"
#include "core/names.hpp"
#include "core/storage.hpp"

namespace sc::btrfs {

namespace {

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <class Fn>
void for_each_line(std::string_view text, Fn fn) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    fn(text.substr(start, end - start));
    start = end + 1;
  }
}

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool exists(const std::filesystem::path& path, struct stat& info) {
  return ::lstat(path.c_str(), &info) == 0;
}

}  // namespace

std::vector<subvolume_info> parse_subvolume_list(std::string_view text) {
  std::vector<subvolume_info> out;
  for_each_line(text, [&](std::string_view line) {
    // "ID 256 gen 9 top level 5 path user/a b": the path is everything after " path ", spaces kept.
    auto f = fields_of(line);
    if (f.size() < 9 || f[0] != "ID") return;
    auto id = number(f[1]);
    auto at = line.find(" path ");
    if (!id || at == std::string_view::npos) return;
    subvolume_info info;
    info.id = *id;
    info.path = std::string(line.substr(at + 6));
    out.push_back(std::move(info));
  });
  return out;
}

std::vector<subvolume_info> parse_qgroup_show(std::string_view text) {
  std::vector<subvolume_info> out;
  for_each_line(text, [&](std::string_view line) {
    auto f = fields_of(line);
    if (f.size() < 4 || !f[0].starts_with("0/")) return;
    auto id = number(f[0].substr(2));
    auto rfer = number(f[1]);
    if (!id || !rfer) return;
    subvolume_info info;
    info.id = *id;
    info.usage = *rfer;
    info.quota = number(f[3]).value_or(0);  // "none" → 0
    out.push_back(std::move(info));
  });
  return out;
}

volumes::volumes(std::filesystem::path base, std::string program, std::chrono::milliseconds timeout)
    : base_(std::move(base)), program_(std::move(program)), timeout_(timeout) {}

result<std::filesystem::path> volumes::path_of(std::string_view relative) const {
  return join_under(base_, relative);
}

bool volumes::is_subvolume(std::string_view relative) const {
  auto path = path_of(relative);
  struct stat info {};
  return path && exists(*path, info) && S_ISDIR(info.st_mode) && info.st_ino == 256;
}

boost::asio::awaitable<result<std::string>> volumes::run(std::vector<std::string> argv) {
  process::spawn_request request;
  request.argv.reserve(argv.size() + 1);
  request.argv.push_back(program_);
  for (auto& a : argv) request.argv.push_back(std::move(a));
  request.timeout = timeout_;
  request.max_output = std::size_t{4} << 20;
  std::string command;
  for (const auto& a : request.argv) command += (command.empty() ? "" : " ") + a;
  auto outcome = co_await process::run_process(std::move(request));
  if (!outcome) co_return outcome.error();
  if (outcome->timed_out) co_return problem::gateway_timeout("btrfs did not finish in time");
  if (!outcome->ok()) {
    problem p = problem::internal_error(command + ": " + outcome->out + outcome->err);
    co_return p;
  }
  co_return std::move(outcome->out);
}

boost::asio::awaitable<result<void>> volumes::create_one(const std::filesystem::path& path) {
  std::vector<std::string> made_argv{"subvolume", "create", path.string()};
  auto made = co_await run(std::move(made_argv));
  if (!made) {
    // Created concurrently by someone else: the directory is what we wanted.
    struct stat info {};
    if (exists(path, info) && S_ISDIR(info.st_mode)) co_return result<void>();
    co_return made.error();
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::ensure_roots() {
  for (auto root : storage::root_subvolumes) {
    auto path = path_of(root);
    if (!path) co_return path.error();
    struct stat info {};
    if (exists(*path, info)) continue;
    if (auto made = co_await create_one(*path); !made) co_return made.error();
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::create_parents(std::string_view relative) {
  std::size_t slash = relative.find('/');
  while (slash != std::string_view::npos) {
    auto parent = path_of(relative.substr(0, slash));
    if (!parent) co_return parent.error();
    struct stat info {};
    if (!exists(*parent, info)) {
      if (auto made = co_await create_one(*parent); !made) co_return made.error();
    } else if (!S_ISDIR(info.st_mode)) {
      co_return problem::conflict(std::string(relative.substr(0, slash)) + " exists and is not a directory");
    }
    slash = relative.find('/', slash + 1);
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::enable_quota() {
  if (quota_enabled_) co_return result<void>();
  std::vector<std::string> enabled_argv{"quota", "enable", base_.string()};
  auto enabled = co_await run(std::move(enabled_argv));
  if (!enabled) co_return enabled.error();
  quota_enabled_ = true;
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::create(std::string relative, std::uint64_t quota) {
  auto path = path_of(relative);
  if (!path) co_return path.error();
  struct stat info {};
  if (exists(*path, info)) co_return problem::conflict("filesystem already exists");
  if (auto parents = co_await create_parents(relative); !parents) co_return parents.error();
  std::vector<std::string> made_argv{"subvolume", "create", path->string()};
  auto made = co_await run(std::move(made_argv));
  if (!made) {
    if (exists(*path, info)) co_return problem::conflict("filesystem already exists");
    co_return made.error();
  }
  if (quota > 0) co_return co_await set_quota(std::move(relative), quota);
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::remove(std::string relative) {
  auto path = path_of(relative);
  if (!path) co_return path.error();
  struct stat info {};
  if (!exists(*path, info)) co_return problem::not_found("filesystem not found");
  if (!is_subvolume(relative)) co_return problem::conflict("not a subvolume");
  std::vector<std::string> deleted_argv{"subvolume", "delete", path->string()};
  auto deleted = co_await run(std::move(deleted_argv));
  if (!deleted) {
    if (deleted.error().internal.find("Directory not empty") != std::string::npos) {
      co_return problem::conflict("filesystem contains nested filesystems; remove them first");
    }
    co_return deleted.error();
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::rename(std::string from, std::string to) {
  auto from_path = path_of(from);
  if (!from_path) co_return from_path.error();
  auto to_path = path_of(to);
  if (!to_path) co_return to_path.error();
  struct stat info {};
  if (!exists(*from_path, info)) co_return problem::not_found("filesystem not found");
  if (auto parents = co_await create_parents(to); !parents) co_return parents.error();
  // RENAME_NOREPLACE: an existing volume is never silently replaced (the original's os.Rename
  // would replace an empty directory).
  if (::renameat2(AT_FDCWD, from_path->c_str(), AT_FDCWD, to_path->c_str(), RENAME_NOREPLACE) != 0) {
    int error = errno;
    if (error == EEXIST || error == ENOTEMPTY)
      co_return problem::conflict("a filesystem with the new name already exists");
    if (error == ENOENT) co_return problem::not_found("filesystem not found");
    if (error == EINVAL) co_return problem::unprocessable("filesystem.name", "cannot move a filesystem into itself");
    co_return problem::internal_error("rename " + from + " to " + to + ": " + std::generic_category().message(error));
  }
  co_return result<void>();
}

boost::asio::awaitable<result<void>> volumes::set_quota(std::string relative, std::uint64_t quota) {
  auto path = path_of(relative);
  if (!path) co_return path.error();
  if (auto enabled = co_await enable_quota(); !enabled) co_return enabled.error();
  if (quota == 0) {
    auto current = co_await info(relative);
    if (!current) co_return current.error();
    if (current->quota == 0) co_return result<void>();
    std::vector<std::string> cleared_argv{"qgroup", "limit", "none", path->string()};
    auto cleared = co_await run(std::move(cleared_argv));
    if (!cleared) co_return cleared.error();
    co_return result<void>();
  }
  std::vector<std::string> limited_argv{"qgroup", "limit", std::to_string(quota), path->string()};
  auto limited = co_await run(std::move(limited_argv));
  if (!limited) co_return limited.error();
  co_return result<void>();
}

boost::asio::awaitable<result<std::vector<subvolume_info>>> volumes::qgroups() {
  std::vector<std::string> shown_argv{"qgroup", "show", "--raw", "-r", base_.string()};
  auto shown = co_await run(std::move(shown_argv));
  if (!shown) {
    // Quotas off: no limits and no usage to report, not an error for a listing.
    if (shown.error().internal.find("quota") != std::string::npos) co_return std::vector<subvolume_info>{};
    co_return shown.error();
  }
  co_return parse_qgroup_show(*shown);
}

boost::asio::awaitable<result<std::vector<subvolume_info>>> volumes::list(std::string prefix) {
  std::vector<std::string> listed_argv{"subvolume", "list", base_.string()};
  auto listed = co_await run(std::move(listed_argv));
  if (!listed) co_return listed.error();
  std::vector<subvolume_info> all = parse_subvolume_list(*listed);
  std::vector<subvolume_info> out;
  for (auto& entry : all) {
    if (entry.path.starts_with(prefix)) out.push_back(std::move(entry));
  }
  if (out.empty()) co_return out;
  auto groups = co_await qgroups();
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
  auto path = path_of(relative);
  if (!path) co_return path.error();
  if (!is_subvolume(relative)) co_return problem::not_found("filesystem not found");
  std::vector<std::string> root_id_argv{"inspect-internal", "rootid", path->string()};
  auto root_id = co_await run(std::move(root_id_argv));
  if (!root_id) co_return root_id.error();
  std::string_view text = *root_id;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  auto id = number(text);
  if (!id) co_return problem::internal_error("btrfs inspect-internal rootid: unexpected output: " + *root_id);
  subvolume_info out;
  out.id = *id;
  out.path = relative;
  auto groups = co_await qgroups();
  if (!groups) co_return groups.error();
  for (const auto& g : *groups) {
    if (g.id == *id) {
      out.quota = g.quota;
      out.usage = g.usage;
    }
  }
  co_return out;
}

}  // namespace sc::btrfs
