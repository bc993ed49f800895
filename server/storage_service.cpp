#include "server/storage_service.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>

#include "adapters/archive/byte_pipe.hpp"
#include "adapters/asio/completion.hpp"
#include "adapters/store/settings_store.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/log.hpp"
#include "core/multipart.hpp"
#include "core/names.hpp"
#include "core/units.hpp"
#include "server/body_stream.hpp"
#include "server/systemd_service.hpp"

namespace sc::server {

namespace asio = boost::asio;

namespace {

constexpr std::size_t pipe_chunks = 8;  // × ≤64 KiB: the most body data in flight per upload
constexpr std::size_t max_field_bytes = 4096;

// Collects the small form fields the caller named and stages the archive part's bytes of one
// feed() call.
struct upload_form : multipart::part_handler {
  std::vector<std::string> names;                           // the fields wanted
  std::vector<std::pair<std::string, std::string>> values;  // those that came, in order
  bool archive_begun = false;
  bool archive_ended = false;
  std::vector<std::string> staged;  // archive bytes of the current feed() call
  std::string* field = nullptr;     // the small field being read, if any
  bool in_archive = false;

  const std::string* value(std::string_view name) const {
    for (const auto& [key, text] : values) {
      if (key == name) return &text;
    }
    return nullptr;
  }
  result<void> on_part_begin(const multipart::part_info& part) override {
    field = nullptr;
    in_archive = false;
    if (part.name == "archive") {
      if (archive_begun) return problem::bad_request("only one archive part is allowed");
      archive_begun = in_archive = true;
      return {};
    }
    if (std::find(names.begin(), names.end(), part.name) == names.end()) return {};
    if (archive_begun) {
      return problem::bad_request("the " + part.name + " field must come before the archive in the form");
    }
    auto existing = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == part.name; });
    if (existing == values.end()) {
      values.emplace_back(part.name, std::string());
      field = &values.back().second;
    } else {
      field = &existing->second;
      field->clear();
    }
    return {};
  }
  result<void> on_part_data(std::string_view data) override {
    if (in_archive) {
      staged.emplace_back(data);
    } else if (field != nullptr) {
      if (field->size() + data.size() > max_field_bytes) return problem::bad_request("a form field is too large");
      field->append(data);
    }
    return {};
  }
  result<void> on_part_end() override {
    if (in_archive) archive_ended = true;
    in_archive = false;
    field = nullptr;
    return {};
  }
};

// The storage upload's target (behavior-ops.md §4.1): the named subvolume, an optional subpath,
// and the service to stop. A named coroutine: `storage` and `pause` outlive the upload awaiting it.
asio::awaitable<result<storage_service::upload_destination>> resolve_storage_upload(
    storage_service* storage, service_pause* pause, storage_service::upload_fields fields) {
  std::optional<std::string> subvolume_field;
  std::string subpath_field, stop_service;
  for (auto& [key, text] : fields) {
    if (key == "subvolume") {
      subvolume_field = std::move(text);
    } else if (key == "subpath") {
      subpath_field = std::move(text);
    } else if (key == "stop_service") {
      stop_service = std::move(text);
    }
  }
  if (!subvolume_field || subvolume_field->empty()) co_return problem::bad_request("subvolume field is required");
  auto volume = storage::archive_volume_path(*subvolume_field, "subvolume");
  if (!volume) co_return volume.error();
  std::vector<std::string> subpath;
  if (!subpath_field.empty()) {
    auto parts = storage::member_components(subpath_field, "subpath");
    if (!parts) co_return parts.error();
    subpath = std::move(*parts);
  }
  if (auto allowed = units::check_stop_service(stop_service); !allowed) co_return allowed.error();
  if (auto ready_now = co_await storage->ready(); !ready_now) co_return ready_now.error();
  // The volume is resolved beneath the btrfs root without following links, once; the
  // extraction writes through this fd, never through a path string.
  auto target = storage->volumes().open_subvolume(*volume, {"subvolume", "subvolume"});
  if (!target) co_return target.error();
  storage_service::upload_destination destination;
  // Decompression bombs stop at what the volume can hold: its quota headroom, else free space.
  destination.max_bytes = co_await storage->extraction_budget(*volume, target->get());
  destination.directory = std::move(*target);
  destination.subpath = std::move(subpath);
  pause->set_unit(stop_service);
  if (auto stopped = co_await pause->stop(); !stopped) co_return stopped.error();
  co_return destination;
}

// Runs `work` on `pool` and completes `job` with its verdict; `on_pool_refused` closes the pipe
// side the work would have closed. A named coroutine with parameters by value: it outlives the
// request that started it only until the job completes, which the request always awaits.
template <class Report, class Work, class Close>
asio::awaitable<void> run_archive_job(pool::work_queue& pool, Work work, Close on_pool_refused,
                                      std::shared_ptr<archive_job<Report>> job) {
  auto ran = co_await pool.run(std::move(work));
  if (!ran) {
    on_pool_refused();
    job->complete(ran.error());
  } else {
    job->complete(std::move(*ran));
  }
}

// Spawns run_archive_job; an escaped exception completes the job (never leave a request waiting).
template <class Report, class Work, class Close>
std::shared_ptr<archive_job<Report>> spawn_archive_job(asio::any_io_executor loop, pool::work_queue& pool, Work work,
                                                       Close close_pipe, const char* what) {
  auto job = std::make_shared<archive_job<Report>>(loop);
  asio::co_spawn(loop, run_archive_job<Report>(pool, std::move(work), close_pipe, job),
                 [job, close_pipe, what](const std::exception_ptr& e) {
                   if (!e || job->completed()) return;
                   log_escaped{what}(e);
                   close_pipe();
                   job->complete(problem::internal_error(std::string(what) + " failed"));
                 });
  return job;
}

}  // namespace

asio::awaitable<result<void>> service_pause::stop() {
  result<void> outcome;
  if (!unit_.empty()) {
    auto manager = co_await systemd_.manager(bus_);
    if (!manager) {
      outcome = manager.error();
    } else {
      // Marked before the call: a stop that half-happened still gets its start.
      stopped_ = true;
      std::string mode = "replace";  // named: no default-argument temporaries in co_await (GCC 12)
      auto done = co_await (*manager)->stop_unit(unit_, mode);
      if (!done) {
        problem p = done.error();
        p.detail = "stop service " + unit_ + ": " + p.detail;
        outcome = p;
      } else if (*done != "done") {
        outcome = problem::internal_error("stop service " + unit_ + ": job " + *done);
      }
    }
  }
  co_return outcome;
}

asio::awaitable<void> service_pause::restart() {
  if (!stopped_) co_return;
  auto manager = co_await systemd_.manager(bus_);
  if (!manager) {
    log::error("start service " + unit_ + " after archive: " + manager.error().detail);
    co_return;
  }
  std::string mode = "replace";
  auto done = co_await (*manager)->start_unit(unit_, mode);
  if (!done) log::error("start service " + unit_ + " after archive: " + done.error().detail);
}

storage_service::storage_service(const std::filesystem::path& btrfs_root, pool::work_queue& archives)
    : volumes_(std::filesystem::absolute(btrfs_root).lexically_normal()), archive_pool_(archives) {}

storage_service::~storage_service() = default;

asio::awaitable<result<void>> storage_service::ready() {
  // One named result returned on every path: GCC 12 warns of an uninitialised temporary otherwise.
  result<void> outcome;
  if (!roots_ready_) {
    outcome = co_await volumes_.ensure_roots();
    roots_ready_ = outcome.has_value();
  }
  co_return outcome;
}

asio::awaitable<result<storage_service::volume_counts>> storage_service::counts() {
  constexpr auto fresh_for = std::chrono::seconds(2);
  if (counts_ && std::chrono::steady_clock::now() - counts_at_ < fresh_for) co_return *counts_;
  if (auto ready_now = co_await ready(); !ready_now) co_return ready_now.error();
  auto listed = co_await volumes_.list("");
  if (!listed) co_return listed.error();
  volume_counts counted;
  for (const auto& info : *listed) {
    auto entry = storage::classify(info.path);
    if (!entry) continue;
    switch (entry->state) {
      case storage::volume_state::user:
        ++counted.filesystems;
        break;
      case storage::volume_state::installed:
        ++counted.installed;
        break;
      case storage::volume_state::uninstalled:
        ++counted.uninstalled;
        break;
    }
  }
  counts_ = counted;
  counts_at_ = std::chrono::steady_clock::now();
  co_return counted;
}

asio::awaitable<std::uint64_t> storage_service::extraction_budget(std::string relative, int fd) {
  auto info = co_await volumes_.info(std::move(relative));
  struct statfs space {};
  const std::uint64_t free_bytes = ::fstatfs(fd, &space) == 0 ? static_cast<std::uint64_t>(space.f_bavail) *
                                                                    static_cast<std::uint64_t>(space.f_bsize)
                                                              : 0;
  co_return info ? storage::extraction_budget(free_bytes, info->quota, info->usage) : free_bytes;
}

storage_service::upload_limits storage_service::upload_limits::from(const store::settings_store& settings) {
  upload_limits limits;
  limits.max_size =
      static_cast<std::uint64_t>(std::max<std::int64_t>(settings.integer("max_archive_size", 1073741824), 0));
  limits.unpack_timeout = std::chrono::seconds(settings.integer("archive_unpack_timeout", 600));
  return limits;
}

asio::awaitable<result<archive::extract_report>> storage_service::receive_upload(body_stream& body,
                                                                                 std::string_view content_type,
                                                                                 upload_limits limits,
                                                                                 service_pause& pause) {
  std::vector<std::string> names = {"subvolume", "subpath", "stop_service"};
  upload_resolver resolve = [this, &pause](upload_fields fields) {
    return resolve_storage_upload(this, &pause, std::move(fields));
  };
  co_return co_await receive_archive(body, content_type, limits, std::move(names), std::move(resolve));
}

asio::awaitable<result<archive::extract_report>> storage_service::receive_archive(body_stream& body,
                                                                                  std::string_view content_type,
                                                                                  upload_limits limits,
                                                                                  std::vector<std::string> field_names,
                                                                                  upload_resolver resolve) {
  auto boundary = multipart::boundary_of(content_type);
  if (!boundary) co_return boundary.error();
  if (limits.max_size != 0 && body.content_length() > limits.max_size) {  // 0: no limit
    co_return problem::payload_too_large("archive exceeds maximum allowed size (" + std::to_string(limits.max_size) +
                                         " bytes)");
  }
  const auto deadline = std::chrono::steady_clock::now() + limits.unpack_timeout;
  const asio::any_io_executor loop = co_await asio::this_coro::executor;
  // The byte pipe wakes the loop through the io_context's own executor type.
  const auto* loop_context = loop.target<asio::io_context::executor_type>();
  if (loop_context == nullptr) co_return problem::internal_error("receive_upload: not awaited on an io_context");

  multipart::parser parser(*boundary);
  upload_form form;
  form.names = std::move(field_names);
  std::shared_ptr<archive::byte_pipe> pipe;
  std::shared_ptr<archive_job<archive::extract_report>> job;
  std::optional<problem> failure;
  bool consumer_gone = false;
  for (;;) {
    auto chunk = co_await body.read_some();
    if (!chunk) {
      failure = chunk.error();
      break;
    }
    if (chunk->empty()) break;
    if (auto fed = parser.feed(*chunk, form); !fed) {
      failure = fed.error();
      break;
    }
    if (form.archive_begun && !pipe) {
      // The archive starts: everything it needs is known now (fields come first in the form).
      auto destination = co_await resolve(form.values);
      if (!destination) {
        failure = destination.error();
        break;
      }
      archive::extract_limits extract_limits;
      extract_limits.deadline = deadline;
      extract_limits.max_bytes = destination->max_bytes;
      pipe = std::make_shared<archive::byte_pipe>(*loop_context, pipe_chunks);
      auto root = std::make_shared<file_io::unique_fd>(std::move(destination->directory));
      // A named callable: GCC 12 destroys a lambda temporary inside a co_await expression twice.
      auto work = [pipe, root, subpath = std::move(destination->subpath), extract_limits] {
        return archive::extract(*pipe, root->get(), subpath, extract_limits);
      };
      job = spawn_archive_job<archive::extract_report>(
          loop, archive_pool_, std::move(work), [pipe] { pipe->close_consumer(); }, "archive extraction");
    }
    for (auto& piece : form.staged) {
      if (!co_await pipe->push(std::move(piece))) {
        consumer_gone = true;
        break;
      }
    }
    form.staged.clear();
    if (consumer_gone) break;
    if (form.archive_ended) pipe->close_producer();
  }
  if (!failure && !consumer_gone) {
    if (auto finished = parser.finish(); !finished) failure = finished.error();
  }
  if (!failure && !form.archive_begun) failure = problem::bad_request("archive file required");
  if (!pipe) co_return *failure;
  if (failure) {
    pipe->abort_producer();
  } else {
    pipe->close_producer();
  }
  auto outcome = co_await job->finished();
  // The extractor's own verdict explains an early stop; a client fault explains everything else.
  if (failure && !(consumer_gone && !outcome)) co_return *failure;
  co_return outcome;
}

asio::awaitable<result<std::shared_ptr<file_io::unique_fd>>> storage_service::open_download(
    std::string_view subvolume, const std::vector<std::string>& members) {
  auto volume = storage::archive_volume_path(subvolume, "subvolume");
  if (!volume) co_return volume.error();
  if (auto ready_now = co_await ready(); !ready_now) co_return ready_now.error();
  // Resolved beneath the btrfs root without following links; the packer walks from this fd.
  auto root = volumes_.open_subvolume(*volume, {"subvolume", "subvolume"});
  if (!root) co_return root.error();
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& member = members[i];
    if (member == ".") continue;
    const std::string field = "paths[" + std::to_string(i) + "]";
    const std::string what = "path " + member + " in " + std::string(subvolume);
    const file_io::lookup_names names{field, what};
    auto parent = file_io::open_parent_beneath(root->get(), member, names);
    if (!parent) co_return parent.error();
    struct stat info {};
    if (::fstatat(parent->parent.get(), parent->leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      co_return file_io::lookup_problem(errno, member, names);
    }
    if (S_ISLNK(info.st_mode)) co_return file_io::lookup_problem(ELOOP, member, names);
  }
  co_return std::make_shared<file_io::unique_fd>(std::move(*root));
}

std::shared_ptr<archive_job<archive::pack_report>> storage_service::start_packing(
    asio::any_io_executor loop, const std::shared_ptr<archive::byte_pipe>& pipe,
    std::shared_ptr<file_io::unique_fd> root, std::vector<std::string> members, storage::archive_format format) {
  auto work = [pipe, root = std::move(root), members = std::move(members), format] {
    return archive::pack(*pipe, root->get(), members, format, std::chrono::seconds(60));
  };
  return spawn_archive_job<archive::pack_report>(
      std::move(loop), archive_pool_, std::move(work), [pipe] { pipe->abort_producer(); }, "archive packing");
}

}  // namespace sc::server
