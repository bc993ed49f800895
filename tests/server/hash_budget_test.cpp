// The password-hashing memory budget (issue 11 §5): admission by cost, FIFO waiting, bounded queue
// and wait (429 with Retry-After), oversize costs alone, changing the total, and the idle hook.
#include "server/hash_budget.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/loop.hpp"

namespace sc::server {
namespace {

namespace asio = boost::asio;
constexpr std::uint64_t mib = 1024;  // in KiB

// Acquires `kib`, records the order it got in, holds the grant for `hold`, then releases it.
asio::awaitable<void> hold_for(hash_budget& budget, std::uint64_t kib, std::chrono::milliseconds hold, int id,
                               std::vector<int>& order, std::vector<int>& refused) {
  auto granted = co_await budget.acquire(kib);
  if (!granted) {
    EXPECT_EQ(granted.error().status, 429);
    EXPECT_EQ(granted.error().retry_after, 1u);
    refused.push_back(id);
    co_return;
  }
  order.push_back(id);
  asio::steady_timer timer(co_await asio::this_coro::executor, hold);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

TEST(hash_budget, admits_by_cost_and_queues_the_rest_in_order) {
  asio::io_context io;
  int idle = 0;
  hash_budget::options options;
  options.total_kib = 128 * mib;
  options.on_idle = [&] { ++idle; };
  hash_budget budget(io, options);
  std::vector<int> order;
  std::vector<int> refused;
  for (int id = 0; id < 5; ++id) {
    asio::co_spawn(io, hold_for(budget, 64 * mib, std::chrono::milliseconds(300), id, order, refused), asio::detached);
  }
  // Two fit at once; the other three wait. (Holds are long against the checks' timing: the
  // machine running the tests may be loaded.)
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(20)));
  EXPECT_EQ(budget.in_use_kib(), 128 * mib);
  EXPECT_EQ(budget.waiting(), 3u);
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(1500)));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ(budget.in_use_kib(), 0u);
  EXPECT_EQ(budget.peak_kib(), 128 * mib);
  EXPECT_EQ(idle, 1);  // once, when the burst was over, not after every hash
}

TEST(hash_budget, a_full_queue_refuses_at_once_and_a_long_wait_times_out) {
  asio::io_context io;
  hash_budget::options options;
  options.total_kib = 64 * mib;
  options.max_waiting = 2;
  options.max_wait = std::chrono::milliseconds(100);
  hash_budget budget(io, options);
  std::vector<int> order;
  std::vector<int> refused;
  // 0 holds the budget for longer than the wait; 1 and 2 queue and time out; 3 finds the queue full.
  for (int id = 0; id < 4; ++id) {
    asio::co_spawn(io, hold_for(budget, 64 * mib, std::chrono::milliseconds(1000), id, order, refused), asio::detached);
  }
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(20)));
  EXPECT_EQ(refused, (std::vector<int>{3}));
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(200)));
  EXPECT_EQ(refused, (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(budget.waiting(), 0u);
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(1200)));
  EXPECT_EQ(order, (std::vector<int>{0}));
  EXPECT_EQ(budget.in_use_kib(), 0u);
}

TEST(hash_budget, a_cost_above_the_whole_budget_runs_alone) {
  asio::io_context io;
  hash_budget::options options;
  options.total_kib = 32 * mib;
  hash_budget budget(io, options);
  std::vector<int> order;
  std::vector<int> refused;
  asio::co_spawn(io, hold_for(budget, 64 * mib, std::chrono::milliseconds(300), 0, order, refused), asio::detached);
  asio::co_spawn(io, hold_for(budget, 1 * mib, std::chrono::milliseconds(10), 1, order, refused), asio::detached);
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(20)));
  EXPECT_EQ(order, (std::vector<int>{0}));  // the small one does not overtake or join the big one
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(800)));
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  EXPECT_TRUE(refused.empty());
}

TEST(hash_budget, raising_the_total_starts_waiters_at_once) {
  asio::io_context io;
  hash_budget::options options;
  options.total_kib = 64 * mib;
  hash_budget budget(io, options);
  std::vector<int> order;
  std::vector<int> refused;
  for (int id = 0; id < 3; ++id) {
    asio::co_spawn(io, hold_for(budget, 64 * mib, std::chrono::milliseconds(400), id, order, refused), asio::detached);
  }
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(20)));
  EXPECT_EQ(order, (std::vector<int>{0}));
  budget.set_total_kib(192 * mib);
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(20)));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(budget.in_use_kib(), 192 * mib);
  test::run_to_completion(io, sleep_for(std::chrono::milliseconds(1000)));  // every grant back before the budget goes
  EXPECT_EQ(budget.in_use_kib(), 0u);
}

TEST(hash_budget, reads_the_memory_cost_from_a_phc_string) {
  EXPECT_EQ(argon2_cost_kib("$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", 7), 65536u);
  EXPECT_EQ(argon2_cost_kib("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", 7), 19456u);
  EXPECT_EQ(argon2_cost_kib("$argon2id$v=19$t=1,p=4$c2FsdA$aGFzaA", 7), 7u);
  EXPECT_EQ(argon2_cost_kib("$argon2id$v=19$m=,t=1", 7), 7u);
  EXPECT_EQ(argon2_cost_kib("$argon2id$v=19$m=0,t=1", 7), 7u);
  EXPECT_EQ(argon2_cost_kib("", 7), 7u);
}

}  // namespace
}  // namespace sc::server
