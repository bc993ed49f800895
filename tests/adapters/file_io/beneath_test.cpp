// The beneath-resolution every outside path goes through: symlinks anywhere (middle, end,
// absolute, relative, to a directory or a file), "..", absolute paths and magic links are refused
// with the API's 4xx; plain paths open. Runs on a temp dir (no btrfs needed).
#include "adapters/file_io/beneath.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/sandbox.hpp"

namespace sc::file_io {
namespace {

namespace fs = std::filesystem;

class beneath : public ::testing::Test {
 protected:
  void SetUp() override {
    top_ = test::make_temp_dir("t10-beneath");
    fs::create_directories(top_ + "/root/dir/sub");
    fs::create_directories(top_ + "/outside");
    std::FILE* f = std::fopen((top_ + "/outside/secret").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("sentinel", f);
    std::fclose(f);
    f = std::fopen((top_ + "/root/dir/file").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    fs::create_directory_symlink(top_ + "/outside", top_ + "/root/abs");        // absolute, to a dir
    fs::create_directory_symlink("../outside", top_ + "/root/rel");             // relative, escaping
    fs::create_directory_symlink("dir", top_ + "/root/inside");                 // relative, staying inside
    fs::create_symlink(top_ + "/outside/secret", top_ + "/root/dir/filelink");  // to a file
    fs::create_directory_symlink("/proc/self/root", top_ + "/root/proc");       // towards a magic link
    root_.reset(::open((top_ + "/root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
  }
  void TearDown() override { fs::remove_all(top_); }

  std::string top_;
  unique_fd root_;
};

TEST_F(beneath, plain_paths_open_and_parent_splits_the_leaf) {
  auto dir = open_beneath(root_.get(), "dir/sub", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir) << dir.error().detail;
  auto self = open_beneath(root_.get(), "", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(self);
  auto split = open_parent_beneath(root_.get(), "dir/sub");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->leaf, "sub");
  struct stat info {};
  EXPECT_EQ(::fstatat(split->parent.get(), split->leaf.c_str(), &info, AT_SYMLINK_NOFOLLOW), 0);
  auto top_level = open_parent_beneath(root_.get(), "dir");
  ASSERT_TRUE(top_level);
  EXPECT_EQ(top_level->leaf, "dir");
}

TEST_F(beneath, every_symlink_is_refused_422_wherever_it_sits) {
  for (const std::string& path : std::vector<std::string>{"abs", "abs/secret", "rel/secret", "inside", "inside/sub",
                                                          "dir/filelink", "proc", "proc/etc/hostname"}) {
    for (int flags : {O_RDONLY, O_RDONLY | O_DIRECTORY, O_PATH}) {
      auto opened = open_beneath(root_.get(), path, flags, 0, {"name", "filesystem"});
      ASSERT_FALSE(opened) << path;
      EXPECT_EQ(opened.error().status, 422) << path << ": " << opened.error().detail;
      ASSERT_EQ(opened.error().errors.size(), 1u);
      EXPECT_EQ(opened.error().errors[0].field, "name");
    }
  }
  // A parent path through a link is refused too; a link as the leaf is the caller's to refuse.
  auto through = open_parent_beneath(root_.get(), "abs/secret");
  ASSERT_FALSE(through);
  EXPECT_EQ(through.error().status, 422);
}

TEST_F(beneath, climbing_absolute_missing_and_not_a_directory) {
  for (const std::string& path :
       std::vector<std::string>{"../outside", "dir/../../outside", "/etc", top_ + "/outside"}) {
    auto opened = open_beneath(root_.get(), path, O_RDONLY);
    ASSERT_FALSE(opened) << path;
    EXPECT_EQ(opened.error().status, 422) << path;
  }
  auto missing = open_beneath(root_.get(), "dir/none", O_RDONLY, 0, {"name", "filesystem"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().status, 404);
  EXPECT_EQ(missing.error().detail, "filesystem not found");
  auto file_as_dir = open_beneath(root_.get(), "dir/file/x", O_RDONLY);
  ASSERT_FALSE(file_as_dir);
  EXPECT_EQ(file_as_dir.error().status, 404);
  auto too_long = open_beneath(root_.get(), std::string(300, 'a'), O_RDONLY);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().status, 422);
  auto nul = open_beneath(root_.get(), std::string("dir\0x", 5), O_RDONLY);
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().status, 422);
  for (const std::string& bad : std::vector<std::string>{"", ".", "dir/..", std::string(256, 'b')}) {
    auto split = open_parent_beneath(root_.get(), bad);
    ASSERT_FALSE(split) << bad;
    EXPECT_EQ(split.error().status, 422) << bad;
  }
}

TEST_F(beneath, created_files_stay_beneath_and_the_sentinel_is_untouched) {
  auto made = open_beneath(root_.get(), "dir/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(made) << made.error().detail;
  EXPECT_TRUE(fs::exists(top_ + "/root/dir/new"));
  auto through = open_beneath(root_.get(), "abs/planted", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_FALSE(through);
  EXPECT_FALSE(fs::exists(top_ + "/outside/planted"));
  auto onto = open_beneath(root_.get(), "dir/filelink", O_WRONLY | O_TRUNC);
  ASSERT_FALSE(onto);
  EXPECT_EQ(fs::file_size(top_ + "/outside/secret"), 8u);
}

}  // namespace
}  // namespace sc::file_io
