#include "server/vm_image_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <system_error>

#include "adapters/asio/completion.hpp"
#include "adapters/file_io/beneath.hpp"
#include "adapters/http_client/download.hpp"
#include "adapters/process/spawn.hpp"
#include "core/log.hpp"
#include "server/lifecycle.hpp"
#include "server/storage_service.hpp"

namespace sc::server {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr std::string_view subvolume = "vm-images";
constexpr std::chrono::seconds inspect_timeout{60};
// A progress frame at most every 1% of a known length, and never more often than every 64 MiB,
// so the frames an operation keeps for late watchers stay few.
constexpr std::uint64_t progress_granularity = std::uint64_t{64} << 20;

std::string errno_text(int error) {
  return std::generic_category().message(error);
}

// Removes the temporary files of an upload unless it was committed; runs on every way out of the
// upload coroutine, including its destruction at shutdown (unlinkat on a held directory fd:
// microseconds, fine on the loop).
struct temporary_files {
  temporary_files(std::shared_ptr<file_io::unique_fd> dir, std::vector<std::string> files)
      : directory(std::move(dir)), names(std::move(files)) {}
  std::shared_ptr<file_io::unique_fd> directory;
  std::vector<std::string> names;
  temporary_files(const temporary_files&) = delete;
  temporary_files& operator=(const temporary_files&) = delete;
  ~temporary_files() {
    for (const auto& name : names) {
      if (::unlinkat(directory->get(), name.c_str(), 0) != 0 && errno != ENOENT) {
        log::warning("vm-images: could not remove " + name + ": " + errno_text(errno));
      }
    }
  }
};

// The first line of qemu-img's complaint, for the client (it names only our own relative file).
std::string first_line(std::string_view text) {
  auto end = text.find('\n');
  std::string line(text.substr(0, std::min<std::size_t>(end, 300)));
  return line.empty() ? std::string("no diagnostic") : line;
}

// One upload per name: the claim is released on every way out.
struct upload_claim {
  upload_claim(std::set<std::string>& claimed, std::string claimed_name)
      : names(claimed), name(std::move(claimed_name)) {
    names.insert(name);
  }
  std::set<std::string>& names;
  std::string name;
  upload_claim(const upload_claim&) = delete;
  upload_claim& operator=(const upload_claim&) = delete;
  ~upload_claim() { names.erase(name); }
};

}  // namespace

vm_image_store::vm_image_store(storage_service& storage, file_io::file_ring& files,
                               const std::filesystem::path& btrfs_root, options opts)
    : storage_(storage), files_(files), directory_(btrfs_root / subvolume), options_(std::move(opts)) {}

asio::awaitable<result<std::vector<vm_image_store::image>>> vm_image_store::list() {
  if (auto ready = co_await storage_.ready(); !ready) co_return ready.error();
  auto directory = storage_.volumes().open_subvolume(subvolume, {"name", "vm-images"});
  if (!directory) co_return directory.error();
  // fdopendir takes the fd over; the listing reads names only, every entry is checked by fstatat
  // on the directory fd without following links.
  auto listing_fd = file_io::open_beneath(directory->get(), ".", O_RDONLY | O_DIRECTORY);
  if (!listing_fd) co_return listing_fd.error();
  DIR* dir = ::fdopendir(listing_fd->get());
  if (dir == nullptr) co_return problem::internal_error("fdopendir vm-images: " + errno_text(errno));
  (void)listing_fd->release();
  std::vector<image> images;
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (!vm_images::is_listed_image(name)) continue;
    struct stat info {};
    if (::fstatat(directory->get(), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(info.st_mode)) {
      continue;
    }
    images.push_back({std::string(name), static_cast<std::uint64_t>(info.st_size)});
  }
  ::closedir(dir);
  std::sort(images.begin(), images.end(), [](const image& a, const image& b) { return a.name < b.name; });
  co_return images;
}

asio::awaitable<result<void>> vm_image_store::remove(std::string name) {
  // An upload's own files (the image, its download and its conversion) wait until it ends.
  for (std::string_view suffix : {std::string_view(), std::string_view(".download"), std::string_view(".converting")}) {
    if (name.ends_with(suffix) && uploading_.contains(name.substr(0, name.size() - suffix.size()))) {
      co_return problem::conflict("the image " + name + " is being uploaded");
    }
  }
  if (auto ready = co_await storage_.ready(); !ready) co_return ready.error();
  auto directory = storage_.volumes().open_subvolume(subvolume, {"name", "vm-images"});
  if (!directory) co_return directory.error();
  struct stat info {};
  if (::fstatat(directory->get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) co_return problem::not_found("VM image " + name + " not found");
    co_return problem::internal_error("fstatat vm-images/" + name + ": " + errno_text(errno));
  }
  if (S_ISDIR(info.st_mode)) co_return problem::unprocessable("name", "not a VM image: " + name);
  if (::unlinkat(directory->get(), name.c_str(), 0) != 0) {
    co_return problem::internal_error("unlinkat vm-images/" + name + ": " + errno_text(errno));
  }
  log::info("vm-images: deleted " + name);
  co_return result<void>{};
}

asio::awaitable<result<std::string>> vm_image_store::upload(upload_request request,
                                                            std::shared_ptr<operation_progress> progress) {
  const std::string name = request.name;
  if (uploading_.contains(name)) co_return problem::conflict("the image " + name + " is already being uploaded");
  upload_claim claim(uploading_, name);

  if (auto ready = co_await storage_.ready(); !ready) co_return ready.error();
  auto opened = storage_.volumes().open_subvolume(subvolume, {"name", "vm-images"});
  if (!opened) co_return opened.error();
  auto directory = std::make_shared<file_io::unique_fd>(std::move(*opened));
  struct stat existing {};
  if (::fstatat(directory->get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    co_return problem::conflict("the image " + name + " exists; delete it first");
  }
  const std::string downloading = name + ".download";
  const std::string converting = name + ".converting";
  // Left over from a crash: ours (the names are reserved for uploads of this name), so remove them.
  std::vector<std::string> temporary_names{downloading, converting};
  temporary_files temporaries(directory, std::move(temporary_names));
  for (const auto& leftover : temporaries.names) (void)::unlinkat(directory->get(), leftover.c_str(), 0);

  auto file =
      file_io::open_beneath(directory->get(), downloading, O_WRONLY | O_CREAT | O_EXCL, 0600, {"name", "VM image"});
  if (!file) co_return file.error();

  progress->step("downloading");
  http_client::download_options fetch;
  fetch.max_bytes = request.max_size;
  fetch.allowed = options_.allowed;
  std::uint64_t reported = 0;
  fetch.on_progress = [progress, &reported](std::uint64_t done, std::optional<std::uint64_t> total) {
    const std::uint64_t step = std::max(progress_granularity, total.value_or(0) / 100);
    if (done - reported >= step || (total && done == *total)) {
      reported = done;
      progress->step("downloading", done, total);
    }
  };
  asio::steady_timer deadline(co_await asio::this_coro::executor);
  deadline.expires_after(options_.download_timeout);
  log::info("vm-images: downloading " + request.url.text + " as " + name);
  auto raced = co_await (http_client::download(request.url, file->get(), files_, std::move(fetch)) ||
                         deadline.async_wait(io_result));
  if (raced.index() == 1) {
    co_return problem::gateway_timeout("the download did not finish within " +
                                       std::to_string(options_.download_timeout.count() / 1000) + " seconds");
  }
  auto downloaded = std::move(std::get<0>(raced));
  if (!downloaded) co_return downloaded.error();
  file->reset();
  log::info("vm-images: " + std::to_string(downloaded->bytes) + " bytes from " + downloaded->final_url);

  // qemu-img runs in the subvolume on "./<name>": a relative path never reads as an option or as
  // one of qemu's protocol prefixes ("nbd:", "json:"), and core's names hold no ':' anyway.
  progress->step("inspecting");
  process::spawn_request inspect;
  inspect.argv = {"qemu-img", "info", "--output=json", "./" + downloading};
  inspect.cwd = directory_.string();
  inspect.timeout = inspect_timeout;
  auto inspected = co_await process::run_process(std::move(inspect));
  if (!inspected) co_return inspected.error();
  if (inspected->timed_out) co_return problem::gateway_timeout("qemu-img info did not finish in time");
  if (!inspected->ok()) {
    co_return problem::unprocessable("url", "not a disk image qemu-img can read: " + first_line(inspected->err));
  }
  auto facts = vm_images::check_image_info(inspected->out, request.max_size);
  if (!facts) co_return facts.error();

  progress->step("converting");
  process::spawn_request convert;
  // -f: the format inspected above, never probed again.
  convert.argv = {"qemu-img", "convert", "-f", facts->format, "-O", "raw", "./" + downloading, "./" + converting};
  convert.cwd = directory_.string();
  convert.timeout = options_.convert_timeout;
  auto converted = co_await process::run_process(std::move(convert));
  if (!converted) co_return converted.error();
  if (converted->timed_out) co_return problem::gateway_timeout("qemu-img convert did not finish in time");
  if (!converted->ok()) {
    co_return problem::unprocessable("url", "qemu-img could not convert the image: " + first_line(converted->err));
  }
  if (::syscall(SYS_renameat2, directory->get(), converting.c_str(), directory->get(), name.c_str(),
                RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) co_return problem::conflict("the image " + name + " appeared meanwhile");
    co_return problem::internal_error("renameat2 vm-images/" + name + ": " + errno_text(errno));
  }
  log::info("vm-images: stored " + name + " (" + facts->format + ", " + std::to_string(facts->virtual_size) +
            " bytes of disk)");
  co_return name;  // the download is removed by `temporaries`
}

}  // namespace sc::server
