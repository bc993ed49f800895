#pragma once
// Server-Sent Events: a bounded per-subscriber queue, a writer that streams `data:` frames and
// comment keepalives over chunked HTTP/1.1, and a hub that fans one topic out to many subscribers.
//
// Policy for slow readers: a subscriber whose queue is full is dropped (it gets a final comment
// saying so and the stream ends); memory never grows with a reader's slowness. A frame is formatted
// once and shared by every subscriber.

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

class metrics;
using sse_frame = std::shared_ptr<const std::string>;

// "id: <id>\n" (when given) + one "data: <line>\n" per line of `data` + "\n".
std::string format_sse_event(std::string_view data, std::string_view id = {});

class sse_subscriber {
 public:
  sse_subscriber(boost::asio::any_io_executor executor, std::size_t capacity);

  // Queues a frame. Returns false, and marks the subscriber for dropping, when the queue is full.
  bool push(sse_frame frame);
  // Ends the stream cleanly after what is queued (shutdown, end of topic).
  void close();
  bool overflowed() const noexcept { return overflowed_; }
  bool finished() const noexcept { return finished_; }
  std::size_t queued() const noexcept { return queue_.size(); }

 private:
  friend boost::asio::awaitable<void> serve_sse(http::stream&, std::shared_ptr<sse_subscriber>, struct sse_options,
                                                unsigned);
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

// Writes the 200 text/event-stream header, then queued frames and keepalive comments, until the
// client disconnects (noticed at once by a concurrent read), the subscriber overflows, a write
// times out, or close() is called. Completes on the stream's executor. The caller closes the
// connection afterwards.
boost::asio::awaitable<void> serve_sse(http::stream& stream, std::shared_ptr<sse_subscriber> subscriber,
                                       sse_options options, unsigned http_version);

// One topic, many subscribers. Loop-thread only.
class sse_hub {
 public:
  sse_hub(boost::asio::any_io_executor executor, std::size_t queue_capacity);
  std::shared_ptr<sse_subscriber> subscribe();
  // Formats once and queues to every live subscriber; overflowing ones are dropped.
  void publish(std::string_view data, std::string_view id = {});
  void close_all();
  std::size_t size();

 private:
  void prune();
  boost::asio::any_io_executor executor_;
  std::size_t queue_capacity_;
  std::vector<std::weak_ptr<sse_subscriber>> subscribers_;
};

}  // namespace sc::server
