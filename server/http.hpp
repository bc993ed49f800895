#pragma once
// Transport types shared by the server layer. Every connection, TCP or Unix, is the same type: a
// Beast stream over Asio's generic stream protocol, so handlers and the SSE writer are written once.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "core/problem.hpp"

namespace sc::http {

namespace beast = boost::beast;
namespace asio = boost::asio;

// A plain socket: timeouts are per-connection deadlines enforced by the app (server/connection.hpp)
// or explicit `op || timer` races, not Beast's per-operation timers (13% of a request's work).
// The concrete io_context executor, not any_io_executor: copying the type-erased executor was 5%
// of a request's instructions.
using executor = asio::io_context::executor_type;
using stream = asio::basic_stream_socket<asio::generic::stream_protocol, executor>;
using request = beast::http::request<beast::http::string_body>;
using response = beast::http::response<beast::http::string_body>;
using verb = beast::http::verb;

// Who is on the other end of a connection, as the transport knows it.
struct peer_info {
  enum class transport { tcp, unix_socket } kind = transport::tcp;
  std::string address;    // "127.0.0.1", "::1", or the socket path for Unix peers
  bool loopback = false;  // TCP peer address is 127.0.0.0/8 or ::1
  int uid = -1;           // SO_PEERCRED uid on Unix sockets, -1 on TCP
  bool local_root() const noexcept { return kind == transport::unix_socket && uid == 0; }
};

// 200 with JSON written by core/json_writer.hpp, and a trailing newline (the original's framing).
response json_response(std::string body, unsigned version = 11);
// 200 with an empty body and no Content-Type ("void" actions).
response empty_response(unsigned version = 11);
// 200 with a text body of the given type.
response text_response(std::string body, std::string_view content_type, unsigned version = 11);
// application/problem+json with the problem's status (and Retry-After when set). For a 5xx, the
// problem's `internal` text (else its detail) rides along in the `internal_detail_field` header,
// which never leaves the process: the dispatcher logs it with the request id and removes it
// (server/app_requests.cpp).
response problem_response(const problem& p, unsigned version = 11);
inline constexpr std::string_view internal_detail_field = "X-Sc-Internal-Detail";

// The head of `head` as it goes on the wire: "HTTP/1.x <status> <reason>\r\n", its fields, and the
// empty line; the body is not included. The one place a response head is written: complete
// responses (fields already final: Content-Length, Connection) and streams whose body follows.
std::string format_head(const response& head);

}  // namespace sc::http
