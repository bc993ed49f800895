#include "server/sse.hpp"

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "adapters/asio/completion.hpp"
#include "adapters/asio/one_shot_event.hpp"
#include "server/app.hpp"
#include "server/metrics.hpp"

namespace sc::server {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

std::string format_sse_event(std::string_view data, std::string_view id) {
  std::string out;
  out.reserve(data.size() + id.size() + 16);
  if (!id.empty()) {
    out += "id: ";
    out += id;
    out += '\n';
  }
  std::size_t start = 0;
  while (true) {
    std::size_t end = data.find('\n', start);
    out += "data: ";
    out += data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  out += '\n';
  return out;
}

sse_subscriber::sse_subscriber(const asio::any_io_executor& executor, std::size_t capacity)
    : capacity_(capacity), wake_(executor, asio::steady_timer::time_point::max()) {}

bool sse_subscriber::push(sse_frame frame) {
  if (finished_ || overflowed_ || closing_) return false;
  if (queue_.size() >= capacity_) {
    overflowed_ = true;
    queue_.clear();
    wake_.cancel();
    return false;
  }
  queue_.push_back(std::move(frame));
  if (queue_.size() == 1) wake_.cancel();
  return true;
}

void sse_subscriber::close() {
  closing_ = true;
  wake_.cancel();
}

namespace {

// State shared between the writer and the disconnect watcher; lives in the writer's frame, and the
// writer does not return before the watcher's read has completed.
struct watch_state {
  std::array<char, 64> scratch{};
  bool read_done = false;
  asio::steady_timer* wake = nullptr;
  one_shot_event* read_finished = nullptr;
};

void watch_for_disconnect(http::stream& stream, watch_state& state) {
  // An SSE client sends nothing after its request; a completed read means it went away (EOF, reset)
  // or sent garbage. Either way the stream is over.
  stream.async_read_some(asio::buffer(state.scratch), [&state](boost::system::error_code, std::size_t) {
    state.read_done = true;
    state.wake->cancel();
    state.read_finished->set();
  });
}

// Writes all of `buffers` unless `timeout` passes first (a reader too slow to take the bytes).
template <class Buffers>
asio::awaitable<bool> write_within(http::stream& stream, const Buffers& buffers, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto outcome = co_await (asio::async_write(stream, buffers, io_result) || timer.async_wait(io_result));
  co_return outcome.index() == 0 && !std::get<0>(std::get<0>(outcome));
}

}  // namespace

http::response sse_response_head(const http::request& request) {
  http::response head{boost::beast::http::status::ok, request.version() == 10 ? 10u : 11u};
  head.set(boost::beast::http::field::content_type, "text/event-stream");
  head.set(boost::beast::http::field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");
  head.set(boost::beast::http::field::connection, "close");
  return head;
}

std::string sse_head(const http::request& request, const app& services) {
  http::response head = sse_response_head(request);
  services.add_cors_headers_to(request, head);
  return http::format_head(head);
}

asio::awaitable<void> serve_sse(http::stream& stream, std::shared_ptr<sse_subscriber> subscriber, sse_options options,
                                std::string head) {
  if (options.counters != nullptr) options.counters->sse_subscribed();
  bool header_written = co_await write_within(stream, asio::buffer(head), options.write_timeout);

  one_shot_event read_finished(stream.get_executor());
  watch_state watch;
  watch.wake = &subscriber->wake_;
  watch.read_finished = &read_finished;
  bool alive = header_written;
  if (alive) {
    watch_for_disconnect(stream, watch);
  } else {
    watch.read_done = true;
  }

  std::vector<sse_frame> batch;
  std::vector<asio::const_buffer> buffers;
  while (alive && !watch.read_done) {
    if (subscriber->overflowed_) {
      constexpr std::string_view dropped = ": dropped: the client is reading too slowly\n\n";
      co_await write_within(stream, asio::buffer(dropped), std::chrono::milliseconds(200));
      break;
    }
    if (subscriber->queue_.empty()) {
      if (subscriber->closing_) break;  // the body ends with the connection
      subscriber->wake_.expires_after(options.keepalive);
      auto [wait_ec] = co_await subscriber->wake_.async_wait(io_result);
      if (!wait_ec && subscriber->queue_.empty() && !watch.read_done) {
        alive = co_await write_within(stream, asio::buffer(":\n", 2), options.write_timeout);
      }
      continue;
    }
    batch.clear();
    buffers.clear();
    while (!subscriber->queue_.empty() && batch.size() < options.max_frames_per_write) {
      batch.push_back(std::move(subscriber->queue_.front()));
      subscriber->queue_.pop_front();
    }
    for (const auto& frame : batch) buffers.push_back(asio::buffer(*frame));
    alive = co_await write_within(stream, buffers, options.write_timeout);
  }

  if (!watch.read_done) {
    // Stop the watcher and wait for its handler, which references this frame.
    boost::system::error_code ignored;
    stream.cancel(ignored);
    co_await read_finished.wait();
  }
  subscriber->finished_ = true;
  subscriber->queue_.clear();
  if (options.counters != nullptr) options.counters->sse_unsubscribed();
}

}  // namespace sc::server
