#include "adapters/pool/work_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "tests/support/loop.hpp"

namespace sc::pool {
namespace {

boost::asio::awaitable<std::pair<int, bool>> compute(work_pool& pool) {
  std::thread::id loop = std::this_thread::get_id();
  auto value = co_await pool.run([loop] { return std::this_thread::get_id() != loop ? 42 : -1; });
  co_return std::pair{value ? *value : 0, std::this_thread::get_id() == loop};
}

TEST(work_pool, runs_off_the_loop_and_resumes_on_it) {
  boost::asio::io_context io;
  work_pool pool(2, 4);
  auto [value, resumed_on_loop] = test::run_to_completion(io, compute(pool));
  EXPECT_EQ(value, 42);
  EXPECT_TRUE(resumed_on_loop);
}

// Jobs block on a latch the test opens only after the queue is full, so the counts are exact.
struct gate {
  std::mutex mutex;
  std::condition_variable opened;
  bool open = false;
  std::atomic<int> started{0};
};

boost::asio::awaitable<int> blocked(work_pool& pool, gate& g) {
  auto r = co_await pool.run([&g] {
    g.started++;
    std::unique_lock lock(g.mutex);
    g.opened.wait(lock, [&] { return g.open; });
    return 1;
  });
  co_return r ? *r : (r.error().status == 429 && r.error().retry_after ? 0 : -1);
}

boost::asio::awaitable<std::vector<int>> flood(work_pool& pool, gate& g) {
  auto executor = co_await boost::asio::this_coro::executor;
  std::vector<int> results(5, -2);
  int finished = 0;
  boost::asio::steady_timer tick(executor);
  for (int i = 0; i < 5; ++i) {
    boost::asio::co_spawn(executor, blocked(pool, g), [&results, &finished, i](std::exception_ptr, int v) {
      results[static_cast<std::size_t>(i)] = v;
      ++finished;
    });
    // The first job must be running (off the queue) before the others arrive.
    while (i == 0 && g.started == 0) {
      tick.expires_after(std::chrono::milliseconds(1));
      co_await tick.async_wait(boost::asio::use_awaitable);
    }
  }
  // 1 running + 2 queued accepted; the 4th and 5th are refused at once.
  while (finished < 2) {
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(boost::asio::use_awaitable);
  }
  {
    std::lock_guard lock(g.mutex);
    g.open = true;
  }
  g.opened.notify_all();
  while (finished < 5) {
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(boost::asio::use_awaitable);
  }
  co_return results;
}

TEST(work_pool, a_full_queue_is_refused_with_429) {
  boost::asio::io_context io;
  work_pool pool(1, 2);
  gate g;
  auto results = test::run_to_completion(io, flood(pool, g));
  EXPECT_EQ(std::count(results.begin(), results.end(), 1), 3);
  EXPECT_EQ(std::count(results.begin(), results.end(), 0), 2);
}

}  // namespace
}  // namespace sc::pool
