// Archive upload and download (behavior-ops.md §4). The upload body is streamed: socket → the
// incremental multipart parser → a bounded byte_pipe → libarchive on the work pool, so neither the
// body nor the archive is ever held whole. The download runs the other way: libarchive on the pool
// → byte_pipe → chunked HTTP. The service named by `stop_service` is stopped before and always
// started again after.
#include <sys/stat.h>
#include <sys/statfs.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/object.hpp>
#include <charconv>

#include "adapters/archive/byte_pipe.hpp"
#include "adapters/archive/extract.hpp"
#include "adapters/archive/pack.hpp"
#include "adapters/asio/completion.hpp"
#include "adapters/store/settings_store.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/log.hpp"
#include "core/multipart.hpp"
#include "core/names.hpp"
#include "core/storage.hpp"
#include "server/app.hpp"
#include "server/body_stream.hpp"
#include "server/connection.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/storage_service.hpp"
#include "server/systemd_service.hpp"

namespace sc::server::handlers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t pipe_chunks = 8;  // × ≤64 KiB: the most body data in flight per upload
constexpr std::size_t max_field_bytes = 4096;

std::uint64_t setting_number(app& services, std::string_view key, std::uint64_t fallback) {
  std::uint64_t value = 0;
  if (auto text = services.system_settings().get(key)) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec == std::errc{} && end == text->data() + text->size() && value > 0) return value;
  }
  return fallback;
}

problem service_name_problem(const std::string& name) {
  return problem::bad_request("invalid systemd service name: \"" + name + "\"");
}

// Stops `unit` (if any) and remembers to start it again; the caller always calls `restart`.
struct service_pause {
  std::string unit;
  bool stopped = false;

  asio::awaitable<result<void>> stop(request_context& context) {
    result<void> outcome;
    if (!unit.empty()) {
      auto manager = co_await context.services.systemd().manager(context.services.bus());
      if (!manager) {
        outcome = manager.error();
      } else {
        // Marked before the call: a stop that half-happened still gets its start.
        stopped = true;
        std::string mode = "replace";  // named: no default-argument temporaries in co_await (GCC 12)
        auto done = co_await (*manager)->stop_unit(unit, mode);
        if (!done) {
          problem p = done.error();
          p.detail = "stop service " + unit + ": " + p.detail;
          outcome = p;
        } else if (*done != "done") {
          outcome = problem::internal_error("stop service " + unit + ": job " + *done);
        }
      }
    }
    co_return outcome;
  }

  asio::awaitable<void> restart(request_context& context) {
    if (!stopped) co_return;
    auto manager = co_await context.services.systemd().manager(context.services.bus());
    if (!manager) {
      log::error("start service " + unit + " after archive: " + manager.error().detail);
      co_return;
    }
    std::string mode = "replace";
    auto done = co_await (*manager)->start_unit(unit, mode);
    if (!done) log::error("start service " + unit + " after archive: " + done.error().detail);
  }
};

// Collects the small form fields and stages the archive part's bytes of one feed() call.
struct upload_form : multipart::part_handler {
  std::string subvolume, subpath, stop_service;
  bool has_subvolume = false;
  bool archive_begun = false;
  bool archive_ended = false;
  std::string archive_filename;
  std::vector<std::string> staged;  // archive bytes of the current feed() call
  std::string* field = nullptr;     // the small field being read, if any
  bool in_archive = false;

  result<void> on_part_begin(const multipart::part_info& part) override {
    field = nullptr;
    in_archive = false;
    if (part.name == "archive") {
      if (archive_begun) return problem::bad_request("only one archive part is allowed");
      archive_begun = in_archive = true;
      archive_filename = part.filename;
      return {};
    }
    bool known = part.name == "subvolume" || part.name == "subpath" || part.name == "stop_service";
    if (known && archive_begun) {
      return problem::bad_request("the " + part.name + " field must come before the archive in the form");
    }
    if (part.name == "subvolume") {
      field = &subvolume;
      has_subvolume = true;
    } else if (part.name == "subpath") {
      field = &subpath;
    } else if (part.name == "stop_service") {
      field = &stop_service;
    }
    if (field != nullptr) field->clear();
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

struct extraction_job {
  explicit extraction_job(asio::io_context::executor_type loop) : done(loop) {}
  std::optional<result<archive::extract_report>> outcome;
  asio::steady_timer done;
};

asio::awaitable<void> run_extraction(pool::work_queue& pool, std::shared_ptr<archive::byte_pipe> pipe,
                                     std::string target, std::vector<std::string> subpath,
                                     archive::extract_limits limits, std::shared_ptr<extraction_job> job) {
  // A named callable: GCC 12 destroys a lambda temporary inside a co_await expression twice.
  auto work = [pipe, target, subpath, limits] { return archive::extract(*pipe, target, subpath, limits); };
  auto ran = co_await pool.run(std::move(work));
  if (!ran) {
    pipe->close_consumer();
    job->outcome.emplace(ran.error());
  } else {
    job->outcome.emplace(std::move(*ran));
  }
  job->done.cancel();
}

asio::awaitable<result<archive::extract_report>> await_job(std::shared_ptr<extraction_job> job) {
  while (!job->outcome) {
    job->done.expires_at(asio::steady_timer::time_point::max());
    co_await job->done.async_wait(io_result);
  }
  co_return std::move(*job->outcome);
}

// Everything between reading the form and the extraction's result; the service pause is undone
// by the caller whatever happens here.
asio::awaitable<result<archive::extract_report>> upload(request_context& context, service_pause& pause) {
  auto& services = context.services;
  auto boundary = multipart::boundary_of(context.request[boost::beast::http::field::content_type]);
  if (!boundary) co_return boundary.error();
  const std::uint64_t max_size = setting_number(services, "max_archive_size", 1073741824);
  if (context.body->content_length() > max_size) {
    co_return problem::payload_too_large("archive exceeds maximum allowed size (" + std::to_string(max_size) +
                                         " bytes)");
  }
  const auto timeout = std::chrono::seconds(setting_number(services, "archive_unpack_timeout", 600));
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  multipart::parser parser(std::move(*boundary));
  upload_form form;
  std::shared_ptr<archive::byte_pipe> pipe;
  std::shared_ptr<extraction_job> job;
  std::optional<problem> failure;
  bool consumer_gone = false;
  for (;;) {
    auto chunk = co_await context.body->read_some();
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
      if (!form.has_subvolume || form.subvolume.empty()) {
        failure = problem::bad_request("subvolume field is required");
        break;
      }
      auto volume = storage::archive_volume_path(form.subvolume, "subvolume");
      if (!volume) {
        failure = volume.error();
        break;
      }
      std::vector<std::string> subpath;
      if (!form.subpath.empty()) {
        auto parts = storage::member_components(form.subpath, "subpath");
        if (!parts) {
          failure = parts.error();
          break;
        }
        subpath = std::move(*parts);
      }
      if (!form.stop_service.empty() && !validate_unit_name(form.stop_service)) {
        failure = service_name_problem(form.stop_service);
        break;
      }
      auto& storage = services.storage();
      if (auto ready = co_await storage.ready(); !ready) {
        failure = ready.error();
        break;
      }
      if (!storage.volumes().is_subvolume(*volume)) {
        failure = problem::not_found("subvolume " + form.subvolume + " not found");
        break;
      }
      auto target = storage.volumes().path_of(*volume);
      if (!target) {
        failure = target.error();
        break;
      }
      // Decompression bombs stop at what the volume can hold: its quota headroom, else free space.
      archive::extract_limits limits;
      limits.deadline = deadline;
      auto info = co_await storage.volumes().info(*volume);
      struct statfs space {};
      std::uint64_t free_bytes = ::statfs(target->c_str(), &space) == 0 ? static_cast<std::uint64_t>(space.f_bavail) *
                                                                              static_cast<std::uint64_t>(space.f_bsize)
                                                                        : 0;
      limits.max_bytes = free_bytes;
      if (info && info->quota > 0)
        limits.max_bytes = std::min(free_bytes, info->quota - std::min(info->quota, info->usage));
      pause.unit = form.stop_service;
      if (auto stopped = co_await pause.stop(context); !stopped) {
        failure = stopped.error();
        break;
      }
      auto executor = services.io().get_executor();
      pipe = std::make_shared<archive::byte_pipe>(executor, pipe_chunks);
      job = std::make_shared<extraction_job>(executor);
      asio::co_spawn(executor,
                     run_extraction(storage.archive_pool(), pipe, target->string(), std::move(subpath), limits, job),
                     [job, pipe](std::exception_ptr e) {
                       if (!e || job->outcome) return;
                       // Never leave the request waiting on a job that died.
                       log::error("archive extraction job ended with an exception");
                       pipe->close_consumer();
                       job->outcome.emplace(problem::internal_error("archive extraction failed"));
                       job->done.cancel();
                     });
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
  auto outcome = co_await await_job(job);
  // The extractor's own verdict explains an early stop; a client fault explains everything else.
  if (failure && !(consumer_gone && !outcome)) co_return *failure;
  co_return outcome;
}

}  // namespace

reply storage_upload_archive(request_context& context) {
  if (context.body == nullptr)
    co_return http::problem_response(problem::internal_error("upload route does not stream"));
  service_pause pause;
  auto outcome = co_await upload(context, pause);
  co_await pause.restart(context);
  if (!outcome) co_return http::problem_response(outcome.error());
  log::info("archive unpacked: " + std::to_string(outcome->entries) + " members, " + std::to_string(outcome->bytes) +
            " bytes, " + std::to_string(outcome->skipped) + " skipped (" + outcome->format + ")");
  json::object body;
  body["needs_restart"] = true;
  body["message"] = "archive unpacked successfully";
  co_return http::json_response(body);
}

namespace {

struct pack_job {
  explicit pack_job(asio::io_context::executor_type loop) : done(loop) {}
  std::optional<result<archive::pack_report>> outcome;
  asio::steady_timer done;
};

asio::awaitable<void> run_pack(pool::work_queue& pool, std::shared_ptr<archive::byte_pipe> pipe, std::string root,
                               std::vector<std::string> paths, storage::archive_format format,
                               std::shared_ptr<pack_job> job) {
  auto work = [pipe, root, paths, format] {
    return archive::pack(*pipe, root, paths, format, std::chrono::seconds(60));
  };
  auto ran = co_await pool.run(std::move(work));
  if (!ran) {
    pipe->abort_producer();
    job->outcome.emplace(ran.error());
  } else {
    job->outcome.emplace(std::move(*ran));
  }
  job->done.cancel();
}

asio::awaitable<void> await_pack(std::shared_ptr<pack_job> job) {
  while (!job->outcome) {
    job->done.expires_at(asio::steady_timer::time_point::max());
    co_await job->done.async_wait(io_result);
  }
}

// Streams the pipe as a chunked 200 response. Returns false if the transfer broke off.
asio::awaitable<bool> stream_chunks(request_context& context, archive::byte_pipe& pipe, std::string head) {
  connection& self = *context.owner;
  const auto write_timeout = context.services.settings().write_timeout;
  self.expires_after(write_timeout);
  auto [head_ec, head_n] = co_await asio::async_write(context.stream, asio::buffer(head), io_result);
  if (head_ec) co_return false;
  for (;;) {
    self.expires_never();
    auto chunk = co_await pipe.pop();
    if (!chunk) break;
    char size_line[32];
    int length = std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk->size());
    std::array<asio::const_buffer, 3> buffers = {asio::buffer(size_line, static_cast<std::size_t>(length)),
                                                 asio::buffer(*chunk), asio::buffer("\r\n", 2)};
    self.expires_after(write_timeout);
    auto [ec, n] = co_await asio::async_write(context.stream, buffers, io_result);
    if (ec) co_return false;
  }
  self.expires_never();
  if (pipe.producer_aborted()) co_return false;
  self.expires_after(write_timeout);
  auto [end_ec, end_n] = co_await asio::async_write(context.stream, asio::buffer("0\r\n\r\n", 5), io_result);
  self.expires_never();
  co_return !end_ec;
}

}  // namespace

reply storage_download_archive(request_context& context) {
  auto body = json_body::parse(context.request.body());
  if (!body) co_return http::problem_response(body.error());
  std::string subvolume = body->string("subvolume", {.max_length = 4096});
  auto paths = body->optional_string_list("paths", {.max_length = 4096}, 1024).value_or(std::vector<std::string>{});
  std::string stop_service = body->optional_string("stop_service", {.max_length = 255}).value_or("");
  std::string format_text = body->optional_string("format", {.max_length = 16}).value_or("");
  std::string filename =
      body->optional_string("filename", {.max_length = 1024, .allow_empty = true, .allow_newlines = true}).value_or("");
  auto format = storage::parse_archive_format(format_text);
  if (!format) body->reject("format", "must be tar.gz, tar.bz2 or tar.xz");
  std::vector<std::string> members;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto member = storage::download_path(paths[i], "paths[" + std::to_string(i) + "]");
    if (!member) {
      body->reject("paths[" + std::to_string(i) + "]",
                   member.error().errors.empty() ? member.error().detail : member.error().errors[0].message);
    } else {
      members.push_back(std::move(*member));
    }
  }
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (!stop_service.empty() && !validate_unit_name(stop_service)) {
    co_return http::problem_response(service_name_problem(stop_service));
  }
  auto volume = storage::archive_volume_path(subvolume, "subvolume");
  if (!volume) co_return http::problem_response(volume.error());
  auto& storage = context.services.storage();
  if (!storage.volumes().is_subvolume(*volume)) {
    co_return http::problem_response(problem::not_found("subvolume " + subvolume + " not found"));
  }
  auto root = storage.volumes().path_of(*volume);
  if (!root) co_return http::problem_response(root.error());
  if (members.empty()) members.emplace_back(".");
  for (const auto& member : members) {
    struct stat info {};
    if (member != "." &&
        ::fstatat(AT_FDCWD, (root->string() + "/" + member).c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      co_return http::problem_response(problem::not_found("path " + member + " not found in " + subvolume));
    }
  }

  service_pause pause;
  pause.unit = stop_service;
  if (auto stopped = co_await pause.stop(context); !stopped) {
    co_await pause.restart(context);
    co_return http::problem_response(stopped.error());
  }
  auto executor = context.services.io().get_executor();
  auto pipe = std::make_shared<archive::byte_pipe>(executor, pipe_chunks);
  auto job = std::make_shared<pack_job>(executor);
  asio::co_spawn(executor, run_pack(storage.archive_pool(), pipe, root->string(), std::move(members), *format, job),
                 [job, pipe](std::exception_ptr e) {
                   if (!e || job->outcome) return;
                   log::error("archive packing job ended with an exception");
                   pipe->abort_producer();
                   job->outcome.emplace(problem::internal_error("archive packing failed"));
                   job->done.cancel();
                 });

  namespace bhttp = boost::beast::http;
  http::response fields{bhttp::status::ok, 11};
  fields.set(bhttp::field::content_type, storage::content_type(*format));
  fields.set(bhttp::field::content_disposition,
             "attachment; filename=" + storage::download_filename(filename, *format));
  fields.set(bhttp::field::transfer_encoding, "chunked");
  fields.set(bhttp::field::cache_control, "no-store");
  fields.set(bhttp::field::connection, "close");
  context.services.add_cors_headers_to(context.request, fields);
  std::string head = http::format_head(fields);
  context.response_written = true;
  bool complete = co_await stream_chunks(context, *pipe, std::move(head));
  // A client that went away must not leave the packer blocked on a full pipe.
  pipe->close_consumer();
  co_await await_pack(job);
  co_await pause.restart(context);
  if (!complete) log::warning("download of " + subvolume + " broke off before the end");
  co_return http::empty_response();
}

}  // namespace sc::server::handlers
