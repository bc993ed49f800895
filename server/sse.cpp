#include "server/sse.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>

#include "server/metrics.hpp"

namespace sc::server {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using non_throwing = asio::as_tuple_t<asio::use_awaitable_t<>>;
constexpr non_throwing io_result{};

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

sse_subscriber::sse_subscriber(asio::any_io_executor executor, std::size_t capacity)
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
  asio::steady_timer* read_finished = nullptr;
};

void watch_for_disconnect(http::stream& stream, watch_state& state) {
  // An SSE client sends nothing after its request; a completed read means it went away (EOF, reset)
  // or sent garbage. Either way the stream is over.
  stream.async_read_some(asio::buffer(state.scratch), [&state](boost::system::error_code, std::size_t) {
    state.read_done = true;
    state.wake->cancel();
    state.read_finished->cancel();
  });
}

std::string chunk_header(std::size_t size) {
  char text[24];
  int n = std::snprintf(text, sizeof text, "%zx\r\n", size);
  return std::string(text, static_cast<std::size_t>(n));
}

// Writes all of `buffers` unless `timeout` passes first (a reader too slow to take the bytes).
template <class Buffers>
asio::awaitable<bool> write_within(http::stream& stream, const Buffers& buffers, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto outcome = co_await (asio::async_write(stream, buffers, io_result) || timer.async_wait(io_result));
  co_return outcome.index() == 0 && !std::get<0>(std::get<0>(outcome));
}

asio::awaitable<bool> write_chunk(http::stream& stream, std::string_view text, std::chrono::milliseconds timeout) {
  std::string header = chunk_header(text.size());
  std::array<asio::const_buffer, 3> buffers = {asio::buffer(header), asio::buffer(text), asio::buffer("\r\n", 2)};
  co_return co_await write_within(stream, buffers, timeout);
}

}  // namespace

asio::awaitable<void> serve_sse(http::stream& stream, std::shared_ptr<sse_subscriber> subscriber, sse_options options,
                                unsigned http_version) {
  if (options.counters != nullptr) options.counters->sse_subscribed();
  std::string header = http_version == 10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
  header +=
      "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  bool header_written = co_await write_within(stream, asio::buffer(header), options.write_timeout);

  asio::steady_timer read_finished(stream.get_executor(), asio::steady_timer::time_point::max());
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
      co_await write_chunk(stream, ": dropped: the client is reading too slowly\n\n", std::chrono::milliseconds(200));
      break;
    }
    if (subscriber->queue_.empty()) {
      if (subscriber->closing_) {
        co_await write_within(stream, asio::buffer("0\r\n\r\n", 5), options.write_timeout);
        break;
      }
      subscriber->wake_.expires_after(options.keepalive);
      auto [wait_ec] = co_await subscriber->wake_.async_wait(io_result);
      if (!wait_ec && subscriber->queue_.empty() && !watch.read_done) {
        alive = co_await write_chunk(stream, ":\n", options.write_timeout);
      }
      continue;
    }
    batch.clear();
    buffers.clear();
    std::size_t total = 0;
    while (!subscriber->queue_.empty() && batch.size() < options.max_frames_per_write) {
      total += subscriber->queue_.front()->size();
      batch.push_back(std::move(subscriber->queue_.front()));
      subscriber->queue_.pop_front();
    }
    std::string size_line = chunk_header(total);
    buffers.push_back(asio::buffer(size_line));
    for (const auto& frame : batch) buffers.push_back(asio::buffer(*frame));
    buffers.push_back(asio::buffer("\r\n", 2));
    alive = co_await write_within(stream, buffers, options.write_timeout);
  }

  if (!watch.read_done) {
    // Stop the watcher and wait for its handler, which references this frame.
    boost::system::error_code ignored;
    stream.cancel(ignored);
    co_await read_finished.async_wait(io_result);
  }
  subscriber->finished_ = true;
  subscriber->queue_.clear();
  if (options.counters != nullptr) options.counters->sse_unsubscribed();
}

sse_hub::sse_hub(asio::any_io_executor executor, std::size_t queue_capacity)
    : executor_(std::move(executor)), queue_capacity_(queue_capacity) {}

std::shared_ptr<sse_subscriber> sse_hub::subscribe() {
  prune();
  auto subscriber = std::make_shared<sse_subscriber>(executor_, queue_capacity_);
  subscribers_.push_back(subscriber);
  return subscriber;
}

void sse_hub::publish(std::string_view data, std::string_view id) {
  auto frame = std::make_shared<const std::string>(format_sse_event(data, id));
  bool stale = false;
  for (auto& weak : subscribers_) {
    auto subscriber = weak.lock();
    if (!subscriber || subscriber->finished()) {
      stale = true;
      continue;
    }
    if (!subscriber->push(frame)) stale = true;
  }
  if (stale) prune();
}

void sse_hub::close_all() {
  for (auto& weak : subscribers_) {
    if (auto subscriber = weak.lock()) subscriber->close();
  }
}

std::size_t sse_hub::size() {
  prune();
  return subscribers_.size();
}

void sse_hub::prune() {
  std::erase_if(subscribers_, [](const std::weak_ptr<sse_subscriber>& weak) {
    auto subscriber = weak.lock();
    return !subscriber || subscriber->finished() || subscriber->overflowed();
  });
}

}  // namespace sc::server
