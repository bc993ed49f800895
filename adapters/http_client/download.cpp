#include "adapters/http_client/download.hpp"

#include <fcntl.h>
#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <span>

#include "adapters/asio/completion.hpp"

namespace sc::http_client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t chunk_bytes = std::size_t{256} * 1024;
constexpr std::uint32_t header_limit = 64 * 1024;

problem upstream(std::string detail) {
  return problem(502, std::move(detail));
}

vm_images::ip_address to_ip(const asio::ip::address& address) {
  vm_images::ip_address out;
  if (address.is_v4()) {
    auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
  } else {
    out.v6 = true;
    auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
  }
  return out;
}

// One resolution; every answer checked; the caller connects to exactly these.
asio::awaitable<result<tcp::resolver::results_type>> resolve_checked(const vm_images::fetch_target& target,
                                                                     const download_options& options) {
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto flags = tcp::resolver::numeric_service;
  if (target.literal) flags |= tcp::resolver::numeric_host;
  auto [ec, results] = co_await resolver.async_resolve(target.host, std::to_string(target.port), flags, io_result);
  if (ec == asio::error::operation_aborted) co_return problem::unavailable("the download was cancelled");
  if (ec || results.empty()) co_return problem::unprocessable("url", "the host " + target.host + " does not resolve");
  for (const auto& entry : results) {
    const auto endpoint = entry.endpoint();
    if (auto allowed = vm_images::check_dial(to_ip(endpoint.address()), endpoint.port(), options.allowed); !allowed) {
      problem refused = allowed.error();
      refused.detail = target.host + ": " + refused.detail;
      co_return refused;
    }
  }
  co_return results;
}

struct hop {
  std::optional<std::string> location;  // a redirect
  std::uint64_t bytes = 0;
};

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

template <class Stream>
asio::awaitable<result<hop>> exchange(Stream& stream, const vm_images::fetch_target& target, int fd,
                                      file_io::file_ring& files, const download_options& options) {
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target.target, 11};
  request.set(bhttp::field::host, target.host_header);
  request.set(bhttp::field::user_agent, "town-os-systemcontroller");
  request.set(bhttp::field::accept, "*/*");
  request.set(bhttp::field::accept_encoding, "identity");
  request.set(bhttp::field::connection, "close");
  if (auto [ec, n] = co_await bhttp::async_write(stream, request, io_result); ec) {
    co_return upstream("could not send the request to " + target.host + ": " + ec.message());
  }

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(header_limit);
  parser.body_limit(boost::none);  // counted below against max_bytes
  if (auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, io_result); ec) {
    co_return upstream("no HTTP answer from " + target.host + ": " + ec.message());
  }
  const auto& head = parser.get();
  const unsigned status = head.result_int();
  if (is_redirect(status)) {
    hop out;
    out.location = std::string(head[bhttp::field::location]);
    co_return out;
  }
  if (status != 200) co_return upstream(target.host + " answered " + std::to_string(status));
  if (auto coding = head[bhttp::field::content_encoding]; !coding.empty() && !beast::iequals(coding, "identity")) {
    co_return upstream(target.host + " sent a " + std::string(coding.substr(0, 32)) + "-encoded body");
  }
  std::optional<std::uint64_t> total;
  if (auto length = parser.content_length()) total = *length;
  if (total && options.max_bytes != 0 && *total > options.max_bytes) {
    co_return problem::payload_too_large("the image is " + std::to_string(*total) + " bytes, over vm_image_max_size (" +
                                         std::to_string(options.max_bytes) + ")");
  }

  std::vector<char> chunk(chunk_bytes);
  hop out;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, io_result);
    if (ec == bhttp::error::need_buffer) ec = {};
    const std::size_t got = chunk.size() - parser.get().body().size;
    if (ec == asio::error::operation_aborted) co_return problem::unavailable("the download was cancelled");
    if (ec) {
      co_return upstream("the download from " + target.host + " was cut short after " +
                         std::to_string(out.bytes + got) + " bytes (" + ec.message() + ")");
    }
    if (got == 0) continue;
    if (options.max_bytes != 0 && out.bytes + got > options.max_bytes) {
      co_return problem::payload_too_large("the image is over vm_image_max_size (" + std::to_string(options.max_bytes) +
                                           " bytes)");
    }
    auto written = co_await files.write(fd, std::as_bytes(std::span(chunk.data(), got)), out.bytes);
    if (!written) co_return written.error();
    out.bytes += got;
    if (options.on_progress) options.on_progress(out.bytes, total);
  }
  co_return out;
}

void close_on_exec(tcp::socket& socket) {
  if (socket.is_open()) (void)::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
}

asio::awaitable<result<hop>> fetch_once(const vm_images::fetch_target& target, int fd, file_io::file_ring& files,
                                        const download_options& options) {
  auto endpoints = co_await resolve_checked(target, options);
  if (!endpoints) co_return endpoints.error();
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  auto [connect_ec, connected] = co_await stream.async_connect(*endpoints, io_result);
  if (connect_ec == asio::error::operation_aborted) co_return problem::unavailable("the download was cancelled");
  if (connect_ec) co_return upstream("could not connect to " + target.host + ": " + connect_ec.message());
  close_on_exec(stream.socket());
  if (!target.https) co_return co_await exchange(stream, target, fd, files, options);

  asio::ssl::context tls_context(asio::ssl::context::tls_client);
  tls_context.set_default_verify_paths();
  tls_context.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), tls_context);
  if (!target.literal && SSL_set_tlsext_host_name(tls.native_handle(), target.host.c_str()) != 1) {
    co_return problem::internal_error("SSL_set_tlsext_host_name failed");
  }
  tls.set_verify_callback(asio::ssl::host_name_verification(target.host));
  if (auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, io_result); ec) {
    co_return upstream("TLS with " + target.host + " failed: " + ec.message());
  }
  co_return co_await exchange(tls, target, fd, files, options);
}

}  // namespace

asio::awaitable<result<download_report>> download(vm_images::fetch_target url, int fd, file_io::file_ring& files,
                                                  download_options options) {
  vm_images::fetch_target current = std::move(url);
  for (std::size_t redirects = 0;; ++redirects) {
    auto outcome = co_await fetch_once(current, fd, files, options);
    if (!outcome) co_return outcome.error();
    if (!outcome->location) {
      download_report report;
      report.bytes = outcome->bytes;
      report.final_url = current.text;
      co_return report;
    }
    if (redirects >= options.max_redirects) {
      co_return problem::unprocessable("url", "more than " + std::to_string(options.max_redirects) + " redirects");
    }
    auto next = vm_images::resolve_redirect(current, *outcome->location);
    if (!next) {
      problem refused = next.error();
      refused.detail = "redirect from " + current.host + ": " + refused.detail;
      co_return refused;
    }
    if (current.https && !next->https) co_return problem::unprocessable("url", "a redirect from https to http");
    current = std::move(*next);
  }
}

}  // namespace sc::http_client
