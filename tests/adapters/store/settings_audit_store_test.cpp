// The settings cache and the audit log against a real SQLite file (temp dir per test).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>

#include "adapters/store/audit_store.hpp"
#include "adapters/store/database.hpp"
#include "adapters/store/settings_store.hpp"
#include "core/settings.hpp"

namespace sc::store {
namespace {

// The two tables these stores need, numbered on their own so the test does not depend on the
// project's other migrations.
constexpr std::array<migration, 3> test_steps = {{
    {1, "settings", "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL DEFAULT '');"},
    {2, "audit log", audit_log_schema},
    {3, "audit counts", audit_log_counts_schema},
}};

class store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sc-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    reopen();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    db_.reset();
    auto opened = database::open(dir_ + "/test.db", test_steps);
    ASSERT_TRUE(opened) << opened.error().internal;
    db_ = std::move(*opened);
  }
  std::string dir_;
  std::unique_ptr<database> db_;
};

TEST_F(store_test, defaults_are_seeded_and_cached) {
  auto settings = settings_store::open(*db_);
  ASSERT_TRUE(settings);
  EXPECT_EQ((*settings)->get("default_quota"), "53687091200");
  EXPECT_EQ((*settings)->get("dns_tld"), "home");
  EXPECT_EQ((*settings)->get("proton_image"), "quay.io/town/proton:latest");
  EXPECT_FALSE((*settings)->get("monitoring_backend"));
  EXPECT_EQ((*settings)->all().size(), settings::defaults().size());
  EXPECT_EQ((*settings)->get("session_lifetime"), "2592000");
}

TEST_F(store_test, integer_reads_numeric_keys_and_falls_back_only_when_there_is_no_number) {
  auto settings = settings_store::open(*db_);
  ASSERT_TRUE(settings);
  EXPECT_EQ((*settings)->integer("default_quota", 7), 53687091200);
  ASSERT_TRUE((*settings)->set("max_archive_size", "0"));
  EXPECT_EQ((*settings)->integer("max_archive_size", 1073741824), 0);  // 0: no limit, not the fallback
  EXPECT_EQ((*settings)->integer("no_such_key", 42), 42);
  EXPECT_EQ((*settings)->integer("dns_tld", 42), 42);
  ASSERT_TRUE((*settings)->set("motd", "12abc"));
  EXPECT_EQ((*settings)->integer("motd", 42), 42);
  ASSERT_TRUE((*settings)->set("motd", "-5"));
  EXPECT_EQ((*settings)->integer("motd", 42), -5);
}

TEST_F(store_test, set_persists_and_seeding_never_overwrites) {
  {
    auto settings = settings_store::open(*db_);
    ASSERT_TRUE(settings);
    ASSERT_TRUE((*settings)->set("dns_tld", "lan"));
    ASSERT_TRUE((*settings)->set("ui.theme", "dark"));
    EXPECT_EQ((*settings)->get("dns_tld"), "lan");
  }
  reopen();
  auto settings = settings_store::open(*db_);
  ASSERT_TRUE(settings);
  EXPECT_EQ((*settings)->get("dns_tld"), "lan");
  EXPECT_EQ((*settings)->get("ui.theme"), "dark");
  EXPECT_EQ((*settings)->get("locale"), "en-US");
}

TEST_F(store_test, reads_are_served_from_memory) {
  auto settings = settings_store::open(*db_);
  ASSERT_TRUE(settings);
  // Changing the row behind the store's back does not change what it serves: reads never query.
  db_->sql().exec("UPDATE settings SET value = 'changed' WHERE key = 'locale'");
  EXPECT_EQ((*settings)->get("locale"), "en-US");
}

audit::entry make_entry(std::string account, std::string path, bool success = true) {
  audit::entry e;
  e.account = std::move(account);
  e.action = std::string(audit::action_for(path));
  e.path = std::move(path);
  e.detail = R"({"username":"x"})";
  e.success = success;
  if (!success) e.error = audit::format_error(401, "invalid credentials");
  return e;
}

TEST_F(store_test, audit_records_and_lists_newest_first) {
  audit_store audit(*db_);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(audit.record(make_entry("alice", "/account/update")));
  ASSERT_TRUE(audit.record(make_entry("", "/account/authenticate", false)));
  auto page = audit.list(audit::normalize_query(0, 0, 0, "", "", "", ""));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->entries.size(), 6u);
  EXPECT_EQ(page->total_count, 6u);
  EXPECT_FALSE(page->has_more);
  EXPECT_EQ(page->entries[0].path, "/account/authenticate");
  EXPECT_FALSE(page->entries[0].success);
  EXPECT_EQ(page->entries[0].error, "code=401, message=invalid credentials");
  EXPECT_EQ(page->entries[0].created_at.size(), 20u);  // 2025-05-01T12:00:00Z
  EXPECT_EQ(page->entries[0].created_at.back(), 'Z');
  EXPECT_GT(page->entries[0].id, page->entries[1].id);
  EXPECT_EQ(page->entries[1].action, "update account");
}

TEST_F(store_test, audit_keyset_pages_do_not_overlap) {
  audit_store audit(*db_);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(audit.record(make_entry("alice", "/settings/set")));
  auto first = audit.list(audit::normalize_query(0, 0, 3, "", "", "", ""));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->entries.size(), 3u);
  EXPECT_TRUE(first->has_more);
  EXPECT_EQ(first->total_count, 7u);
  auto second = audit.list(audit::normalize_query(first->entries.back().id, 0, 3, "", "", "", ""));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->entries.size(), 3u);
  EXPECT_LT(second->entries.front().id, first->entries.back().id);
  EXPECT_EQ(second->total_count, 4u);  // the window counts rows below before_id
  auto third = audit.list(audit::normalize_query(second->entries.back().id, 0, 3, "", "", "", ""));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->entries.size(), 1u);
  EXPECT_FALSE(third->has_more);
}

TEST_F(store_test, audit_filters_sort_and_offset) {
  audit_store audit(*db_);
  ASSERT_TRUE(audit.record(make_entry("alice", "/account/update")));
  ASSERT_TRUE(audit.record(make_entry("bob", "/settings/set")));
  ASSERT_TRUE(audit.record(make_entry("carol", "/account/create")));
  auto bob = audit.list(audit::normalize_query(0, 0, 0, "bob", "", "", ""));
  ASSERT_TRUE(bob);
  ASSERT_EQ(bob->entries.size(), 1u);
  EXPECT_EQ(bob->entries[0].account, "bob");

  auto by_account = audit.list(audit::normalize_query(0, 0, 0, "", "account", "asc", ""));
  ASSERT_TRUE(by_account);
  ASSERT_EQ(by_account->entries.size(), 3u);
  EXPECT_EQ(by_account->entries[0].account, "alice");
  EXPECT_EQ(by_account->entries[2].account, "carol");

  auto searched = audit.list(audit::normalize_query(0, 0, 0, "", "", "", "CREATE ACC"));
  ASSERT_TRUE(searched);
  ASSERT_EQ(searched->entries.size(), 1u);
  EXPECT_EQ(searched->entries[0].account, "carol");

  auto offset = audit.list(audit::normalize_query(0, 2, 0, "", "", "", ""));
  ASSERT_TRUE(offset);
  ASSERT_EQ(offset->entries.size(), 1u);
  EXPECT_EQ(offset->entries[0].account, "alice");
  EXPECT_EQ(offset->total_count, 3u);
}

TEST_F(store_test, audit_search_wildcards_are_literal) {
  audit_store audit(*db_);
  ASSERT_TRUE(audit.record(make_entry("alice", "/account/update")));
  for (auto term : {"%", "_", "\\"}) {
    auto page = audit.list(audit::normalize_query(0, 0, 0, "", "", "", term));
    ASSERT_TRUE(page);
    EXPECT_TRUE(page->entries.empty()) << term;
  }
}

TEST_F(store_test, audit_table_has_the_spec_indexes) {
  SQLite::Statement q(db_->sql(),
                      "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND tbl_name='audit_log' "
                      "AND name LIKE 'audit_log_%'");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getInt(), 4);
}

}  // namespace
}  // namespace sc::store
