#pragma once
// The one bounded pool for CPU-heavy or blocking work (argon2 hashing, archive packing and
// unpacking, catalog loading, …), so the loop thread never blocks (DESIGN.md). Work arrives on
// named queues; each queue has its own bounds:
//
//   - at most `max_running` of its jobs run at once (the pool has one thread per running slot of
//     all its queues, so a queue of long jobs never starves another queue of threads);
//   - at most `max_queued` wait beyond those; past that `run` completes at once with a 429 problem
//     carrying Retry-After instead of queueing more.
//
// `co_await queue.run(fn)` runs `fn()` on a pool thread and resumes the awaiting coroutine on its
// own executor (the loop) with the result. `fn` must not touch loop-owned state; pass it copies.
// Not cancellable: once queued, `fn` runs. Queues are added before any work is submitted; they
// live as long as the pool. The pool's destructor stops taking work, lets running jobs finish,
// drops queued ones (their awaiting coroutines are destroyed with their handlers) and joins.

#include <boost/asio/any_io_executor.hpp>
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
#include <string>
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

class work_pool;

// A named queue of the pool. Thread-safe; owned by its pool.
class work_queue {
 public:
  work_queue(const work_queue&) = delete;
  work_queue& operator=(const work_queue&) = delete;

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

  const std::string& name() const noexcept { return name_; }
  std::size_t max_running() const noexcept { return max_running_; }

 private:
  friend class work_pool;
  work_queue(work_pool& owner, std::string name, std::size_t max_running, std::size_t max_queued)
      : owner_(owner), name_(std::move(name)), max_running_(max_running), max_queued_(max_queued) {}
  // Takes `work` and returns true; false (leaving `work` with the caller) when stopping or full.
  bool enqueue(std::unique_ptr<detail::job_base>& work);

  work_pool& owner_;
  std::string name_;
  std::size_t max_running_;
  std::size_t max_queued_;
  // Guarded by the pool's mutex.
  std::deque<std::unique_ptr<detail::job_base>> waiting_;
  std::size_t running_ = 0;
};

class work_pool {
 public:
  work_pool() = default;
  // A pool with one queue ("default", run() below): `threads` running, `max_queued` waiting.
  work_pool(std::size_t threads, std::size_t max_queued);
  ~work_pool();
  work_pool(const work_pool&) = delete;
  work_pool& operator=(const work_pool&) = delete;

  // Adds a queue and `max_running` threads (at least one). Call before submitting any work.
  work_queue& add_queue(std::string name, std::size_t max_running, std::size_t max_queued);

  // Runs on the first queue (the one the two-argument constructor makes).
  template <class Fn>
  boost::asio::awaitable<result<std::invoke_result_t<Fn&>>> run(Fn fn) {
    return queues_.front()->run(std::move(fn));
  }

  std::size_t threads() const noexcept { return threads_.size(); }

 private:
  friend class work_queue;
  void worker();
  // The next job of a queue with a free running slot, round robin; null when there is none.
  std::unique_ptr<detail::job_base> take_locked(work_queue*& from);

  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<std::unique_ptr<work_queue>> queues_;
  std::size_t next_ = 0;  // where take_locked() starts looking
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sc::pool
