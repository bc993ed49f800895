#include "adapters/pool/work_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
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
    boost::asio::co_spawn(executor, blocked(pool, g), [&results, &finished, i](const std::exception_ptr&, int v) {
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

// A queue whose every running slot is held by a blocked job neither starves another queue of
// threads nor lets that queue's bound spill over: each queue keeps its own slots and its own 429.
boost::asio::awaitable<std::pair<int, int>> other_queue_runs(work_queue& busy, work_queue& free, gate& g) {
  auto executor = co_await boost::asio::this_coro::executor;
  int blocked_result = -2;
  bool blocked_done = false;
  boost::asio::co_spawn(executor, busy.run([&g] {
    g.started++;
    std::unique_lock lock(g.mutex);
    g.opened.wait(lock, [&] { return g.open; });
    return 7;
  }),
                        [&](const std::exception_ptr&, result<int> r) {
                          blocked_result = r ? *r : -1;
                          blocked_done = true;
                        });
  boost::asio::steady_timer tick(executor);
  while (g.started == 0) {
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(boost::asio::use_awaitable);
  }
  // `busy` has no running slot left and no queue: a second job is refused at once.
  auto refused = co_await busy.run([] { return 1; });
  int refused_status = refused ? 0 : static_cast<int>(refused.error().status);
  // `free` still runs while `busy` is blocked.
  auto ran = co_await free.run([] { return 5; });
  {
    std::lock_guard lock(g.mutex);
    g.open = true;
  }
  g.opened.notify_all();
  while (!blocked_done) {
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(boost::asio::use_awaitable);
  }
  co_return std::pair{ran ? *ran + blocked_result : -100, refused_status};
}

TEST(work_pool, named_queues_keep_their_own_slots_and_bounds) {
  boost::asio::io_context io;
  work_pool pool;
  work_queue& busy = pool.add_queue("busy", 1, 0);
  work_queue& free = pool.add_queue("free", 1, 4);
  EXPECT_EQ(pool.threads(), 2u);
  EXPECT_EQ(busy.name(), "busy");
  gate g;
  auto [sum, refused_status] = test::run_to_completion(io, other_queue_runs(busy, free, g));
  EXPECT_EQ(sum, 12) << "the free queue ran (5) and the blocked job finished (7)";
  EXPECT_EQ(refused_status, 429);
}

}  // namespace
}  // namespace sc::pool
