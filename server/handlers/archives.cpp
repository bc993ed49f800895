// Archive upload and download (behavior-ops.md §4): parse, call the storage service, serialise.
// The upload body is streamed by the service (socket → multipart parser → bounded byte_pipe →
// libarchive on the work pool); the download runs the other way (libarchive on the pool →
// byte_pipe → chunked HTTP, written here: writing the response is the transport's part). The
// service named by `stop_service` is stopped before and always started again after.
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "adapters/archive/byte_pipe.hpp"
#include "adapters/asio/completion.hpp"
#include "adapters/store/settings_store.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "core/storage.hpp"
#include "core/units.hpp"
#include "server/app.hpp"
#include "server/body_stream.hpp"
#include "server/connection.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/storage_service.hpp"
#include "server/systemd_service.hpp"

namespace sc::server::handlers {

namespace asio = boost::asio;

namespace {

constexpr std::size_t pipe_chunks = 8;  // × ≤64 KiB: the most packed data in flight per download

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

reply storage_upload_archive(request_context& context) {
  if (context.body == nullptr)
    co_return http::problem_response(problem::internal_error("upload route does not stream"));
  auto& services = context.services;
  const auto limits = storage_service::upload_limits::from(services.system_settings());
  service_pause pause(services.systemd(), services.bus());
  auto outcome = co_await services.storage().receive_upload(
      *context.body, context.request[boost::beast::http::field::content_type], limits, pause);
  co_await pause.restart();
  if (!outcome) co_return http::problem_response(outcome.error());
  log::info("archive unpacked: " + std::to_string(outcome->entries) + " members, " + std::to_string(outcome->bytes) +
            " bytes, " + std::to_string(outcome->skipped) + " skipped (" + outcome->format + ")");
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object()
        .key("needs_restart")
        .value(true)
        .key("message")
        .value("archive unpacked successfully")
        .end_object();
  }));
}

reply storage_download_archive(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string subvolume = body->string("subvolume");
  auto paths = body->optional_string_list("paths").value_or(std::vector<std::string>{});
  std::string stop_service = body->optional_string("stop_service").value_or("");
  std::string format_text = body->optional_string("format").value_or("");
  std::string filename = body->optional_string("filename").value_or("");
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
  if (auto allowed = units::check_stop_service(stop_service); !allowed)
    co_return http::problem_response(allowed.error());
  if (members.empty()) members.emplace_back(".");
  auto& storage = context.services.storage();
  auto root = co_await storage.open_download(subvolume, members);
  if (!root) co_return http::problem_response(root.error());

  service_pause pause(context.services.systemd(), context.services.bus());
  pause.set_unit(stop_service);
  if (auto stopped = co_await pause.stop(); !stopped) {
    co_await pause.restart();
    co_return http::problem_response(stopped.error());
  }
  auto executor = context.services.io().get_executor();
  auto pipe = std::make_shared<archive::byte_pipe>(executor, pipe_chunks);
  auto job = storage.start_packing(executor, pipe, std::move(*root), std::move(members), *format);

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
  (void)co_await job->finished();
  co_await pause.restart();
  if (!complete) log::warning("download of " + subvolume + " broke off before the end");
  co_return http::empty_response();
}

}  // namespace sc::server::handlers
