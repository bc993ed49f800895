#include "adapters/archive/extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/storage.hpp"

namespace sc::archive {

std::string error_text(struct ::archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown archive error";
}

namespace {

class fd_guard {
 public:
  explicit fd_guard(int fd = -1) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(fd_guard&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  fd_guard& operator=(fd_guard&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

struct reader_state {
  byte_pipe& source;
  std::chrono::steady_clock::time_point deadline;
  std::string current;
  bool timed_out = false;
  std::optional<std::string> first;  // the chunk taken to sniff the format
};

la_ssize_t read_callback(struct archive* a, void* opaque, const void** buffer) {
  auto* state = static_cast<reader_state*>(opaque);
  std::optional<std::string> chunk;
  if (state->first) {
    chunk = std::move(state->first);
    state->first.reset();
  } else {
    chunk = state->source.pop_blocking(state->deadline);
  }
  if (!chunk) {
    if (state->source.timed_out()) {
      state->timed_out = true;
      archive_set_error(a, ETIMEDOUT, "archive unpack timed out");
      return -1;
    }
    if (state->source.producer_aborted()) {
      archive_set_error(a, ECANCELED, "upload aborted");
      return -1;
    }
    return 0;  // end of the body
  }
  state->current = std::move(*chunk);
  *buffer = state->current.data();
  return static_cast<la_ssize_t>(state->current.size());
}

std::string join(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out;
}

class extractor {
 public:
  extractor(int root_fd, const extract_limits& limits) : root_fd_(root_fd), limits_(limits) {}

  result<void> entry(struct archive* a, struct archive_entry* e, extract_report& report);
  result<fd_guard> open_subpath(const std::vector<std::string>& parts) {
    return open_dir(parts, parts.size(), true, join(parts, parts.size()));
  }
  // Removes what this run created, newest first.
  void roll_back() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      ::unlinkat(root_fd_, it->first.c_str(), it->second ? AT_REMOVEDIR : 0);
    }
    created_.clear();
  }

 private:
  // The directory holding `parts[0..count)`: walked from the root with O_NOFOLLOW, missing
  // directories created when `create`.
  result<fd_guard> open_dir(const std::vector<std::string>& parts, std::size_t count, bool create,
                            const std::string& member);
  result<void> write_file(struct archive* a, struct archive_entry* e, const std::vector<std::string>& parts,
                          const std::string& member, extract_report& report);
  problem refused(const std::string& member, const std::string& why) const {
    return problem::unprocessable("archive", "member \"" + member + "\" refused: " + why);
  }

  int root_fd_;
  const extract_limits& limits_;
  std::vector<std::pair<std::string, bool>> created_;  // relative path, is a directory
};

result<fd_guard> extractor::open_dir(const std::vector<std::string>& parts, std::size_t count, bool create,
                                     const std::string& member) {
  fd_guard dir(::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0));
  if (dir.get() < 0) return problem::internal_error(std::string("dup: ") + std::generic_category().message(errno));
  for (std::size_t i = 0; i < count; ++i) {
    int next = ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), parts[i].c_str(), 0755) == 0) created_.emplace_back(join(parts, i + 1), true);
      next = ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR) return refused(member, "its path passes through a symlink or a file");
      if (errno == EDQUOT || errno == ENOSPC)
        return problem::payload_too_large("the subvolume's quota or space is exhausted");
      return problem::internal_error("open " + join(parts, i + 1) + ": " + std::generic_category().message(errno));
    }
    dir = fd_guard(next);
  }
  return dir;
}

result<void> extractor::write_file(struct archive* a, struct archive_entry* e, const std::vector<std::string>& parts,
                                   const std::string& member, extract_report& report) {
  if (archive_entry_size_is_set(e) != 0) {
    auto declared = static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)));
    if (declared > limits_.max_bytes - report.bytes) {
      return problem::payload_too_large("archive member \"" + member + "\" declares " + std::to_string(declared) +
                                        " bytes; the limit left is " +
                                        std::to_string(limits_.max_bytes - report.bytes));
    }
  }
  auto dir = open_dir(parts, parts.size() - 1, true, member);
  if (!dir) return dir.error();
  const std::string& leaf = parts.back();
  const auto mode = static_cast<mode_t>(archive_entry_perm(e) & 0777);
  int fd = ::openat(dir->get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    created_.emplace_back(join(parts, parts.size()), false);
  } else if (errno == EEXIST) {
    // Replace what is there, but never write through it: a symlink is unlinked, not followed.
    struct stat existing {};
    if (::fstatat(dir->get(), leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(existing.st_mode)) {
      return refused(member, "a directory of that name exists");
    }
    if (!S_ISREG(existing.st_mode)) ::unlinkat(dir->get(), leaf.c_str(), 0);
    fd = ::openat(dir->get(), leaf.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    if (errno == EDQUOT || errno == ENOSPC)
      return problem::payload_too_large("the subvolume's quota or space is exhausted");
    if (errno == ELOOP) return refused(member, "it is a symlink");
    return problem::internal_error("create " + member + ": " + std::generic_category().message(errno));
  }
  fd_guard file(fd);
  const void* block = nullptr;
  std::size_t size = 0;
  la_int64_t offset = 0;
  std::uint64_t end = 0;
  for (;;) {
    int r = archive_read_data_block(a, &block, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return problem::bad_request(std::string("corrupt archive: ") + error_text(a));
    if (std::chrono::steady_clock::now() > limits_.deadline) return problem(408, "archive unpack timed out");
    if (size > limits_.max_bytes - report.bytes) {
      return problem::payload_too_large("the archive unpacks to more than " + std::to_string(limits_.max_bytes) +
                                        " bytes");
    }
    // Sparse members: holes are skipped by writing at the block's offset.
    const char* data = static_cast<const char*>(block);
    std::size_t written = 0;
    while (written < size) {
      ssize_t n = ::pwrite(file.get(), data + written, size - written, offset + static_cast<la_int64_t>(written));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EDQUOT || errno == ENOSPC)
          return problem::payload_too_large("the subvolume's quota or space is exhausted");
        return problem::internal_error("write " + member + ": " + std::generic_category().message(errno));
      }
      written += static_cast<std::size_t>(n);
    }
    report.bytes += size;
    end = std::max<std::uint64_t>(end, static_cast<std::uint64_t>(offset) + size);
  }
  if (archive_entry_size_is_set(e) != 0) {
    auto declared = static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)));
    if (declared > end && ::ftruncate(file.get(), static_cast<off_t>(declared)) != 0) {
      return problem::internal_error("truncate " + member + ": " + std::generic_category().message(errno));
    }
  }
  ::fchmod(file.get(), mode);
  return {};
}

result<void> extractor::entry(struct archive* a, struct archive_entry* e, extract_report& report) {
  const char* raw = archive_entry_pathname(e);
  if (raw == nullptr) raw = archive_entry_pathname_utf8(e);
  if (raw == nullptr) return problem::unprocessable("archive", "a member has no readable name");
  std::string member(raw);
  auto parts = storage::member_components(member, "archive");
  if (!parts)
    return refused(member, parts.error().errors.empty() ? parts.error().detail : parts.error().errors[0].message);
  if (parts->empty()) return {};  // "./": the target itself
  if (++report.entries > limits_.max_entries) {
    return problem::payload_too_large("the archive has more than " + std::to_string(limits_.max_entries) + " members");
  }

  if (const char* link = archive_entry_hardlink(e); link != nullptr) {
    auto source = storage::member_components(link, "archive");
    if (!source || source->empty()) return refused(member, "its hardlink target leaves the target directory");
    auto source_dir = open_dir(*source, source->size() - 1, false, member);
    if (!source_dir) return refused(member, "its hardlink target is not inside the target directory");
    auto dir = open_dir(*parts, parts->size() - 1, true, member);
    if (!dir) return dir.error();
    ::unlinkat(dir->get(), parts->back().c_str(), 0);
    if (::linkat(source_dir->get(), source->back().c_str(), dir->get(), parts->back().c_str(), 0) != 0) {
      return refused(member, std::string("cannot make the hardlink: ") + std::generic_category().message(errno));
    }
    created_.emplace_back(join(*parts, parts->size()), false);
    return {};
  }

  switch (archive_entry_filetype(e)) {
    case AE_IFDIR: {
      auto dir = open_dir(*parts, parts->size(), true, member);
      if (!dir) return dir.error();
      ::fchmod(dir->get(), static_cast<mode_t>((archive_entry_perm(e) & 0777) | 0700));
      return {};
    }
    case AE_IFREG:
      return write_file(a, e, *parts, member, report);
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr || !storage::symlink_stays_inside(*parts, target)) {
        return refused(member, "its symlink points outside the target directory");
      }
      auto dir = open_dir(*parts, parts->size() - 1, true, member);
      if (!dir) return dir.error();
      struct stat existing {};
      if (::fstatat(dir->get(), parts->back().c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(existing.st_mode)) return refused(member, "a directory of that name exists");
        ::unlinkat(dir->get(), parts->back().c_str(), 0);
      }
      if (::symlinkat(target, dir->get(), parts->back().c_str()) != 0) {
        return problem::internal_error("symlink " + member + ": " + std::generic_category().message(errno));
      }
      created_.emplace_back(join(*parts, parts->size()), false);
      return {};
    }
    default:
      // Device nodes, FIFOs, sockets: never created from an upload.
      --report.entries;
      ++report.skipped;
      return {};
  }
}

}  // namespace

result<extract_report> extract(byte_pipe& source, int target, const std::vector<std::string>& subpath,
                               const extract_limits& limits) {
  struct consumer_closer {
    byte_pipe& pipe;
    ~consumer_closer() { pipe.close_consumer(); }
  } closer{source};

  fd_guard volume(::fcntl(target, F_DUPFD_CLOEXEC, 0));
  if (volume.get() < 0)
    return problem::internal_error(std::string("dup target: ") + std::generic_category().message(errno));
  // The subpath is made like a member's directories (walked without following symlinks), and
  // what it created is rolled back with the members.
  extractor walker(volume.get(), limits);
  auto opened = walker.open_subpath(subpath);
  if (!opened) return opened.error();
  fd_guard root = std::move(*opened);
  auto give_up = [&walker](problem p) {
    walker.roll_back();
    return p;
  };

  std::unique_ptr<struct archive, int (*)(struct archive*)> reader(archive_read_new(), archive_read_free);
  if (!reader) return give_up(problem::internal_error("archive_read_new failed"));
  struct archive* a = reader.get();
  // Only the formats and filters the API promises; libarchive's other readers (iso, cpio, rar,
  // ...) are more attack surface for no use.
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  archive_read_support_format_zip_streamable(a);
  archive_read_support_format_7zip(a);

  reader_state state{source, limits.deadline, {}, false, source.pop_blocking(limits.deadline)};
  // 7z keeps its index at the end, so libarchive must seek: only that format is spooled, into an
  // unnamed O_TMPFILE inside the target volume (counted against its quota, gone when closed).
  fd_guard spool;
  static constexpr std::string_view seven_zip_magic("7z\xBC\xAF\x27\x1C", 6);
  int open_status = ARCHIVE_FATAL;
  if (state.first && state.first->starts_with(seven_zip_magic)) {
    spool = fd_guard(::openat(volume.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (spool.get() < 0)
      return give_up(problem::internal_error(std::string("O_TMPFILE: ") + std::generic_category().message(errno)));
    std::uint64_t spooled = 0;
    std::optional<std::string> chunk = std::move(state.first);
    state.first.reset();
    while (chunk) {
      spooled += chunk->size();
      if (spooled > limits.max_bytes)
        return give_up(problem::payload_too_large("the 7z archive is larger than the volume can hold"));
      if (::write(spool.get(), chunk->data(), chunk->size()) != static_cast<ssize_t>(chunk->size())) {
        if (errno == EDQUOT || errno == ENOSPC)
          return give_up(problem::payload_too_large("the subvolume's quota or space is exhausted"));
        return give_up(problem::internal_error(std::string("spool 7z: ") + std::generic_category().message(errno)));
      }
      chunk = source.pop_blocking(limits.deadline);
    }
    if (source.timed_out()) return give_up(problem(408, "archive unpack timed out"));
    if (source.producer_aborted()) return give_up(problem::bad_request("the upload ended before the archive did"));
    ::lseek(spool.get(), 0, SEEK_SET);
    open_status = archive_read_open_fd(a, spool.get(), std::size_t{64} * 1024);
  } else {
    open_status = archive_read_open(a, &state, nullptr, read_callback, nullptr);
  }
  if (open_status != ARCHIVE_OK) {
    if (state.timed_out) return give_up(problem(408, "archive unpack timed out"));
    return give_up(problem::bad_request(std::string("not a supported archive (tar, tar.gz, tar.bz2, tar.xz, zip): ") +
                                        error_text(a)));
  }
  extractor out(root.get(), limits);
  extract_report report;
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    problem failure;
    bool failed = false;
    if (r < ARCHIVE_WARN) {
      failed = true;
      if (state.timed_out || std::chrono::steady_clock::now() > limits.deadline) {
        failure = problem(408, "archive unpack timed out; partial output removed");
      } else if (source.producer_aborted()) {
        failure = problem::bad_request("the upload ended before the archive did");
      } else {
        failure = problem::bad_request(std::string(report.entries == 0 ? "not a supported archive (tar, tar.gz, "
                                                                         "tar.bz2, tar.xz, zip): "
                                                                       : "corrupt archive: ") +
                                       error_text(a));
      }
    } else if (std::chrono::steady_clock::now() > limits.deadline) {
      failed = true;
      failure = problem(408, "archive unpack timed out; partial output removed");
    } else if (auto ok = out.entry(a, e, report); !ok) {
      failed = true;
      failure = ok.error();
      if (state.timed_out) failure = problem(408, "archive unpack timed out; partial output removed");
    }
    if (failed) {
      out.roll_back();
      walker.roll_back();
      if (failure.status == 408 && failure.detail.find("removed") == std::string::npos) {
        failure.detail += "; partial output removed";
      }
      return failure;
    }
    if (report.format.empty()) {
      if (const char* name = archive_format_name(a)) report.format = name;
    }
  }
  return report;
}

}  // namespace sc::archive
