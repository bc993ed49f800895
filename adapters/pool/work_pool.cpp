#include "adapters/pool/work_pool.hpp"

#include <pthread.h>
#include <signal.h>

#include "core/log.hpp"

namespace sc::pool {

work_pool::work_pool(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
  // Workers start with every signal blocked (a thread inherits its creator's mask), so SIGTERM
  // and SIGINT always reach the loop thread. Otherwise a late SIGTERM, arriving after the signal
  // set has restored the default action but while the pools are still joining, could land on a
  // worker and kill the process (exit 143) instead of letting it exit 0.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { worker(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

work_pool::~work_pool() {
  std::deque<std::unique_ptr<detail::job_base>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  // `dropped` dies here, destroying the handlers of coroutines that will never resume.
}

bool work_pool::enqueue(std::unique_ptr<detail::job_base>& work) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(work));
  }
  ready_.notify_one();
  return true;
}

void work_pool::worker() {
  for (;;) {
    std::unique_ptr<detail::job_base> next;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      next->run();
    } catch (const std::exception& e) {
      // A job that throws would leave its coroutine suspended forever; jobs must not throw.
      log::error(std::string("work_pool job threw: ") + e.what());
      std::terminate();
    }
  }
}

}  // namespace sc::pool
