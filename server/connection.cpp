#include "server/connection.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <optional>
#include <string_view>

#include "adapters/asio/completion.hpp"
#include "core/log.hpp"
#include "server/app.hpp"
#include "server/body_stream.hpp"
#include "server/request_framing.hpp"

namespace sc::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// Writes a complete response as one gathered write: the head, then the body as is. The fields are
// already final here (Content-Length and Connection set).
asio::awaitable<boost::system::error_code> write_response(http::stream& stream, connection& self,
                                                          const http::response& response, bool with_body,
                                                          std::chrono::milliseconds timeout) {
  std::string head = http::format_head(response);
  std::array<asio::const_buffer, 2> buffers = {
      asio::buffer(head), asio::buffer(response.body().data(), with_body ? response.body().size() : 0)};
  self.expires_after(timeout);
  auto [ec, written] = co_await asio::async_write(stream, buffers, io_result);
  co_return ec;
}

// Answers a request we could not read properly (counted as unmatched); the connection closes after.
asio::awaitable<void> reject(app& application, http::stream& stream, connection& self, const problem& p,
                             std::chrono::steady_clock::time_point started) {
  application.counters().record(metrics::unmatched, p.status, std::chrono::steady_clock::now() - started);
  http::response res = http::problem_response(p);
  res.keep_alive(false);
  co_await write_response(stream, self, res, true, application.settings().write_timeout);
}

// How reading a chunked body ended: the request is ready, or the connection ends (answered with
// `refuse` when there is one; a peer that went away gets nothing).
struct chunked_read {
  bool ready = false;
  std::optional<problem> refuse;
};

// Reads a chunked body whole into `buffer`, its framing checked as it arrives, then parses it in
// one call: Beast must never see its last chunk in pieces (server/request_framing.hpp). Framing
// beyond the data may take as much again as the body limit, plus a header's worth of trailers.
asio::awaitable<chunked_read> read_chunked_body(http::stream& stream, beast::flat_buffer& buffer,
                                                request_parser& parser, const config& limits) {
  constexpr std::size_t read_size = std::size_t{16} * 1024;
  chunked_body_scan scan(limits.body_limit, limits.body_limit + limits.header_limit);
  const auto buffered = [&buffer] {
    return std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
  };
  chunked_read outcome;
  auto verdict = scan.scan(buffered());
  while (verdict == chunked_body_scan::verdict::more) {
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(read_size), io_result);
    if (ec) {
      outcome.refuse = read_error_problem(ec);
      co_return outcome;
    }
    buffer.commit(n);
    verdict = scan.scan(buffered());
  }
  if (verdict != chunked_body_scan::verdict::complete) {
    outcome.refuse = chunked_body_problem(verdict);
  } else {
    outcome.refuse = parse_chunked_body(parser, buffer);
    outcome.ready = !outcome.refuse;
  }
  co_return outcome;
}

void close_gently(http::stream& stream) {
  boost::system::error_code ignored;
  stream.shutdown(asio::socket_base::shutdown_send, ignored);
  stream.close(ignored);
}

}  // namespace

void connection::cancel_handler(cancel_reason reason) {
  if (!in_handler || cancelled != cancel_reason::none || cancel == nullptr) return;
  cancelled = reason;
  handler_deadline = clock::time_point::max();
  cancel->emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> serve_connection(app& application, http::stream socket, http::peer_info peer,
                                       asio::cancellation_signal* cancel) {
  const config& limits = application.settings();
  http::stream stream(std::move(socket));
  connection self;
  self.stream = &stream;
  self.cancel = cancel;
  auto& registry = application.connections();
  auto registered = registry.insert(registry.end(), &self);
  application.counters().connection_opened();

  beast::flat_buffer buffer;
  while (!application.stopping()) {
    self.state = connection::phase::idle;
    if (buffer.size() == 0) {
      // Waiting for the next request is the keep-alive idle time, not the header timeout.
      self.expires_after(limits.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), io_result);
      if (ec) break;
      buffer.commit(n);
    }
    self.state = connection::phase::busy;
    auto started = std::chrono::steady_clock::now();

    request_parser parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    // The limit is known only once the route is (frame_body).
    parser.body_limit(boost::none);
    self.expires_after(limits.header_timeout);
    auto [header_ec, header_n] = co_await bhttp::async_read_header(stream, buffer, parser, io_result);
    if (header_ec) {
      if (auto p = read_error_problem(header_ec)) co_await reject(application, stream, self, *p, started);
      break;
    }
    // A route that streams its body (uploads) is found on the header alone; its handler reads the
    // body through a body_stream and enforces its own limit (server/body_stream.hpp).
    const bool streams_body = route_streams_body(application.routes(), parser.get());
    body_framing framing = frame_body(parser, streams_body, limits);
    if (framing.refuse) {
      co_await reject(application, stream, self, *framing.refuse, started);
      break;
    }
    if (framing.read_whole) {
      if (framing.send_continue) {
        self.expires_after(limits.write_timeout);
        co_await asio::async_write(stream, asio::buffer("HTTP/1.1 100 Continue\r\n\r\n", 25), io_result);
      }
      self.expires_after(limits.body_timeout);
      if (framing.chunked) {
        chunked_read body = co_await read_chunked_body(stream, buffer, parser, limits);
        if (!body.ready) {
          if (body.refuse) co_await reject(application, stream, self, *body.refuse, started);
          break;
        }
      } else {
        auto [body_ec, body_n] = co_await bhttp::async_read(stream, buffer, parser, io_result);
        if (body_ec) {
          if (auto p = read_error_problem(body_ec)) co_await reject(application, stream, self, *p, started);
          break;
        }
      }
    }

    http::request request = parser.release();
    std::string_view path;
    query_params query;
    if (!split_target(request.target(), path, query)) {
      co_await reject(application, stream, self, problem::bad_request("malformed request target"), started);
      break;
    }
    // Handlers bound their own waits (D-Bus calls, children); the read deadline must not cut them.
    self.expires_never();
    request_context context{request, peer, stream, application, path, std::move(query), std::nullopt};
    context.owner = &self;
    context.id = application.next_request_id();
    std::optional<body_stream> streamed;
    if (streams_body) {
      streamed.emplace(stream, buffer, self, parser.content_length().value_or(0),
                       beast::iequals(request[bhttp::field::expect], "100-continue"), limits.body_timeout);
      context.body = &*streamed;
    }
    http::response response = co_await application.dispatch(context);
    if (context.response_written) {
      application.counters().record(context.route_index, 200, std::chrono::steady_clock::now() - started);
      break;
    }

    // A body the handler left unread is still on the socket: the connection cannot be reused.
    bool keep_alive = request.keep_alive() && !application.stopping() && (!streamed || streamed->finished());
    response.keep_alive(keep_alive);
    int status = static_cast<int>(response.result_int());
    // HEAD: the same headers as GET (Content-Length included), no body.
    auto write_ec =
        co_await write_response(stream, self, response, request.method() != http::verb::head, limits.write_timeout);
    application.counters().record(context.route_index, status, std::chrono::steady_clock::now() - started);
    if (write_ec || !keep_alive) break;
  }

  close_gently(stream);
  registry.erase(registered);
  application.counters().connection_closed();
  application.connection_finished();
}

}  // namespace sc::server
