#include "adapters/archive/pack.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

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

}  // namespace

result<pack_report> pack(byte_pipe& sink, const std::string& root, const std::vector<std::string>& paths,
                         storage::archive_format format, std::chrono::milliseconds stall_timeout) {
  pack_report report;
  writer_state state{sink, stall_timeout, {}, 0, false};
  state.buffer.reserve(chunk_size * 2);
  auto fail = [&](problem p) {
    sink.abort_producer();
    return p;
  };

  std::unique_ptr<struct archive, int (*)(struct archive*)> out(archive_write_new(), archive_write_free);
  std::unique_ptr<struct archive, int (*)(struct archive*)> disk(archive_read_disk_new(), archive_read_free);
  if (!out || !disk) return fail(problem::internal_error("libarchive allocation failed"));
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
    return fail(problem::internal_error(std::string("archive_write_open: ") + archive_error_string(w)));
  }
  struct archive* d = disk.get();
  archive_read_disk_set_symlink_physical(d);  // store links, never follow them out of the volume
  archive_read_disk_set_standard_lookup(d);

  const std::string prefix = root + "/";
  std::string data(chunk_size, '\0');
  for (const auto& path : paths) {
    std::string full = path == "." ? root : prefix + path;
    if (archive_read_disk_open(d, full.c_str()) != ARCHIVE_OK) {
      return fail(problem::internal_error(std::string("open ") + path + ": " + archive_error_string(d)));
    }
    for (;;) {
      std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> entry(archive_entry_new(),
                                                                                   archive_entry_free);
      int r = archive_read_next_header2(d, entry.get());
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN)
        return fail(problem::internal_error(std::string("read ") + path + ": " + archive_error_string(d)));
      archive_read_disk_descend(d);
      std::string name = archive_entry_pathname(entry.get());
      if (name == root) continue;  // the volume itself
      if (name.starts_with(prefix)) name.erase(0, prefix.size());
      archive_entry_set_pathname(entry.get(), name.c_str());
      if (archive_write_header(w, entry.get()) < ARCHIVE_WARN) {
        if (state.stalled) return fail(problem(408, "the client stopped reading the download"));
        return fail(problem::internal_error(std::string("write header ") + name + ": " + archive_error_string(w)));
      }
      ++report.entries;
      if (archive_entry_filetype(entry.get()) != AE_IFREG || archive_entry_size(entry.get()) == 0) continue;
      for (;;) {
        la_ssize_t n = archive_read_data(d, data.data(), data.size());
        if (n == 0) break;
        if (n < 0) return fail(problem::internal_error(std::string("read ") + name + ": " + archive_error_string(d)));
        if (archive_write_data(w, data.data(), static_cast<std::size_t>(n)) < 0) {
          if (state.stalled) return fail(problem(408, "the client stopped reading the download"));
          return fail(problem::internal_error(std::string("write ") + name + ": " + archive_error_string(w)));
        }
      }
    }
    archive_read_close(d);
  }
  if (archive_write_close(w) != ARCHIVE_OK) {
    if (state.stalled) return fail(problem(408, "the client stopped reading the download"));
    return fail(problem::internal_error(std::string("finish archive: ") + archive_error_string(w)));
  }
  report.bytes_out = state.bytes_out;
  sink.close_producer();
  return report;
}

}  // namespace sc::archive
