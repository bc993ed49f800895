#pragma once
// Server-Sent Events, for every stream the server sends (journal logs, refresh progress, install
// progress): the event format, the response head, and a writer over a bounded per-subscriber queue.
//
// Framing: the body of every stream ends with the connection (`Connection: close`), never chunked,
// so HTTP/1.0 and HTTP/1.1 clients read the same bytes. The head carries the CORS headers of every
// other response, so a dashboard on an allowed origin can follow a stream with `fetch`.
//
// Policy for slow readers: a subscriber whose queue is full is dropped (it gets a final comment
// saying so and the stream ends); memory never grows with a reader's slowness. A frame is formatted
// once and may be shared by many subscribers.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.hpp"

namespace sc::server {

class app;
class metrics;
using sse_frame = std::shared_ptr<const std::string>;

// "id: <id>\n" (when given) + one "data: <line>\n" per line of `data` + "\n".
std::string format_sse_event(std::string_view data, std::string_view id = {});

// The 200 head of an event stream answering `request`, in its HTTP version, without CORS.
http::response sse_response_head(const http::request& request);
// The same on the wire, with the CORS headers `services` adds to every response.
std::string sse_head(const http::request& request, const app& services);

class sse_subscriber {
 public:
  sse_subscriber(const boost::asio::any_io_executor& executor, std::size_t capacity);

  // Queues a frame. Returns false, and marks the subscriber for dropping, when the queue is full.
  bool push(sse_frame frame);
  // Ends the stream cleanly after what is queued (shutdown, end of topic).
  void close();
  bool overflowed() const noexcept { return overflowed_; }
  bool finished() const noexcept { return finished_; }
  std::size_t queued() const noexcept { return queue_.size(); }

 private:
  friend boost::asio::awaitable<void> serve_sse(http::stream&, std::shared_ptr<sse_subscriber>, struct sse_options,
                                                std::string);
  std::deque<sse_frame> queue_;
  std::size_t capacity_;
  bool overflowed_ = false;
  bool closing_ = false;
  bool finished_ = false;  // the writer has returned
  boost::asio::steady_timer wake_;
};

struct sse_options {
  std::chrono::milliseconds keepalive{1000};
  std::chrono::milliseconds write_timeout{10'000};  // a write stalled this long drops the reader
  std::size_t max_frames_per_write = 64;
  metrics* counters = nullptr;  // subscriber gauge, when given
};

// Writes `head` (sse_head()), then queued frames and keepalive comments, until the client
// disconnects (noticed at once by a concurrent read), the subscriber overflows, a write times out,
// or close() is called. Completes on the stream's executor. The caller closes the connection
// afterwards, which ends the body.
boost::asio::awaitable<void> serve_sse(http::stream& stream, std::shared_ptr<sse_subscriber> subscriber,
                                       sse_options options, std::string head);

}  // namespace sc::server
