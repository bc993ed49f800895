#include "adapters/store/account_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "adapters/store/database.hpp"

namespace sc::store {
namespace {

class account_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sc-account-store-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto opened = database::open((dir_ / "t.db").string());
    ASSERT_TRUE(opened);
    db_ = std::move(*opened);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  static accounts::account alice() {
    accounts::account a;
    a.username = "alice";
    a.password_hash = "$argon2id$x";
    a.email = "a@b.co";
    a.phone = "555";
    a.real_name = "Alice";
    a.admin = true;
    a.grants = {};
    a.networks = {"home", "lan"};
    a.created_at = a.updated_at = "2025-05-01T12:00:00Z";
    return a;
  }
  std::filesystem::path dir_;
  std::unique_ptr<database> db_;
};

TEST_F(account_store_test, accounts_round_trip_and_duplicates_conflict) {
  account_store store(*db_);
  ASSERT_TRUE(store.insert_account(alice()));
  auto dup = store.insert_account(alice());
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().status, 409);
  auto loaded = store.load_accounts();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].networks, (std::vector<std::string>{"home", "lan"}));
  EXPECT_TRUE((*loaded)[0].admin);
  auto changed = alice();
  changed.email = "new@b.co";
  ASSERT_TRUE(store.update_account(changed));
  EXPECT_EQ((*store.load_accounts())[0].email, "new@b.co");
  changed.username = "nobody";
  EXPECT_EQ(store.update_account(changed).error().status, 404);
}

TEST_F(account_store_test, sessions_persist_and_disable_deletes_them) {
  account_store store(*db_);
  ASSERT_TRUE(store.insert_account(alice()));
  sessions::session s;
  s.id = "id-1";
  s.token_sha256 = std::string(64, 'a');
  s.username = "alice";
  s.created_at = 1746100800;
  s.last_used = 1746100800;
  ASSERT_TRUE(store.insert_session(s));
  ASSERT_TRUE(store.touch_session("id-1", 1746100900));
  auto loaded = store.load_sessions();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].last_used, 1746100900);
  EXPECT_EQ((*loaded)[0].token_sha256, std::string(64, 'a'));
  ASSERT_TRUE(store.set_disabled("alice", true, "2025-05-01T12:05:00Z"));
  EXPECT_TRUE(store.load_sessions()->empty());
  EXPECT_TRUE((*store.load_accounts())[0].disabled);
  EXPECT_EQ(store.set_disabled("nobody", true, "x").error().status, 404);
  EXPECT_EQ(store.delete_session("id-1").error().status, 404);
}

TEST_F(account_store_test, sessions_table_holds_only_the_token_digest) {
  SQLite::Statement columns(db_->sql(), "SELECT name FROM pragma_table_info('sessions') ORDER BY cid");
  std::vector<std::string> names;
  while (columns.executeStep()) names.push_back(columns.getColumn(0).getString());
  EXPECT_EQ(names, (std::vector<std::string>{"id", "token_sha256", "username", "created_at", "last_used"}));
  EXPECT_EQ(count_recent_audit_failures(*db_, "2000-01-01T00:00:00Z"), 0);
}

}  // namespace
}  // namespace sc::store
