#pragma once
// A bounded queue of byte chunks between the event loop and one pool thread, in either direction:
// uploads (loop pushes socket data, the extracting thread pops) and downloads (the packing thread
// pushes, the loop pops and writes to the socket). At most `max_chunks` chunks wait in it, so
// memory stays constant whatever the archive size, and a full queue stops the producer — the loop
// stops reading the socket (backpressure), or the packing thread blocks.
//
// Loop side: `push`/`pop` are coroutines awaited on the loop thread that owns `executor`; only one
// loop-side operation may be outstanding at a time. Thread side: `push_blocking`/`pop_blocking`
// block on a condition variable with a deadline. Either side may give up (`close_*`), which wakes
// the other: a consumer that stops early never leaves the producer stuck, and vice versa.
// Share it by shared_ptr between the two sides (the thread's wake-ups hold a reference).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace sc::archive {

class byte_pipe : public std::enable_shared_from_this<byte_pipe> {
 public:
  byte_pipe(const boost::asio::io_context::executor_type& loop, std::size_t max_chunks);

  // Loop side. push: false when the consumer has gone (then stop producing). pop: nullopt at the
  // end (producer closed and queue drained) or when the producer gave up.
  boost::asio::awaitable<bool> push(std::string chunk);
  boost::asio::awaitable<std::optional<std::string>> pop();

  // Thread side, bounded by `deadline` (then nullopt / false, with timed_out() true).
  std::optional<std::string> pop_blocking(std::chrono::steady_clock::time_point deadline);
  bool push_blocking(std::string chunk, std::chrono::steady_clock::time_point deadline);

  // The producer has no more data (normal end).
  void close_producer();
  // The consumer will take no more (error or early end); queued chunks are dropped.
  void close_consumer();
  // The producer failed: the consumer sees the end at once, queued chunks are dropped.
  void abort_producer();

  bool producer_aborted() const;
  bool timed_out() const;

 private:
  // Wakes the loop side if it waits (called with the lock held).
  void wake_loop_locked();
  boost::asio::awaitable<void> wait_loop(std::unique_lock<std::mutex>& lock);

  boost::asio::io_context::executor_type loop_;
  boost::asio::steady_timer waker_;  // touched on the loop thread only
  std::size_t max_chunks_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  bool producer_closed_ = false;
  bool producer_aborted_ = false;
  bool consumer_closed_ = false;
  bool loop_waiting_ = false;
  bool timed_out_ = false;
};

}  // namespace sc::archive
