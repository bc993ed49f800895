#include "core/sessions.hpp"

#include <gtest/gtest.h>

namespace sc::sessions {
namespace {

constexpr std::int64_t day = std::int64_t{24} * 3600;

TEST(sessions, token_format) {
  EXPECT_TRUE(is_well_formed_token(std::string(64, 'a')));
  EXPECT_FALSE(is_well_formed_token(std::string(63, 'a')));
  EXPECT_FALSE(is_well_formed_token(std::string(64, 'A')));
  EXPECT_FALSE(is_well_formed_token(std::string(64, 'g')));
}

TEST(sessions, idle_expiry_slides) {
  policy p;
  session s;
  s.created_at = 1000;
  s.last_used = 1000;
  EXPECT_FALSE(is_expired(s, 1000 + 7 * day, p));
  EXPECT_TRUE(is_expired(s, 1000 + 7 * day + 1, p));
  s.last_used = 1000 + 6 * day;  // used: the window moves
  EXPECT_FALSE(is_expired(s, 1000 + 12 * day, p));
}

TEST(sessions, absolute_lifetime_caps_even_active_sessions) {
  policy p;
  p.absolute = 10 * day;
  session s;
  s.created_at = 0;
  s.last_used = 10 * day;
  EXPECT_FALSE(is_expired(s, 10 * day, p));
  s.last_used = 10 * day + 1;
  EXPECT_TRUE(is_expired(s, 10 * day + 1, p));
  p.absolute = 0;  // unlimited
  EXPECT_FALSE(is_expired(s, 10 * day + 1, p));
}

TEST(sessions, last_used_is_persisted_at_most_once_a_minute) {
  policy p;
  session s;
  s.persisted_last_used = 100;
  EXPECT_FALSE(should_persist(s, 100, p));
  EXPECT_FALSE(should_persist(s, 159, p));
  EXPECT_TRUE(should_persist(s, 160, p));
}

TEST(sessions, timestamps_round_trip) {
  EXPECT_EQ(format_timestamp(1746100800), "2025-05-01T12:00:00Z");
  EXPECT_EQ(parse_timestamp("2025-05-01T12:00:00Z"), 1746100800);
  EXPECT_EQ(parse_timestamp("2025-05-01T12:00:00.123456789Z"), 1746100800);
  EXPECT_FALSE(parse_timestamp("2025-05-01 garbage"));
  EXPECT_FALSE(parse_timestamp("2025-13-01T12:00:00Z"));
}

TEST(login_throttle, refuses_after_max_failures_with_retry_after) {
  login_throttle t({.max_failures = 3, .window = 60, .max_sources = 100});
  EXPECT_FALSE(t.retry_after("1.2.3.4", 0));
  t.record_failure("1.2.3.4", 0);
  t.record_failure("1.2.3.4", 10);
  EXPECT_FALSE(t.retry_after("1.2.3.4", 10));
  t.record_failure("1.2.3.4", 20);
  EXPECT_EQ(t.retry_after("1.2.3.4", 20), 40u);  // the failure at 0 leaves the window at 60
  EXPECT_FALSE(t.retry_after("5.6.7.8", 20));    // per source
  EXPECT_FALSE(t.retry_after("1.2.3.4", 60));
}

TEST(login_throttle, success_clears_the_source) {
  login_throttle t({.max_failures = 2, .window = 60, .max_sources = 100});
  t.record_failure("a", 0);
  t.record_failure("a", 1);
  ASSERT_TRUE(t.retry_after("a", 2));
  t.record_success("a");
  EXPECT_FALSE(t.retry_after("a", 2));
}

TEST(login_throttle, memory_is_bounded) {
  login_throttle t({.max_failures = 2, .window = 60, .max_sources = 10});
  for (int i = 0; i < 1000; ++i) t.record_failure("source-" + std::to_string(i), i);
  EXPECT_LE(t.tracked_sources(), 10u);
}

}  // namespace
}  // namespace sc::sessions
