#pragma once
// A small bounded thread pool for CPU-heavy or blocking work (argon2 hashing, …), so the loop
// thread never blocks (DESIGN.md). A fixed number of threads and a bounded queue: when the queue is
// full, `run` completes at once with a 429 problem carrying Retry-After instead of queueing more.
//
// `co_await pool.run(fn)` runs `fn()` on a pool thread and resumes the awaiting coroutine on its own
// executor (the loop) with the result. `fn` must not touch loop-owned state; pass it copies.
// Not cancellable: once queued, `fn` runs. The destructor stops taking work, lets running jobs
// finish, drops queued ones (their awaiting coroutines are destroyed with their handlers) and joins.

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/problem.hpp"

namespace sc::pool {

namespace detail {
struct job_base {
  virtual ~job_base() = default;
  virtual void run() = 0;
};
// Runs `fn` on a pool thread, stores the value in the awaiting frame, resumes it on `executor`.
template <class Handler, class Fn, class Value, class Executor>
struct pool_job final : job_base {
  pool_job(Handler h, Fn& f, std::optional<Value>& o, Executor e)
      : handler_(std::move(h)), fn_(f), out_(o), executor_(std::move(e)) {}
  void run() override {
    out_.emplace(fn_());
    boost::asio::post(executor_, std::move(handler_));
  }
  Handler handler_;
  Fn& fn_;
  std::optional<Value>& out_;
  Executor executor_;
};
}  // namespace detail

class work_pool {
 public:
  work_pool(std::size_t threads, std::size_t max_queued);
  ~work_pool();
  work_pool(const work_pool&) = delete;
  work_pool& operator=(const work_pool&) = delete;

  template <class Fn>
  boost::asio::awaitable<result<std::invoke_result_t<Fn&>>> run(Fn fn) {
    using value_type = std::invoke_result_t<Fn&>;
    auto executor = co_await boost::asio::this_coro::executor;
    std::optional<value_type> out;
    bool accepted = false;
    // `fn` and `out` live in this coroutine's frame, which stays suspended until the handler runs.
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
        [this, &fn, &out, &accepted, executor](auto handler) {
          using job_type = detail::pool_job<decltype(handler), Fn, value_type, boost::asio::any_io_executor>;
          auto work = std::make_unique<job_type>(std::move(handler), fn, out, executor);
          job_type* raw = work.get();
          std::unique_ptr<detail::job_base> base(work.release());
          accepted = enqueue(base);
          if (!accepted) {
            boost::asio::post(executor, std::move(raw->handler_));
            base.reset();
          }
        },
        boost::asio::use_awaitable);
    if (!accepted) {
      co_return result<value_type>(boost::system::in_place_error,
                                   problem::too_many_requests("server busy, try again", 1));
    }
    co_return result<value_type>(boost::system::in_place_value, std::move(*out));
  }

  std::size_t threads() const noexcept { return threads_.size(); }

 private:
  // Takes `work` and returns true; false (leaving `work` with the caller) when stopping or full.
  bool enqueue(std::unique_ptr<detail::job_base>& work);
  void worker();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<detail::job_base>> queue_;
  std::size_t max_queued_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sc::pool
