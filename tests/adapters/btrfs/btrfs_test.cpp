// The btrfs adapter against the sandbox's real loop-mounted btrfs (quotas on), checked with the
// btrfs CLI itself. Every test works under its own user/t5-<pid>-<test> name and removes it.
#include "adapters/btrfs/btrfs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "tests/support/loop.hpp"
#include "tests/support/sandbox.hpp"

namespace sc::btrfs {
namespace {

namespace asio = boost::asio;
using test::qgroup_limit_of;
using test::shell;

class btrfs_volumes : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::sandbox_env("SC_BTRFS_ROOT");
    ASSERT_FALSE(root_.empty());
    name_ = "t5-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    volumes_ = std::make_unique<volumes>(root_);
    auto ready = test::run_to_completion(io_, volumes_->ensure_roots());
    ASSERT_TRUE(ready) << ready.error().internal;
  }
  void TearDown() override {
    // Deepest first; whatever a failed test left behind.
    for (auto leaf : {"/b/c", "/b", "-renamed", ""}) {
      std::string path = root_ + "/user/" + name_ + leaf;
      struct stat info {};
      if (::lstat(path.c_str(), &info) == 0) shell("btrfs subvolume delete " + path + " >/dev/null 2>&1");
    }
  }
  asio::io_context io_;
  std::string root_;
  std::string name_;
  std::unique_ptr<volumes> volumes_;
};

TEST_F(btrfs_volumes, create_with_quota_list_and_remove) {
  std::string relative = "user/" + name_;
  auto made = test::run_to_completion(io_, volumes_->create(relative, 64ull << 20));
  ASSERT_TRUE(made) << made.error().internal;
  EXPECT_TRUE(volumes_->is_subvolume(relative));
  EXPECT_EQ(qgroup_limit_of(root_ + "/" + relative), std::to_string(64ull << 20));

  auto again = test::run_to_completion(io_, volumes_->create(relative, 0));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().status, 409);

  // Usage is qgroup accounting, updated when the transaction commits.
  ASSERT_EQ(shell("head -c 1048576 /dev/urandom > " + root_ + "/" + relative + "/blob && btrfs filesystem sync " +
                  root_ + " >/dev/null && echo ok"),
            "ok\n");
  auto listed = test::run_to_completion(io_, volumes_->list(relative));
  ASSERT_TRUE(listed) << listed.error().internal;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().path, relative);
  EXPECT_EQ(listed->front().quota, 64ull << 20);
  EXPECT_GE(listed->front().usage, 1048576u);

  auto removed = test::run_to_completion(io_, volumes_->remove(relative));
  ASSERT_TRUE(removed) << removed.error().internal;
  EXPECT_FALSE(volumes_->is_subvolume(relative));
  auto missing = test::run_to_completion(io_, volumes_->remove(relative));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().status, 404);
}

TEST_F(btrfs_volumes, nested_create_makes_parents_and_delete_refuses_a_parent) {
  std::string leaf = "user/" + name_ + "/b/c";
  auto made = test::run_to_completion(io_, volumes_->create(leaf, 0));
  ASSERT_TRUE(made) << made.error().internal;
  EXPECT_TRUE(volumes_->is_subvolume("user/" + name_));
  EXPECT_TRUE(volumes_->is_subvolume("user/" + name_ + "/b"));
  EXPECT_TRUE(volumes_->is_subvolume(leaf));
  auto parent = test::run_to_completion(io_, volumes_->remove("user/" + name_));
  ASSERT_FALSE(parent);
  EXPECT_EQ(parent.error().status, 409);
}

TEST_F(btrfs_volumes, rename_keeps_content_and_quota_can_be_changed_and_cleared) {
  std::string from = "user/" + name_;
  std::string to = "user/" + name_ + "-renamed";
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->create(from, 32ull << 20)));
  ASSERT_EQ(shell("echo hello > " + root_ + "/" + from + "/file && echo ok"), "ok\n");
  auto moved = test::run_to_completion(io_, volumes_->rename(from, to));
  ASSERT_TRUE(moved) << moved.error().internal;
  EXPECT_EQ(shell("cat " + root_ + "/" + to + "/file"), "hello\n");
  EXPECT_EQ(qgroup_limit_of(root_ + "/" + to), std::to_string(32ull << 20));

  ASSERT_TRUE(test::run_to_completion(io_, volumes_->set_quota(to, 48ull << 20)));
  EXPECT_EQ(qgroup_limit_of(root_ + "/" + to), std::to_string(48ull << 20));
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->set_quota(to, 0)));
  EXPECT_EQ(qgroup_limit_of(root_ + "/" + to), "none");

  ASSERT_TRUE(test::run_to_completion(io_, volumes_->create(from, 0)));
  auto clash = test::run_to_completion(io_, volumes_->rename(from, to));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().status, 409);
}

TEST_F(btrfs_volumes, paths_outside_the_base_are_refused_before_any_command) {
  EXPECT_FALSE(volumes_->path_of("../etc"));
  EXPECT_FALSE(volumes_->path_of("user/../../x"));
  auto made = test::run_to_completion(io_, volumes_->create("user/../../escape-" + name_, 0));
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().status, 422);
}

TEST(btrfs_parsers, subvolume_list_and_qgroup_show) {
  auto list = parse_subvolume_list("ID 256 gen 9 top level 5 path user\nID 300 gen 12 top level 256 path user/a b\n");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].id, 300u);
  EXPECT_EQ(list[1].path, "user/a b");
  auto groups = parse_qgroup_show(
      "Qgroupid    Referenced    Exclusive  Max referenced   Path\n--------    ----------    ---------  -------------- "
      "  ----\n"
      "0/5              16384        16384            none   <toplevel>\n0/300 4096 4096 1048576 user/a\n");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].quota, 0u);
  EXPECT_EQ(groups[1].quota, 1048576u);
  EXPECT_EQ(groups[1].usage, 4096u);
}

}  // namespace
}  // namespace sc::btrfs
