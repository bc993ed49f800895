// Audit retention and failed-login aggregation (issue 10 §8) against a real SQLite file.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>

#include "adapters/store/audit_store.hpp"
#include "adapters/store/database.hpp"

namespace sc::store {
namespace {

constexpr std::array<migration, 2> test_steps = {{
    {1, "audit log", audit_log_schema},
    {2, "audit counts", audit_log_counts_schema},
}};

class audit_retention : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sc-audit-retention-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto opened = database::open(dir_ + "/test.db", test_steps);
    ASSERT_TRUE(opened) << opened.error().internal;
    db_ = std::move(*opened);
    store_ = std::make_unique<audit_store>(*db_);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::int64_t rows() {
    SQLite::Statement count(db_->sql(), "SELECT COUNT(*) FROM audit_log");
    count.executeStep();
    return count.getColumn(0).getInt64();
  }
  std::int64_t attempts() {
    SQLite::Statement sum(db_->sql(), "SELECT COALESCE(SUM(count), 0) FROM audit_log");
    sum.executeStep();
    return sum.getColumn(0).getInt64();
  }
  static audit::entry failed_login(const std::string& username) {
    audit::entry e;
    e.action = "authenticate";
    e.path = "/account/authenticate";
    e.detail = R"({"username":")" + username + R"("})";
    e.success = false;
    e.error = "code=401, message=invalid username or password";
    return e;
  }
  std::string dir_;
  std::unique_ptr<database> db_;
  std::unique_ptr<audit_store> store_;
};

TEST_F(audit_retention, one_hundred_thousand_failed_logins_leave_a_bounded_number_of_rows) {
  // 100,000 attempts over ten minutes from one address, plus a few from 50 others: one row per
  // address and minute, each counting its attempts, and no attempt lost.
  const auto start = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  db_->sql().exec("BEGIN");
  for (int i = 0; i < 100'000; ++i) {
    auto at = start + std::chrono::milliseconds(i * 6);  // 600 s in all
    ASSERT_TRUE(store_->record_failed_login(failed_login("root"), "203.0.113.7", at));
    if (i % 2'000 == 0) {
      ASSERT_TRUE(store_->record_failed_login(failed_login("admin"), "198.51.100." + std::to_string(i / 2'000), at));
    }
  }
  db_->sql().exec("COMMIT");
  EXPECT_LE(rows(), 10 + 1 + 50);
  EXPECT_GE(rows(), 10 + 50);
  EXPECT_EQ(attempts(), 100'000 + 50);
  // Each minute of the busy address is one row holding its 10,000 attempts.
  SQLite::Statement busiest(db_->sql(), "SELECT MAX(count), MIN(success) FROM audit_log");
  busiest.executeStep();
  EXPECT_EQ(busiest.getColumn(0).getInt64(), 10'000);
  EXPECT_EQ(busiest.getColumn(1).getInt64(), 0);
}

TEST_F(audit_retention, tracked_addresses_are_bounded_and_counts_stay_exact) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  const std::size_t addresses = audit_store::max_tracked_sources + 100;
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < addresses; ++i) {
      ASSERT_TRUE(store_->record_failed_login(failed_login("x"), "2001:db8::" + std::to_string(i), at));
    }
  }
  EXPECT_EQ(attempts(), static_cast<std::int64_t>(2 * addresses));
  // Forgetting windows costs rows, never attempts: at most one extra row per address.
  EXPECT_LE(rows(), static_cast<std::int64_t>(2 * addresses));
}

TEST_F(audit_retention, prunes_old_rows_and_rows_beyond_the_cap_in_batches) {
  const auto now = std::chrono::system_clock::now();
  db_->sql().exec("BEGIN");
  for (int i = 0; i < 3'000; ++i) {
    audit::entry e;
    e.action = "x";
    e.path = "/settings/set";
    // The first 1,000 are 100 days old, the rest fresh.
    e.created_at = rfc3339_seconds(i < 1'000 ? now - std::chrono::hours(24 * 100) : now);
    ASSERT_TRUE(store_->record(e));
  }
  db_->sql().exec("COMMIT");
  auto pruner = audit_pruner::open(dir_ + "/test.db");
  ASSERT_TRUE(pruner) << pruner.error().internal;
  store::audit_retention keep{90, 1'500};
  std::size_t batches = 0;
  std::size_t total = 0;
  for (;;) {
    auto pruned = (*pruner)->prune_batch(keep, now, 400);
    ASSERT_TRUE(pruned) << pruned.error().internal;
    ++batches;
    total += *pruned;
    EXPECT_LE(*pruned, 400u);
    if (*pruned < 400) break;
  }
  EXPECT_EQ(total, 1'500u);
  EXPECT_GE(batches, 4u);
  EXPECT_EQ(rows(), 1'500);
  // The newest rows are the ones kept.
  SQLite::Statement oldest(db_->sql(), "SELECT MIN(created_at) FROM audit_log");
  oldest.executeStep();
  EXPECT_EQ(oldest.getColumn(0).getString(), rfc3339_seconds(now));
  // Nothing left to do: a batch deletes nothing.
  auto again = (*pruner)->prune_batch(keep, now, 400);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

}  // namespace
}  // namespace sc::store
