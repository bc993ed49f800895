// journal_reader against the sandbox's real journald, with lines logged by units started in the
// sandbox's systemd --user manager.

#include "adapters/journal/journal_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "adapters/asio/completion.hpp"
#include "adapters/systemd/bus.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "tests/support/loop.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/test_units.hpp"

namespace sc::journal {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sc::test::run_to_completion;
using sc::test::sandbox_env;

class journal_reader_test : public ::testing::Test {
 protected:
  void SetUp() override {
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    auto address = sandbox_env("SC_BUS_ADDRESS");
    ASSERT_FALSE(unit_dir_.empty());
    ASSERT_FALSE(address.empty());
    auto bus = systemd::connect_bus(io_, address);
    ASSERT_TRUE(bus.has_value()) << bus.error().internal;
    bus_ = std::move(*bus);
    auto manager = run(systemd::systemd_manager::open(*bus_));
    ASSERT_TRUE(manager.has_value()) << manager.error().internal;
    manager_ = std::move(*manager);
    auto reader = journal_reader::open(io_);
    ASSERT_TRUE(reader.has_value()) << reader.error().internal;
    reader_ = std::move(*reader);
  }

  void TearDown() override {
    reader_.reset();
    if (manager_) {
      for (const auto& unit : units_) {
        (void)run(manager_->stop_unit(unit->name()));
        (void)run(manager_->reset_failed_unit(unit->name()));
      }
    }
    bool had_units = !units_.empty();
    units_.clear();
    if (manager_ && had_units) (void)run(manager_->reload());
    manager_.reset();
    bus_.reset();
  }

  std::string add_unit(std::string_view tag, const std::string& content) {
    auto name = sc::test::unique_unit_name(tag);
    units_.push_back(std::make_unique<sc::test::test_unit_file>(unit_dir_, name, content));
    auto reloaded = run(manager_->reload());
    EXPECT_TRUE(reloaded.has_value()) << reloaded.error().internal;
    return name;
  }

  // A unit echoing `lines`, one journal entry each. It stays alive afterwards: journald looks up a
  // stdout line's unit from the writer's cgroup when it reads the line, and a process that has
  // already exited by then is logged without _SYSTEMD_UNIT (seen here with short oneshots).
  std::string add_echo_unit(std::string_view tag, const std::vector<std::string>& lines) {
    std::string script;
    for (const auto& l : lines) script += "echo " + l + "; ";
    return add_unit(tag, "[Service]\nType=simple\nExecStart=/bin/sh -c '" + script + "exec sleep 30'\n");
  }

  template <class T>
  T run(asio::awaitable<T> coroutine) {
    return run_to_completion(io_, std::move(coroutine), 60s);
  }

  asio::io_context io_;
  std::string unit_dir_;
  std::unique_ptr<systemd::bus_connection> bus_;
  std::unique_ptr<systemd::systemd_manager> manager_;
  std::unique_ptr<journal_reader> reader_;
  std::vector<std::unique_ptr<sc::test::test_unit_file>> units_;
};

std::vector<std::string> numbered(const std::string& prefix, int count) {
  std::vector<std::string> lines;
  for (int i = 1; i <= count; ++i) lines.push_back(prefix + "-" + std::to_string(i));
  return lines;
}

std::vector<std::string> messages_of(const std::vector<journal_entry>& entries) {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(e.message);
  return out;
}

std::vector<std::string> cursors_of(const std::vector<journal_entry>& entries) {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(e.cursor);
  return out;
}

void expect_chronological(const std::vector<journal_entry>& entries) {
  for (std::size_t i = 1; i < entries.size(); ++i) {
    EXPECT_LE(entries[i - 1].realtime_usec, entries[i].realtime_usec) << "at " << i;
  }
}

// Follows from the reader's position until `count` entries arrived or `deadline` passed.
// `reader` belongs to the test fixture, which outlives the coroutine.
asio::awaitable<result<std::vector<journal_entry>>> follow_until(journal_reader* reader, std::size_t count,
                                                                 std::chrono::steady_clock::time_point deadline) {
  std::vector<journal_entry> seen;
  while (seen.size() < count) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    auto batch = co_await reader->next_batch(count - seen.size(), left);
    if (!batch) co_return batch.error();
    for (auto& e : *batch) seen.push_back(std::move(e));
  }
  co_return seen;
}

// Starts `unit` and follows until `count` of its lines are read; all on the loop.
struct started_and_followed {
  result<std::string> job = std::string();
  result<std::vector<journal_entry>> entries = std::vector<journal_entry>();
  std::chrono::steady_clock::duration start_to_seen{};
};

asio::awaitable<started_and_followed> start_and_follow(systemd::systemd_manager* manager, journal_reader* reader,
                                                       std::string unit, std::size_t count,
                                                       std::chrono::milliseconds wait, bool restart = false) {
  started_and_followed out;
  auto begin = std::chrono::steady_clock::now();
  if (restart) {
    out.job = co_await manager->restart_unit(unit);
  } else {
    out.job = co_await manager->start_unit(unit);
  }
  out.entries = co_await follow_until(reader, count, std::chrono::steady_clock::now() + wait);
  out.start_to_seen = std::chrono::steady_clock::now() - begin;
  co_return out;
}

TEST_F(journal_reader_test, reads_back_the_lines_of_a_unit) {
  auto lines = numbered("readback-" + sc::test::random_token(), 3);
  auto name = add_echo_unit("echo", lines);
  ASSERT_TRUE(reader_->match_units({name}).has_value());
  ASSERT_TRUE(reader_->seek_head().has_value());

  auto followed = run(start_and_follow(manager_.get(), reader_.get(), name, lines.size(), 5s));
  ASSERT_TRUE(followed.job.has_value()) << followed.job.error().internal;
  EXPECT_EQ(*followed.job, "done");
  ASSERT_TRUE(followed.entries.has_value()) << followed.entries.error().internal;
  EXPECT_EQ(messages_of(*followed.entries), lines);

  auto tail = run(reader_->read_tail(10));
  ASSERT_TRUE(tail.has_value()) << tail.error().internal;
  EXPECT_EQ(messages_of(*tail), lines);  // only this unit's lines: the match holds
  expect_chronological(*tail);
  for (const auto& e : *tail) {
    EXPECT_TRUE(e.systemd_unit == name || e.systemd_user_unit == name) << e.systemd_unit << e.systemd_user_unit;
    EXPECT_FALSE(e.cursor.empty());
    EXPECT_GT(e.realtime_usec, 0u);
    EXPECT_GT(e.monotonic_usec, 0u);
    EXPECT_FALSE(e.pid.empty());
    EXPECT_FALSE(e.boot_id.empty());
    EXPECT_FALSE(e.hostname.empty());
    EXPECT_EQ(e.transport, "stdout");
    EXPECT_EQ(e.priority, "6");
  }
  auto last_two = run(reader_->read_tail(2));
  ASSERT_TRUE(last_two.has_value());
  EXPECT_EQ(messages_of(*last_two), std::vector<std::string>(lines.end() - 2, lines.end()));
}

TEST_F(journal_reader_test, follow_sees_a_line_written_after_it_started) {
  auto marker = "follow-" + sc::test::random_token();
  auto name = add_unit("follow", "[Service]\nType=simple\nExecStart=/bin/sh -c 'echo " + marker + "; exec sleep 30'\n");
  ASSERT_TRUE(reader_->match_units({name}).has_value());
  auto before = run(reader_->read_tail(5));  // nothing yet; positions after the end
  ASSERT_TRUE(before.has_value());
  EXPECT_TRUE(before->empty());

  auto followed = run(start_and_follow(manager_.get(), reader_.get(), name, 1, 2s));
  ASSERT_TRUE(followed.job.has_value()) << followed.job.error().internal;
  ASSERT_TRUE(followed.entries.has_value()) << followed.entries.error().internal;
  ASSERT_EQ(followed.entries->size(), 1u) << "the line did not arrive within 2 s";
  EXPECT_EQ(followed.entries->front().message, marker);
  auto seen_at = std::chrono::system_clock::now();
  auto journald_to_us = seen_at.time_since_epoch() - std::chrono::microseconds(followed.entries->front().realtime_usec);
  std::cout << "[ measure  ] unit start -> line read by follower: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(followed.start_to_seen).count()
            << " ms (journald receive -> read: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(journald_to_us).count() << " ms)\n";
  auto start_to_seen = std::chrono::duration_cast<std::chrono::milliseconds>(followed.start_to_seen);
  RecordProperty("start_to_seen_ms", static_cast<int>(start_to_seen.count()));
}

TEST_F(journal_reader_test, seek_tail_skips_history) {
  auto lines = numbered("history-" + sc::test::random_token(), 2);
  auto name = add_echo_unit("history", lines);
  ASSERT_TRUE(reader_->match_units({name}).has_value());
  ASSERT_TRUE(reader_->seek_head().has_value());
  auto first = run(start_and_follow(manager_.get(), reader_.get(), name, 2, 5s));
  ASSERT_TRUE(first.entries.has_value());
  ASSERT_EQ(first.entries->size(), 2u);

  // Second run of the same unit: a follower positioned at the tail sees only the new lines.
  ASSERT_TRUE(reader_->seek_tail().has_value());
  auto second = run(start_and_follow(manager_.get(), reader_.get(), name, 2, 5s, /*restart=*/true));
  ASSERT_TRUE(second.entries.has_value());
  ASSERT_EQ(second.entries->size(), 2u);
  EXPECT_EQ(messages_of(*second.entries), lines);
  EXPECT_NE(second.entries->front().cursor, first.entries->front().cursor);
  EXPECT_GT(second.entries->front().realtime_usec, first.entries->back().realtime_usec);
}

// A follower placed at the tail of a unit that has not logged yet must see every line written
// afterwards, even when they all arrive before its first read (the tail seek must not resolve late).
TEST_F(journal_reader_test, seek_tail_of_an_empty_match_misses_nothing_written_later) {
  auto lines = numbered("burst-" + sc::test::random_token(), 20);
  auto name = add_echo_unit("burst", lines);
  ASSERT_TRUE(reader_->match_units({name}).has_value());
  ASSERT_TRUE(reader_->seek_tail().has_value());
  auto started = run(manager_->start_unit(name, "replace"));
  ASSERT_TRUE(started.has_value()) << started.error().internal;
  // Wait (bounded) until another reader sees the whole burst, so it is all there before our first read.
  auto probe = journal_reader::open(io_);
  ASSERT_TRUE(probe.has_value());
  ASSERT_TRUE((*probe)->match_units({name}).has_value());
  auto until = std::chrono::steady_clock::now() + 10s;
  std::size_t seen = 0;
  while (seen < lines.size() && std::chrono::steady_clock::now() < until) {
    auto tail = run((*probe)->read_tail(100));
    ASSERT_TRUE(tail.has_value());
    seen = tail->size();
    if (seen < lines.size()) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(seen, lines.size());
  auto followed = run(follow_until(reader_.get(), lines.size(), std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(followed.has_value()) << followed.error().internal;
  EXPECT_EQ(messages_of(*followed), lines);
}

TEST_F(journal_reader_test, cursors_are_exclusive_without_gaps) {
  auto lines = numbered("cursor-" + sc::test::random_token(), 6);
  auto name = add_echo_unit("cursor", lines);
  ASSERT_TRUE(reader_->match_units({name}).has_value());
  ASSERT_TRUE(reader_->seek_head().has_value());
  auto followed = run(start_and_follow(manager_.get(), reader_.get(), name, lines.size(), 5s));
  ASSERT_TRUE(followed.entries.has_value()) << followed.entries.error().internal;
  const auto& all = *followed.entries;
  ASSERT_EQ(messages_of(all), lines);
  expect_chronological(all);
  auto all_cursors = cursors_of(all);

  for (std::size_t k = 0; k < all.size(); ++k) {
    auto after = run(reader_->read_after(all[k].cursor, 100));
    ASSERT_TRUE(after.has_value()) << after.error().internal;
    EXPECT_EQ(cursors_of(*after), std::vector<std::string>(all_cursors.begin() + k + 1, all_cursors.end())) << k;

    auto before = run(reader_->read_before(all[k].cursor, 100));
    ASSERT_TRUE(before.has_value()) << before.error().internal;
    EXPECT_EQ(cursors_of(*before), std::vector<std::string>(all_cursors.begin(), all_cursors.begin() + k)) << k;
  }

  // Paging forward two at a time from the first entry reproduces the rest exactly.
  std::vector<std::string> paged;
  std::string cursor = all.front().cursor;
  for (int page = 0; page < 10; ++page) {
    auto next = run(reader_->read_after(cursor, 2));
    ASSERT_TRUE(next.has_value()) << next.error().internal;
    if (next->empty()) break;
    EXPECT_LE(next->size(), 2u);
    for (const auto& e : *next) paged.push_back(e.cursor);
    cursor = next->back().cursor;
  }
  EXPECT_EQ(paged, std::vector<std::string>(all_cursors.begin() + 1, all_cursors.end()));

  auto two_before = run(reader_->read_before(all[3].cursor, 2));
  ASSERT_TRUE(two_before.has_value());
  EXPECT_EQ(cursors_of(*two_before), (std::vector<std::string>{all_cursors[1], all_cursors[2]}));

  auto since = run(reader_->read_since(all[2].realtime_usec, 100));
  ASSERT_TRUE(since.has_value());
  auto since_cursors = cursors_of(*since);
  ASSERT_GE(since_cursors.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(since_cursors.end() - 4, since_cursors.end()),
            std::vector<std::string>(all_cursors.begin() + 2, all_cursors.end()));

  // read_after leaves the position after the last entry returned: a follower continues there.
  auto up_to_third = run(reader_->read_after(all[0].cursor, 2));
  ASSERT_TRUE(up_to_third.has_value());
  auto rest = run(reader_->next_batch(100, 1s));
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(cursors_of(*rest), std::vector<std::string>(all_cursors.begin() + 3, all_cursors.end()));
}

TEST_F(journal_reader_test, whole_journal_tail_is_chronological) {
  auto tail = run(reader_->read_tail(200));
  ASSERT_TRUE(tail.has_value()) << tail.error().internal;
  EXPECT_FALSE(tail->empty());
  expect_chronological(*tail);
}

TEST_F(journal_reader_test, invalid_input_is_rejected) {
  auto bad_unit = reader_->match_units({"../etc/passwd"});
  ASSERT_FALSE(bad_unit.has_value());
  EXPECT_EQ(bad_unit.error().status, 422);
  auto bad_cursor = run(reader_->read_after("line\nbreak", 10));
  ASSERT_FALSE(bad_cursor.has_value());
  EXPECT_EQ(bad_cursor.error().status, 422);
  auto garbage = run(reader_->read_after("garbage", 10));
  ASSERT_FALSE(garbage.has_value());
  EXPECT_EQ(garbage.error().status, 422);
}

asio::awaitable<void> tick(int* ticks, const bool* stop) {
  auto executor = co_await asio::this_coro::executor;
  while (!*stop) {
    ++*ticks;
    co_await asio::post(executor, asio::use_awaitable);
  }
}

struct read_with_ticks {
  result<std::vector<journal_entry>> entries = std::vector<journal_entry>();
  int ticks = 0;
};

// Reads while another coroutine counts loop turns: a chunked read lets it run in between.
asio::awaitable<read_with_ticks> read_tail_while_ticking(journal_reader* reader, std::size_t count) {
  auto executor = co_await asio::this_coro::executor;
  read_with_ticks out;
  bool stop = false;
  asio::co_spawn(executor, tick(&out.ticks, &stop), asio::detached);
  out.entries = co_await reader->read_tail(count);
  stop = true;
  co_await asio::post(executor, asio::use_awaitable);  // the ticker sees `stop` and ends first
  co_return out;
}

TEST_F(journal_reader_test, large_reads_yield_to_the_loop) {
  journal_options options;
  options.entries_per_turn = 10;
  auto reader = journal_reader::open(io_, options);
  ASSERT_TRUE(reader.has_value());
  auto out = run(read_tail_while_ticking(reader->get(), 200));
  ASSERT_TRUE(out.entries.has_value()) << out.entries.error().internal;
  ASSERT_GE(out.entries->size(), 50u) << "the sandbox journal should hold more entries";
  expect_chronological(*out.entries);
  EXPECT_GE(out.ticks, static_cast<int>(out.entries->size() / 10) - 1);
}

using namespace boost::asio::experimental::awaitable_operators;

struct busy_outcome {
  result<std::vector<journal_entry>> concurrent = std::vector<journal_entry>();
  bool timer_won = false;
  result<std::vector<journal_entry>> afterwards = std::vector<journal_entry>();
};

asio::awaitable<void> follow_briefly(journal_reader* reader, bool* timer_won) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, 100ms);
  auto which = co_await (reader->next_batch(10, 10s) || timer.async_wait(asio::use_awaitable));
  *timer_won = which.index() == 1;
}

asio::awaitable<busy_outcome> use_while_following(journal_reader* reader) {
  auto executor = co_await asio::this_coro::executor;
  busy_outcome out;
  asio::steady_timer done(executor, 10s);
  bool finished = false;
  asio::co_spawn(executor, follow_briefly(reader, &out.timer_won), [&](const std::exception_ptr&) {
    finished = true;
    done.cancel();
  });
  co_await asio::post(executor, asio::use_awaitable);  // the follower is now waiting
  out.concurrent = co_await reader->read_tail(1);
  if (!finished) co_await done.async_wait(io_result);
  out.afterwards = co_await reader->read_tail(1);
  co_return out;
}

TEST_F(journal_reader_test, one_operation_at_a_time_and_cancellable_follow) {
  auto name = sc::test::unique_unit_name("quiet");  // no entries: the follower waits
  ASSERT_TRUE(reader_->match_units({name}).has_value());
  ASSERT_TRUE(reader_->seek_tail().has_value());
  auto begin = std::chrono::steady_clock::now();
  auto out = run(use_while_following(reader_.get()));
  ASSERT_FALSE(out.concurrent.has_value());
  EXPECT_EQ(out.concurrent.error().status, 409);
  EXPECT_TRUE(out.timer_won);
  EXPECT_TRUE(out.afterwards.has_value());  // usable again once the cancelled follow returned
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
}

asio::awaitable<result<std::vector<journal_entry>>> follow_then_destroy(std::unique_ptr<journal_reader>* reader) {
  auto executor = co_await asio::this_coro::executor;
  result<std::vector<journal_entry>> out = std::vector<journal_entry>();
  bool finished = false;
  asio::steady_timer done(executor, 10s);
  asio::co_spawn(executor, (*reader)->next_batch(10, 10s),
                 [&](const std::exception_ptr&, result<std::vector<journal_entry>> r) {
                   out = std::move(r);
                   finished = true;
                   done.cancel();
                 });
  co_await asio::post(executor, asio::use_awaitable);
  reader->reset();
  if (!finished) co_await done.async_wait(io_result);
  co_return out;
}

TEST_F(journal_reader_test, destroying_the_reader_ends_a_follow) {
  ASSERT_TRUE(reader_->match_units({sc::test::unique_unit_name("quiet")}).has_value());
  ASSERT_TRUE(reader_->seek_tail().has_value());
  auto begin = std::chrono::steady_clock::now();
  auto out = run(follow_then_destroy(&reader_));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
}

}  // namespace
}  // namespace sc::journal
