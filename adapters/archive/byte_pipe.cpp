#include "adapters/archive/byte_pipe.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/asio/completion.hpp"

namespace sc::archive {

namespace asio = boost::asio;

byte_pipe::byte_pipe(const asio::io_context::executor_type& loop, std::size_t max_chunks)
    : loop_(loop), waker_(loop), max_chunks_(max_chunks == 0 ? 1 : max_chunks) {}

void byte_pipe::wake_loop_locked() {
  changed_.notify_all();
  if (!loop_waiting_) return;
  loop_waiting_ = false;
  // The loop side set loop_waiting_ and then suspended in async_wait before its thread could run
  // anything posted, so this cancel always finds the wait armed.
  asio::post(loop_, [self = shared_from_this()] { self->waker_.cancel(); });
}

asio::awaitable<void> byte_pipe::wait_loop(std::unique_lock<std::mutex>& lock) {
  loop_waiting_ = true;
  lock.unlock();
  waker_.expires_at(asio::steady_timer::time_point::max());
  co_await waker_.async_wait(io_result);
  lock.lock();
}

asio::awaitable<bool> byte_pipe::push(std::string chunk) {
  std::unique_lock lock(mutex_);
  while (!consumer_closed_ && chunks_.size() >= max_chunks_) co_await wait_loop(lock);
  if (consumer_closed_) co_return false;
  chunks_.push_back(std::move(chunk));
  changed_.notify_all();
  co_return true;
}

asio::awaitable<std::optional<std::string>> byte_pipe::pop() {
  std::unique_lock lock(mutex_);
  while (chunks_.empty() && !producer_closed_ && !producer_aborted_) co_await wait_loop(lock);
  if (producer_aborted_ || chunks_.empty()) co_return std::nullopt;
  std::string chunk = std::move(chunks_.front());
  chunks_.pop_front();
  changed_.notify_all();
  co_return chunk;
}

std::optional<std::string> byte_pipe::pop_blocking(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  bool ready = changed_.wait_until(
      lock, deadline, [this] { return !chunks_.empty() || producer_closed_ || producer_aborted_ || consumer_closed_; });
  if (!ready) {
    timed_out_ = true;
    return std::nullopt;
  }
  if (chunks_.empty() || producer_aborted_ || consumer_closed_) return std::nullopt;
  std::string chunk = std::move(chunks_.front());
  chunks_.pop_front();
  wake_loop_locked();
  return chunk;
}

bool byte_pipe::push_blocking(std::string chunk, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  bool ready = changed_.wait_until(lock, deadline, [this] { return chunks_.size() < max_chunks_ || consumer_closed_; });
  if (!ready) {
    timed_out_ = true;
    return false;
  }
  if (consumer_closed_) return false;
  chunks_.push_back(std::move(chunk));
  wake_loop_locked();
  return true;
}

void byte_pipe::close_producer() {
  std::lock_guard lock(mutex_);
  producer_closed_ = true;
  wake_loop_locked();
}

void byte_pipe::close_consumer() {
  std::lock_guard lock(mutex_);
  consumer_closed_ = true;
  chunks_.clear();
  wake_loop_locked();
}

void byte_pipe::abort_producer() {
  std::lock_guard lock(mutex_);
  producer_aborted_ = true;
  chunks_.clear();
  wake_loop_locked();
}

bool byte_pipe::producer_aborted() const {
  std::lock_guard lock(mutex_);
  return producer_aborted_;
}

bool byte_pipe::timed_out() const {
  std::lock_guard lock(mutex_);
  return timed_out_;
}

}  // namespace sc::archive
