#include "adapters/pool/work_pool.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

#include "core/log.hpp"

namespace sc::pool {

work_pool::work_pool(std::size_t threads, std::size_t max_queued) {
  add_queue("default", threads, max_queued);
}

work_queue& work_pool::add_queue(std::string name, std::size_t max_running, std::size_t max_queued) {
  max_running = std::max<std::size_t>(max_running, 1);
  {
    std::lock_guard lock(mutex_);
    queues_.push_back(std::unique_ptr<work_queue>(new work_queue(*this, std::move(name), max_running, max_queued)));
  }
  // Workers start with every signal blocked (a thread inherits its creator's mask), so SIGTERM
  // and SIGINT always reach the loop thread. Otherwise a late SIGTERM, arriving after the signal
  // set has restored the default action but while the pool is still joining, could land on a
  // worker and kill the process (exit 143) instead of letting it exit 0.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  for (std::size_t i = 0; i < max_running; ++i) threads_.emplace_back([this] { worker(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return *queues_.back();
}

work_pool::~work_pool() {
  std::vector<std::unique_ptr<detail::job_base>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& queue : queues_) {
      for (auto& job : queue->waiting_) dropped.push_back(std::move(job));
      queue->waiting_.clear();
    }
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  // `dropped` dies here, destroying the handlers of coroutines that will never resume.
}

bool work_queue::enqueue(std::unique_ptr<detail::job_base>& work) {
  {
    std::lock_guard lock(owner_.mutex_);
    if (owner_.stopping_ || waiting_.size() >= max_queued_ + (max_running_ - std::min(running_, max_running_)))
      return false;
    waiting_.push_back(std::move(work));
  }
  owner_.ready_.notify_one();
  return true;
}

std::unique_ptr<detail::job_base> work_pool::take_locked(work_queue*& from) {
  for (std::size_t i = 0; i < queues_.size(); ++i) {
    work_queue& queue = *queues_[(next_ + i) % queues_.size()];
    if (queue.waiting_.empty() || queue.running_ >= queue.max_running_) continue;
    next_ = (next_ + i + 1) % queues_.size();
    auto job = std::move(queue.waiting_.front());
    queue.waiting_.pop_front();
    ++queue.running_;
    from = &queue;
    return job;
  }
  return nullptr;
}

void work_pool::worker() {
  for (;;) {
    std::unique_ptr<detail::job_base> next;
    work_queue* from = nullptr;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] {
        if (stopping_) return true;
        next = take_locked(from);
        return next != nullptr;
      });
      if (!next) return;
    }
    try {
      next->run();
    } catch (const std::exception& e) {
      // A job that throws would leave its coroutine suspended forever; jobs must not throw.
      log::error("work_pool job on " + from->name() + " threw: " + e.what());
      std::terminate();
    }
    next.reset();
    {
      std::lock_guard lock(mutex_);
      --from->running_;
    }
    // A running slot came free: a waiting job of that queue may be taken by any idle worker.
    ready_.notify_all();
  }
}

}  // namespace sc::pool
