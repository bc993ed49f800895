// The btrfs adapter against the sandbox's real loop-mounted btrfs (quotas on), checked with the
// btrfs CLI itself. Every test works under its own user/t5-<pid>-<test> name and removes it.
#include "adapters/btrfs/btrfs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

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

TEST_F(btrfs_volumes, paths_outside_the_base_are_refused_before_any_call) {
  for (const std::string& bad : std::vector<std::string>{"../etc", "user/../../x", "/etc"}) {
    auto opened = volumes_->open_subvolume(bad);
    ASSERT_FALSE(opened) << bad;
    EXPECT_EQ(opened.error().status, 422) << bad;
  }
  auto made = test::run_to_completion(io_, volumes_->create("user/../../escape-" + name_, 0));
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().status, 422);
}

// Volume contents are hostile: a symlink planted inside one (to the btrfs root's installed/, to
// /etc, absolute or relative, in the middle or at the end) is never followed by any operation.
TEST_F(btrfs_volumes, symlinks_planted_in_a_volume_are_refused_by_every_operation) {
  const std::string volume = "user/" + name_;
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->create(volume, 0)));
  const std::string victim_parent = "installed/t10-victim-" + name_;
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->create(victim_parent + "/victim", 0)));
  ASSERT_EQ(shell("cd " + root_ + "/" + volume + " && ln -s " + root_ +
                  "/installed abs && ln -s ../../installed rel && " + "ln -s /etc etc && echo ok"),
            "ok\n");
  for (const std::string& through :
       std::vector<std::string>{volume + "/abs/t10-victim-" + name_ + "/victim",
                                volume + "/rel/t10-victim-" + name_ + "/victim", volume + "/abs", volume + "/etc"}) {
    auto removed = test::run_to_completion(io_, volumes_->remove(through));
    ASSERT_FALSE(removed) << through;
    EXPECT_EQ(removed.error().status, 422) << through << ": " << removed.error().detail;
    auto renamed = test::run_to_completion(io_, volumes_->rename(through, volume + "-renamed"));
    ASSERT_FALSE(renamed) << through;
    EXPECT_EQ(renamed.error().status, 422) << through;
    auto quota = test::run_to_completion(io_, volumes_->set_quota(through, 1 << 20));
    ASSERT_FALSE(quota) << through;
    EXPECT_EQ(quota.error().status, 422) << through;
    auto info = test::run_to_completion(io_, volumes_->info(through));
    ASSERT_FALSE(info) << through;
    EXPECT_EQ(info.error().status, 422) << through;
    auto made = test::run_to_completion(io_, volumes_->create(through + "/new", 0));
    ASSERT_FALSE(made) << through;
    EXPECT_LT(made.error().status, 500) << through;
    auto snapped = test::run_to_completion(io_, volumes_->snapshot(volume, through + "/snap", true));
    ASSERT_FALSE(snapped) << through;
    EXPECT_LT(snapped.error().status, 500) << through;
  }
  EXPECT_TRUE(volumes_->is_subvolume(victim_parent + "/victim"));
  EXPECT_FALSE(std::filesystem::exists("/etc/new"));
  // Renaming onto a link never replaces or follows it.
  auto onto = test::run_to_completion(io_, volumes_->rename(volume, volume + "/abs/moved"));
  ASSERT_FALSE(onto);
  EXPECT_EQ(onto.error().status, 422);
  EXPECT_TRUE(volumes_->is_subvolume(volume));
  shell("rm -f " + root_ + "/" + volume + "/abs " + root_ + "/" + volume + "/rel " + root_ + "/" + volume + "/etc");
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->remove(victim_parent + "/victim")));
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->remove(victim_parent)));
}

TEST_F(btrfs_volumes, read_only_snapshot_keeps_the_content_and_refuses_writes) {
  const std::string volume = "user/" + name_;
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->create(volume, 0)));
  ASSERT_EQ(shell("echo one > " + root_ + "/" + volume + "/file && echo ok"), "ok\n");
  const std::string snap = "user/" + name_ + "-renamed";
  auto snapped = test::run_to_completion(io_, volumes_->snapshot(volume, snap, true));
  ASSERT_TRUE(snapped) << snapped.error().internal;
  EXPECT_TRUE(volumes_->is_subvolume(snap));
  ASSERT_EQ(shell("echo two > " + root_ + "/" + volume + "/file && echo ok"), "ok\n");
  EXPECT_EQ(shell("cat " + root_ + "/" + snap + "/file"), "one\n");
  EXPECT_EQ(shell("echo x > " + root_ + "/" + snap + "/file 2>/dev/null && echo wrote"), "");
  auto again = test::run_to_completion(io_, volumes_->snapshot(volume, snap, true));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().status, 409);
  auto missing = test::run_to_completion(io_, volumes_->snapshot(volume + "-none", snap + "2", false));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().status, 404);
  // Deleting a read-only snapshot works like any subvolume.
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->remove(snap)));
}

TEST_F(btrfs_volumes, qgroup_search_matches_the_btrfs_cli) {
  const std::string volume = "user/" + name_;
  ASSERT_TRUE(test::run_to_completion(io_, volumes_->create(volume, 5ull << 20)));
  auto root = volumes_->root();
  ASSERT_TRUE(root);
  auto groups = read_qgroups(*root);
  ASSERT_TRUE(groups) << groups.error().internal;
  auto info = test::run_to_completion(io_, volumes_->info(volume));
  ASSERT_TRUE(info) << info.error().internal;
  bool found = false;
  for (const auto& g : *groups) {
    if (g.id != info->id) continue;
    found = true;
    EXPECT_EQ(g.quota, 5ull << 20);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(qgroup_limit_of(root_ + "/" + volume), std::to_string(5ull << 20));
  EXPECT_EQ(info->quota, 5ull << 20);
}

}  // namespace
}  // namespace sc::btrfs
