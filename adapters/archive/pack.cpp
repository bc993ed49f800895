#include "adapters/archive/pack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "adapters/archive/extract.hpp"
#include "adapters/file_io/beneath.hpp"

namespace sc::archive {

namespace {

constexpr std::size_t chunk_size = std::size_t{64} * 1024;

struct writer_state {
  byte_pipe& sink;
  std::chrono::milliseconds stall_timeout;
  std::string buffer;
  std::uint64_t bytes_out = 0;
  bool stalled = false;

  bool flush() {
    if (buffer.empty()) return true;
    bytes_out += buffer.size();
    std::string chunk;
    chunk.reserve(chunk_size);
    chunk.swap(buffer);
    if (!sink.push_blocking(std::move(chunk), std::chrono::steady_clock::now() + stall_timeout)) {
      stalled = true;
      return false;
    }
    return true;
  }
};

la_ssize_t write_callback(struct archive* a, void* opaque, const void* data, std::size_t size) {
  auto* state = static_cast<writer_state*>(opaque);
  state->buffer.append(static_cast<const char*>(data), size);
  if (state->buffer.size() >= chunk_size && !state->flush()) {
    archive_set_error(a, EPIPE, "the client stopped reading");
    return -1;
  }
  return static_cast<la_ssize_t>(size);
}

int close_callback(struct archive*, void* opaque) {
  auto* state = static_cast<writer_state*>(opaque);
  return state->flush() ? ARCHIVE_OK : ARCHIVE_FATAL;
}

using file_io::unique_fd;

// Deeper trees are refused rather than walked with one open fd per level.
constexpr int max_depth = 1024;

class packer {
 public:
  packer(struct archive* out, writer_state& state, pack_report& report)
      : out_(out), state_(state), report_(report), data_(chunk_size, '\0') {}

  // Adds `leaf` of `dir` (and everything below it) as `name`. Entries that vanish or change type
  // while the walk runs are skipped: the tree is live.
  result<void> add(int dir, const std::string& leaf, const std::string& name, int depth);
  // Adds every entry of the directory `dir`, named `prefix` + entry.
  result<void> add_children(int dir, const std::string& prefix, int depth);

 private:
  result<void> header(const struct stat& info, const std::string& name, const std::string* link_target);
  result<void> data(int fd, std::uint64_t size, const std::string& name);
  problem write_failure(const std::string& what, const std::string& name) const {
    if (state_.stalled) return problem(408, "the client stopped reading the download");
    return problem::internal_error(what + " " + name + ": " + error_text(out_));
  }

  struct archive* out_;
  writer_state& state_;
  pack_report& report_;
  std::string data_;
};

result<void> packer::header(const struct stat& info, const std::string& name, const std::string* link_target) {
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> entry(archive_entry_new(), archive_entry_free);
  archive_entry_copy_stat(entry.get(), &info);
  if (!S_ISREG(info.st_mode)) archive_entry_set_size(entry.get(), 0);
  archive_entry_set_pathname(entry.get(), name.c_str());
  if (link_target != nullptr) archive_entry_set_symlink(entry.get(), link_target->c_str());
  if (archive_write_header(out_, entry.get()) < ARCHIVE_WARN) return write_failure("write header", name);
  ++report_.entries;
  return {};
}

result<void> packer::data(int fd, std::uint64_t size, const std::string& name) {
  // The header promised `size` bytes: a file that shrinks meanwhile is padded with zeros, one that
  // grows is cut at `size`.
  std::uint64_t left = size;
  bool at_end = false;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, data_.size()));
    ssize_t n = 0;
    if (!at_end) {
      n = ::read(fd, data_.data(), want);
      if (n < 0) {
        if (errno == EINTR) continue;
        return problem::internal_error("read " + name + ": " + std::generic_category().message(errno));
      }
    }
    if (n == 0) {
      at_end = true;
      std::fill_n(data_.begin(), want, '\0');
      n = static_cast<ssize_t>(want);
    }
    if (archive_write_data(out_, data_.data(), static_cast<std::size_t>(n)) < 0) return write_failure("write", name);
    left -= static_cast<std::uint64_t>(n);
  }
  return {};
}

result<void> packer::add(int dir, const std::string& leaf, const std::string& name, int depth) {
  struct stat info {};
  if (::fstatat(dir, leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return problem::internal_error("stat " + name + ": " + std::generic_category().message(errno));
  }
  if (S_ISLNK(info.st_mode)) {
    std::string target(4096, '\0');
    ssize_t n = ::readlinkat(dir, leaf.c_str(), target.data(), target.size());
    if (n < 0) return errno == ENOENT || errno == EINVAL ? result<void>() : problem::internal_error("readlink " + name);
    target.resize(static_cast<std::size_t>(n));
    return header(info, name, &target);
  }
  if (S_ISREG(info.st_mode)) {
    // O_NONBLOCK: if a FIFO was swapped in after the fstatat, opening it must not wait for a writer.
    unique_fd file(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!file || ::fstat(file.get(), &info) != 0 || !S_ISREG(info.st_mode)) return {};
    if (auto written = header(info, name, nullptr); !written) return written;
    return data(file.get(), static_cast<std::uint64_t>(info.st_size), name);
  }
  if (S_ISDIR(info.st_mode)) {
    if (depth >= max_depth) {
      return problem::unprocessable("paths", "directory tree deeper than " + std::to_string(max_depth) + " levels");
    }
    unique_fd child(::openat(dir, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child || ::fstat(child.get(), &info) != 0 || !S_ISDIR(info.st_mode)) return {};
    if (auto written = header(info, name, nullptr); !written) return written;
    return add_children(child.get(), name + "/", depth + 1);
  }
  if (S_ISSOCK(info.st_mode)) return {};  // tar has no socket type
  return header(info, name, nullptr);     // FIFOs and device nodes: the header only
}

result<void> packer::add_children(int dir, const std::string& prefix, int depth) {
  std::vector<std::string> names;
  {
    int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return problem::internal_error(std::string("dup: ") + std::generic_category().message(errno));
    DIR* listing = ::fdopendir(copy);
    if (listing == nullptr) {
      ::close(copy);
      return problem::internal_error("opendir " + prefix + ": " + std::generic_category().message(errno));
    }
    ::rewinddir(listing);
    while (const dirent* entry = ::readdir(listing)) {
      std::string_view entry_name(entry->d_name);
      if (entry_name != "." && entry_name != "..") names.emplace_back(entry_name);
    }
    ::closedir(listing);
  }
  std::sort(names.begin(), names.end());
  for (const auto& entry_name : names) {
    if (auto added = add(dir, entry_name, prefix + entry_name, depth); !added) return added;
  }
  return {};
}

}  // namespace

result<pack_report> pack(byte_pipe& sink, int root, const std::vector<std::string>& paths,
                         storage::archive_format format, std::chrono::milliseconds stall_timeout) {
  pack_report report;
  writer_state state{sink, stall_timeout, {}, 0, false};
  state.buffer.reserve(chunk_size * 2);
  auto fail = [&](problem p) {
    sink.abort_producer();
    return p;
  };

  std::unique_ptr<struct archive, int (*)(struct archive*)> out(archive_write_new(), archive_write_free);
  if (!out) return fail(problem::internal_error("libarchive allocation failed"));
  struct archive* w = out.get();
  switch (format) {
    case storage::archive_format::tar_gz:
      archive_write_add_filter_gzip(w);
      break;
    case storage::archive_format::tar_bz2:
      archive_write_add_filter_bzip2(w);
      break;
    case storage::archive_format::tar_xz:
      archive_write_add_filter_xz(w);
      break;
  }
  archive_write_set_format_pax_restricted(w);
  if (archive_write_open(w, &state, nullptr, write_callback, close_callback) != ARCHIVE_OK) {
    return fail(problem::internal_error(std::string("archive_write_open: ") + error_text(w)));
  }
  packer walker(w, state, report);
  constexpr file_io::lookup_names names{"paths", "path"};
  for (const auto& path : paths) {
    result<void> added;
    if (path == ".") {
      added = walker.add_children(root, "", 0);
    } else {
      auto parent = file_io::open_parent_beneath(root, path, names);
      if (!parent) return fail(parent.error());
      struct stat info {};
      if (::fstatat(parent->parent.get(), parent->leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
        return fail(file_io::lookup_problem(errno, path, names));
      }
      if (S_ISLNK(info.st_mode)) return fail(file_io::lookup_problem(ELOOP, path, names));
      added = walker.add(parent->parent.get(), parent->leaf, path, 0);
    }
    if (!added) return fail(added.error());
  }
  if (archive_write_close(w) != ARCHIVE_OK) {
    if (state.stalled) return fail(problem(408, "the client stopped reading the download"));
    return fail(problem::internal_error(std::string("finish archive: ") + error_text(w)));
  }
  report.bytes_out = state.bytes_out;
  sink.close_producer();
  return report;
}

}  // namespace sc::archive
