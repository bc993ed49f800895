#include "adapters/store/repository_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "adapters/store/database.hpp"

namespace sc::store {
namespace {

class repository_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sc-repository-store-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    open_db();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_db() {
    db_.reset();
    auto opened = database::open((dir_ / "t.db").string());
    ASSERT_TRUE(opened);
    db_ = std::move(*opened);
  }
  static std::vector<std::string> names(const repository_store& store) {
    std::vector<std::string> out;
    for (const auto& r : store.list()) out.push_back(r.name);
    return out;
  }
  std::filesystem::path dir_;
  std::unique_ptr<database> db_;
};

TEST_F(repository_store_test, seeds_once_and_persists_order_and_credentials) {
  packages::repository seed{"default", "https://example.com/default-packages", "", ""};
  {
    auto store = repository_store::open(*db_, seed);
    ASSERT_TRUE(store);
    EXPECT_EQ(names(**store), std::vector<std::string>{"default"});
    ASSERT_TRUE((*store)->add({"b", "file:///srv/b", "alice", "pw"}));
    ASSERT_TRUE((*store)->add({"c", "file:///srv/c", "", ""}));
    EXPECT_EQ((*store)->add({"b", "file:///x", "", ""}).error().status, 409);
    ASSERT_TRUE((*store)->move("c", 0));
    ASSERT_TRUE((*store)->remove("default"));
    EXPECT_EQ((*store)->remove("default").error().status, 404);
    ASSERT_TRUE((*store)->set_last_refreshed(1234));
  }
  open_db();
  // Removing the seeded default is remembered: it is not seeded again.
  auto store = repository_store::open(*db_, seed);
  ASSERT_TRUE(store);
  EXPECT_EQ(names(**store), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ((*store)->find("b")->username, "alice");
  EXPECT_EQ((*store)->find("b")->password, "pw");
  EXPECT_EQ((*store)->last_refreshed(), 1234);
}

TEST_F(repository_store_test, move_clamps_the_position) {
  auto store = repository_store::open(*db_, std::nullopt);
  ASSERT_TRUE(store);
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE((*store)->add({n, "file:///x", "", ""}));
  ASSERT_TRUE((*store)->move("a", 99));
  EXPECT_EQ(names(**store), (std::vector<std::string>{"b", "c", "a"}));
  ASSERT_TRUE((*store)->move("a", -5));
  EXPECT_EQ(names(**store), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ((*store)->move("zz", 0).error().status, 404);
}

}  // namespace
}  // namespace sc::store
