#include "core/required_programs.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string_view>

namespace sc {
namespace {

const required_program* find(std::string_view program) {
  auto all = required_programs();
  auto it = std::find_if(all.begin(), all.end(), [program](const required_program& p) { return p.program == program; });
  return it == all.end() ? nullptr : &*it;
}

TEST(required_programs, the_embedded_list_names_what_the_daemon_runs) {
  for (std::string_view name : {"git", "podman", "/usr/lib/podman/netavark", "/usr/lib/podman/aardvark-dns"}) {
    const required_program* p = find(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_TRUE(p->used_by(program_user::daemon)) << name;
  }
  // The daemon does its btrfs work through libbtrfsutil and ioctls; only the sandbox and the tests
  // run btrfs-progs.
  ASSERT_NE(find("btrfs"), nullptr);
  EXPECT_FALSE(find("btrfs")->used_by(program_user::daemon));
  EXPECT_TRUE(find("btrfs")->used_by(program_user::sandbox));
  EXPECT_EQ(find("btrfs")->package, "btrfs-progs");
  EXPECT_EQ(find("/usr/lib/podman/netavark")->package, "netavark");
  EXPECT_FALSE(find("mkfs.btrfs")->used_by(program_user::daemon));
  EXPECT_TRUE(find("mkfs.btrfs")->used_by(program_user::sandbox));
}

TEST(required_programs, every_entry_is_complete_and_listed_once) {
  std::set<std::string_view> seen;
  for (const required_program& p : required_programs()) {
    EXPECT_FALSE(p.program.empty());
    EXPECT_FALSE(p.package.empty()) << p.program;
    EXPECT_NE(p.users, 0) << p.program;
    EXPECT_NE(p.program.front(), '#');
    EXPECT_TRUE(p.program.find('/') == std::string_view::npos || p.program.front() == '/')
        << p.program << ": a path must be absolute";
    EXPECT_TRUE(seen.insert(p.program).second) << p.program << " is listed twice";
  }
  EXPECT_GT(seen.size(), 20u);
}

}  // namespace
}  // namespace sc
