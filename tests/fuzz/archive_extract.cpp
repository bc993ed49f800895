// Archive extraction (adapters/archive/extract.hpp) of hostile in-memory archives: tar, zip and 7z
// as given, or the input wrapped in gzip, bzip2 or xz first (so the fuzzer mutates the archive
// inside the compression, not only the compressed bytes). Each run unpacks into an empty temp
// directory beneath a scratch directory. Whatever the archive says:
//   * nothing appears beside the target (no traversal, no write through a symlink);
//   * a refusal is a 4xx and leaves the target as empty as it was;
//   * what was made holds no device node, FIFO, socket, set-id bit, or symlink leading outside.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "adapters/archive/byte_pipe.hpp"
#include "adapters/archive/extract.hpp"
#include "adapters/file_io/beneath.hpp"
#include "core/storage.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
using sc::fuzz::check;

// The scratch directory: `target` is emptied after every run, `beside` must stay empty.
struct scratch {
  fs::path root;
  fs::path target;
  fs::path beside;
  sc::file_io::unique_fd target_fd;  // extract() unpacks beneath a directory fd, as the storage service opens it
  scratch() {
    std::string pattern = (fs::temp_directory_path() / "sc-fuzz-archive-XXXXXX").string();
    check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    root = pattern;
    target = root / "target";
    beside = root / "beside";
    fs::create_directory(target);
    fs::create_directory(beside);
    target_fd = sc::file_io::unique_fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    check(target_fd.get() >= 0, "open the target directory");
  }
  ~scratch() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
};

la_ssize_t append(struct archive*, void* out, const void* data, std::size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

// `bytes` compressed with one of libarchive's filters (the "raw" format writes the data as is).
std::string compressed(std::string_view bytes, int filter) {
  std::string out;
  std::unique_ptr<struct archive, int (*)(struct archive*)> writer(archive_write_new(), archive_write_free);
  struct archive* a = writer.get();
  archive_write_set_format_raw(a);
  if (filter == 1) archive_write_add_filter_gzip(a);
  if (filter == 2) archive_write_add_filter_bzip2(a);
  if (filter == 3) archive_write_add_filter_xz(a);
  // The fastest level: the point is the framing, not the ratio (xz's default dictionary alone
  // would cost milliseconds per run).
  archive_write_set_filter_option(a, nullptr, "compression-level", "1");
  archive_write_set_bytes_in_last_block(a, 1);
  check(archive_write_open(a, &out, nullptr, append, nullptr) == ARCHIVE_OK, "archive_write_open");
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
  archive_write_header(a, e);
  archive_write_data(a, bytes.data(), bytes.size());
  archive_entry_free(e);
  archive_write_close(a);
  return out;
}

// Walks what was extracted, without following symlinks.
void check_tree(const fs::path& target) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(target, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    check(::lstat(it->path().c_str(), &st) == 0, "lstat of an extracted entry");
    check(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode), "only files, directories and symlinks");
    check((st.st_mode & (S_ISUID | S_ISGID)) == 0, "no set-id bits");
    if (S_ISLNK(st.st_mode)) {
      auto relative = it->path().lexically_relative(target);
      std::vector<std::string> components;
      for (const auto& part : relative) components.push_back(part.string());
      check(sc::storage::symlink_stays_inside(components, fs::read_symlink(it->path()).string()),
            "symlinks stay inside the target");
    }
  }
}

bool empty_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) && !ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static scratch dirs;
  static boost::asio::io_context io;
  sc::fuzz::input in(data, size);
  const int filter = in.byte() % 4;
  std::string archive = filter == 0 ? std::string(in.rest()) : compressed(in.rest(), filter);

  sc::archive::extract_limits limits{.max_bytes = 8 << 20,
                                     .max_entries = 2000,
                                     .deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20)};
  auto pipe = std::make_shared<sc::archive::byte_pipe>(io.get_executor(), archive.size() / 4096 + 2);
  for (std::size_t at = 0; at < archive.size(); at += 4096) {
    check(pipe->push_blocking(archive.substr(at, 4096), limits.deadline), "the pipe takes every chunk");
  }
  pipe->close_producer();
  auto report = sc::archive::extract(*pipe, dirs.target_fd.get(), {"unpack"}, limits);

  check(empty_dir(dirs.beside), "nothing is written beside the target");
  if (report) {
    check(report->bytes <= limits.max_bytes && report->entries <= limits.max_entries, "the limits hold");
    check_tree(dirs.target);
  } else {
    // A hostile archive is the client's fault: a 4xx, never a 500 (the target is a plain tmpfs
    // or disk directory with room to spare).
    sc::fuzz::check_client_problem(report.error(), "extract");
    check(empty_dir(dirs.target), "a refused archive leaves nothing behind");
  }
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(dirs.target, ignored)) fs::remove_all(entry.path(), ignored);
  return 0;
}
