#include "tools/townctl/client/transport.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>

#include "adapters/asio/completion.hpp"
#include "core/defaults.hpp"

namespace sc::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using namespace asio::experimental::awaitable_operators;
using socket_type = asio::generic::stream_protocol::socket;

std::string endpoint::describe() const {
  if (!is_tcp()) return "unix:" + socket_path;
  bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + port;
}

endpoint endpoint::unix_socket(std::string path) {
  endpoint out;
  out.socket_path = std::move(path);
  return out;
}

result<endpoint> endpoint::from_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    return api_error(400, "URL must start with http:// (the controller serves plain HTTP; TLS is the proxy's)");
  }
  std::string_view rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('@') != std::string_view::npos) {
    return api_error(400, "URL must be http://HOST[:PORT] without a path or credentials");
  }
  endpoint out;
  out.port = defaults::tcp_port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return api_error(400, "unterminated [IPv6] host in URL");
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() == ':')
      out.port = std::string(rest.substr(1));
    else if (!rest.empty())
      return api_error(400, "bad URL after the host");
  } else {
    auto colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(rest.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty() || out.port.find_first_not_of("0123456789") != std::string::npos) {
    return api_error(400, "URL must be http://HOST[:PORT]");
  }
  return out;
}

namespace {

void close_on_exec_and_nodelay(socket_type& socket, bool tcp) {
  ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  if (tcp) {
    int one = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

// `operation` raced against a timer of `limit` (0: no timer). The loser is cancelled.
template <class T>
asio::awaitable<result<T>> bounded(asio::awaitable<result<T>> operation, std::chrono::milliseconds limit,
                                   std::string what) {
  if (limit.count() <= 0) co_return co_await std::move(operation);
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto outcome = co_await (std::move(operation) || timer.async_wait(io_result));
  if (outcome.index() == 1) co_return transport_error(what + " timed out");
  co_return std::move(std::get<0>(outcome));
}

asio::awaitable<result<void>> connect_unix(socket_type& socket, std::string path) {
  asio::local::stream_protocol::endpoint local(path);
  asio::generic::stream_protocol::endpoint target(local);
  auto [ec] = co_await socket.async_connect(target, io_result);
  if (ec) co_return transport_error("cannot connect to unix:" + path + ": " + ec.message());
  close_on_exec_and_nodelay(socket, false);
  co_return result<void>{};
}

asio::awaitable<result<void>> connect_tcp(socket_type& socket, std::string host, std::string port) {
  asio::ip::tcp::resolver resolver(socket.get_executor());
  auto [resolve_ec, found] = co_await resolver.async_resolve(host, port, io_result);
  if (resolve_ec) co_return transport_error("cannot resolve " + host + ": " + resolve_ec.message());
  boost::system::error_code last = asio::error::host_not_found;
  for (const auto& entry : found) {
    boost::system::error_code ignored;
    socket.close(ignored);
    asio::generic::stream_protocol::endpoint target(entry.endpoint());
    auto [ec] = co_await socket.async_connect(target, io_result);
    if (!ec) {
      close_on_exec_and_nodelay(socket, true);
      co_return result<void>{};
    }
    last = ec;
  }
  co_return transport_error("cannot connect to " + host + ":" + port + ": " + last.message());
}

asio::awaitable<result<void>> connect(socket_type& socket, const endpoint& where, std::chrono::milliseconds limit) {
  if (where.is_tcp()) co_return co_await bounded(connect_tcp(socket, where.host, where.port), limit, "connect");
  co_return co_await bounded(connect_unix(socket, where.socket_path), limit, "connect");
}

template <class Body>
void fill_head(bhttp::request<Body>& head, const endpoint& where, const request& what) {
  head.version(11);
  auto verb = bhttp::string_to_verb(what.method);
  if (verb == bhttp::verb::unknown) {
    head.method_string(what.method);
  } else {
    head.method(verb);
  }
  head.target(what.target);
  head.set(bhttp::field::host, where.is_tcp() ? where.host + ":" + where.port : std::string("localhost"));
  head.set(bhttp::field::user_agent, "townctl");
  head.set(bhttp::field::accept, what.accept.empty() ? std::string("application/json") : what.accept);
  head.set(bhttp::field::connection, "close");
  if (!where.token.empty()) head.set(bhttp::field::authorization, "Bearer " + where.token);
  if (!what.last_event_id.empty()) head.set("Last-Event-ID", what.last_event_id);
}

bhttp::request<bhttp::string_body> make_request(const endpoint& where, const request& what) {
  bhttp::request<bhttp::string_body> head;
  fill_head(head, where, what);
  if (!what.body.empty() || what.method == "POST") {
    head.set(bhttp::field::content_type,
             what.content_type.empty() ? std::string("application/json") : what.content_type);
    head.body() = what.body;
  }
  head.prepare_payload();
  return head;
}

// Reads a whole answer (the connection is `socket`; `buffer` may hold bytes already read).
asio::awaitable<result<reply>> read_reply(socket_type& socket, beast::flat_buffer& buffer, std::size_t max_body) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(max_body);
  parser.header_limit(64 * 1024);
  auto [ec, n] = co_await bhttp::async_read(socket, buffer, parser, io_result);
  if (ec == bhttp::error::body_limit) co_return transport_error("answer larger than " + std::to_string(max_body));
  if (ec) co_return transport_error("reading the answer: " + ec.message());
  auto& answer = parser.get();
  reply out;
  out.status = static_cast<int>(answer.result_int());
  out.content_type = std::string(answer[bhttp::field::content_type]);
  out.body = std::move(answer.body());
  co_return out;
}

asio::awaitable<result<reply>> send_on(socket_type& socket, endpoint where, request what, std::size_t max_body) {
  auto head = make_request(where, what);
  auto [ec, n] = co_await bhttp::async_write(socket, head, io_result);
  if (ec) co_return transport_error("sending the request: " + ec.message());
  beast::flat_buffer buffer;
  co_return co_await read_reply(socket, buffer, max_body);
}

asio::awaitable<result<reply>> upload_on(socket_type& socket, endpoint where, request what, std::size_t max_body,
                                         body_source source) {
  bhttp::request<bhttp::empty_body> head;
  fill_head(head, where, what);
  head.set(bhttp::field::content_type, what.content_type);
  head.content_length(source.length);
  bhttp::request_serializer<bhttp::empty_body> serializer(head);
  auto [head_ec, head_n] = co_await bhttp::async_write_header(socket, serializer, io_result);
  if (head_ec) co_return transport_error("sending the request: " + head_ec.message());
  std::uint64_t sent = 0;
  boost::system::error_code write_ec;
  while (sent < source.length) {
    auto piece = source.next();
    if (!piece) co_return transport_error("reading the local data failed; upload abandoned");
    if (piece->empty()) break;
    auto [ec, written] = co_await asio::async_write(socket, asio::buffer(*piece), io_result);
    if (ec) {
      write_ec = ec;  // the server may have answered early (413, 401): read that answer below
      break;
    }
    sent += written;
    if (source.progress) source.progress(sent);
  }
  if (!write_ec && sent != source.length) {
    co_return transport_error("the local data ended after " + std::to_string(sent) + " of " +
                              std::to_string(source.length) + " bytes");
  }
  beast::flat_buffer buffer;
  auto answer = co_await read_reply(socket, buffer, max_body);
  if (!answer && write_ec) co_return transport_error("sending the body: " + write_ec.message());
  co_return answer;
}

asio::awaitable<result<void>> receive_on(socket_type& socket, endpoint where, request what, std::size_t max_body,
                                         head_callback on_head, bytes_callback on_bytes) {
  auto head = make_request(where, what);
  auto [write_ec, n] = co_await bhttp::async_write(socket, head, io_result);
  if (write_ec) co_return transport_error("sending the request: " + write_ec.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.header_limit(64 * 1024);
  auto [head_ec, head_n] = co_await bhttp::async_read_header(socket, buffer, parser, io_result);
  if (head_ec) co_return transport_error("reading the answer: " + head_ec.message());
  int status = static_cast<int>(parser.get().result_int());
  std::string content_type(parser.get()[bhttp::field::content_type]);
  bool success = status >= 200 && status < 300;
  if (on_head) on_head(status, content_type);
  std::string chunk(std::size_t{64} * 1024, '\0');
  std::string problem_body;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [ec, read] = co_await bhttp::async_read(socket, buffer, parser, io_result);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return transport_error("the stream broke off: " + ec.message());
    std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
    if (got.empty()) continue;
    if (!success) {
      if (problem_body.size() + got.size() > max_body) break;
      problem_body.append(got);
      continue;
    }
    if (!on_bytes(got)) co_return result<void>{};
  }
  if (!success) co_return parse_problem(status, problem_body);
  co_return result<void>{};
}

}  // namespace

asio::awaitable<result<reply>> send(endpoint where, request what, limits bounds) {
  socket_type socket(co_await asio::this_coro::executor);
  if (auto connected = co_await connect(socket, where, bounds.connect); !connected) co_return connected.error();
  co_return co_await bounded(send_on(socket, where, std::move(what), bounds.max_body), bounds.exchange, "request");
}

asio::awaitable<result<void>> receive(endpoint where, request what, limits bounds, head_callback on_head,
                                      bytes_callback on_bytes) {
  socket_type socket(co_await asio::this_coro::executor);
  if (auto connected = co_await connect(socket, where, bounds.connect); !connected) co_return connected.error();
  co_return co_await receive_on(socket, where, std::move(what), bounds.max_body, std::move(on_head),
                                std::move(on_bytes));
}

asio::awaitable<result<void>> events(endpoint where, request what, limits bounds, sse_parser& parser,
                                     event_callback on_event) {
  if (what.accept.empty()) what.accept = "text/event-stream";
  // `parser` and `on_event` outlive the stream: this frame awaits it.
  auto feed = [&parser, &on_event](std::string_view bytes) {
    for (const auto& event : parser.feed(bytes)) {
      if (!on_event(event)) return false;
    }
    return true;
  };
  co_return co_await receive(std::move(where), std::move(what), bounds, {}, feed);
}

asio::awaitable<result<reply>> upload(endpoint where, request what, limits bounds, body_source source) {
  socket_type socket(co_await asio::this_coro::executor);
  if (auto connected = co_await connect(socket, where, bounds.connect); !connected) co_return connected.error();
  co_return co_await bounded(upload_on(socket, where, std::move(what), bounds.max_body, std::move(source)),
                             bounds.exchange, "upload");
}

result<reply> as_result(result<reply> answer) {
  if (!answer) return answer;
  if (answer->ok()) return answer;
  return parse_problem(answer->status, answer->body);
}

}  // namespace sc::client
