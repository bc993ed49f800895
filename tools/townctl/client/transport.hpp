#pragma once
// The client's HTTP/1.1 transport (Boost.Beast over Asio coroutines): one request per connection,
// over the controller's Unix socket (root there is the local administrator, no token) or TCP with
// a Bearer token. Every coroutine here completes on the executor it was started on; cancelling it
// (its cancellation slot) closes the connection. Beast stays out of this header.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tools/townctl/client/error.hpp"
#include "tools/townctl/client/sse.hpp"

namespace sc::client {

// Where the controller is, and the credential for it.
struct endpoint {
  std::string socket_path;  // the Unix socket; used when `host` is empty
  std::string host;         // TCP
  std::string port;
  std::string token;  // sent as "Authorization: Bearer …" when not empty; never printed

  bool is_tcp() const noexcept { return !host.empty(); }
  // "unix:/run/town-os/systemcontroller.sock" or "http://host:port" (no token).
  std::string describe() const;
  static endpoint unix_socket(std::string path);
  // "http://host[:port]" (port 5309 by default; IPv6 literals in brackets). No path, no https:
  // the controller serves plain HTTP, TLS belongs to the proxy in front of it.
  static result<endpoint> from_url(std::string_view url);
};

struct request {
  std::string method = "GET";
  std::string target;  // path and query, e.g. "/systemd/logs?unit=a.service"
  std::string body;
  std::string content_type;   // default "application/json" when `body` is not empty
  std::string accept;         // default "application/json"
  std::string last_event_id;  // sent as Last-Event-ID when not empty (SSE resume)
};

struct reply {
  int status = 0;
  std::string content_type;
  std::string body;
  bool ok() const noexcept { return status >= 200 && status < 300; }
};

struct limits {
  std::chrono::milliseconds connect{5'000};
  // The whole exchange of `send` and `upload` (0: none). Streams (`receive`) have none: they end
  // when the server ends them or the caller stops them.
  std::chrono::milliseconds exchange{0};
  std::size_t max_body = std::size_t{256} * 1024 * 1024;  // a buffered answer larger than this fails
};

// One request, the whole answer buffered. A non-2xx answer is returned as a reply, not an error:
// the caller decides (`as_result` below turns it into the typed error). Errors: no connection, a
// broken or oversized answer, the exchange deadline.
boost::asio::awaitable<result<reply>> send(endpoint where, request what, limits bounds);

// One request whose 2xx answer body is handed to `on_bytes` piece by piece as it arrives (an event
// stream, an archive download); `on_bytes` returns false to stop early (a clean end). A non-2xx
// answer is read whole and returned as its problem. `on_head` (may be empty) sees the status and
// content type first.
using head_callback = std::function<void(int status, std::string_view content_type)>;
using bytes_callback = std::function<bool(std::string_view bytes)>;
boost::asio::awaitable<result<void>> receive(endpoint where, request what, limits bounds, head_callback on_head,
                                             bytes_callback on_bytes);

// A Server-Sent Events stream (Accept: text/event-stream): each event to `on_event` (false stops),
// carrying the id in force when it was dispatched. To resume after a reconnect, the caller sends
// the id of the last event it handled as `what.last_event_id` (not the parser's id buffer, which
// may name an event whose data never arrived). A stream the server ends is a success; a broken
// connection is a status-0 error. `parser` is the caller's and must outlive the coroutine.
using event_callback = std::function<bool(const sse_event& event)>;
boost::asio::awaitable<result<void>> events(endpoint where, request what, limits bounds, sse_parser& parser,
                                            event_callback on_event);

// A request body of known length produced piece by piece (the controller takes streamed bodies
// with Content-Length only). `next` returns the next bytes, "" at the end, or nullopt on a local
// failure (the upload is abandoned); `progress` (may be empty) sees the bytes sent so far.
struct body_source {
  std::uint64_t length = 0;
  std::function<std::optional<std::string>()> next;
  std::function<void(std::uint64_t sent)> progress;
};
boost::asio::awaitable<result<reply>> upload(endpoint where, request what, limits bounds, body_source source);

// A 2xx reply as itself; anything else as its typed problem.
result<reply> as_result(result<reply> answer);

}  // namespace sc::client
