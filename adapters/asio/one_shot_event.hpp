#pragma once
// A one-shot event for coroutines on one executor: waiters suspend until `set()`; once set it stays
// set and later waits complete at once. Built on a steady_timer that never expires by itself and
// is cancelled to wake its waiters, so every member must be called on the executor given to the
// constructor (post `set()` there from other threads). Not copyable or movable: waiters refer to it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/asio/completion.hpp"

namespace sc {

class one_shot_event {
 public:
  using clock = boost::asio::steady_timer::clock_type;

  explicit one_shot_event(const boost::asio::any_io_executor& executor) : timer_(executor, clock::time_point::max()) {}
  one_shot_event(const one_shot_event&) = delete;
  one_shot_event& operator=(const one_shot_event&) = delete;

  // Sets the event and wakes every waiter. Idempotent.
  void set() noexcept {
    set_ = true;
    timer_.cancel();
  }
  bool is_set() const noexcept { return set_; }

  // Completes when the event is set (true) or the awaiting coroutine is cancelled (false).
  boost::asio::awaitable<bool> wait() {
    if (!set_) co_await timer_.async_wait(io_result);
    co_return set_;
  }

  // As wait(), and also completes (false) at `deadline`. For an event with a single waiter only:
  // the deadline is the timer's, so a second waiter would share it.
  boost::asio::awaitable<bool> wait_until(clock::time_point deadline) {
    if (set_) co_return true;
    timer_.expires_at(deadline);
    co_await timer_.async_wait(io_result);
    co_return set_;
  }

  boost::asio::any_io_executor get_executor() noexcept { return timer_.get_executor(); }

 private:
  boost::asio::steady_timer timer_;
  bool set_ = false;
};

}  // namespace sc
