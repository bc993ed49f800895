#include "core/packages/repository.hpp"

#include <gtest/gtest.h>

namespace sc::packages {
namespace {

TEST(repository_url, credentials_are_taken_out_of_the_url) {
  auto parsed = parse_repository_url("https://bob:p%40ss@git.example.com/team/pkgs.git");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->url, "https://git.example.com/team/pkgs.git");
  EXPECT_EQ(parsed->username, "bob");
  EXPECT_EQ(parsed->password, "p@ss");
  auto file = parse_repository_url("file:///srv/repos/local");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->url, "file:///srv/repos/local");
  EXPECT_TRUE(parse_repository_url("ssh://git@host/r.git"));
  EXPECT_TRUE(parse_repository_url("git://host/r.git"));
}

TEST(repository_url, unsafe_urls_are_refused_naming_the_field) {
  for (std::string_view bad :
       {"", "ext::sh -c id", "fd::3", "--upload-pack=x", "host:path", "ftp://h/x", "https://",
        "https://-oProxyCommand=x/y", "file://host/x", "file:///a/../etc", "https://h/a\nb", "https://h/a b"}) {
    auto parsed = parse_repository_url(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().status, 422);
    EXPECT_EQ(parsed.error().errors.at(0).field, "url");
  }
}

TEST(repository_url, names) {
  EXPECT_EQ(repository_name_from_url("https://github.com/town-os/default-packages"), "default-packages");
  EXPECT_EQ(repository_name_from_url("file:///srv/extras.git/"), "extras");
  EXPECT_TRUE(valid_repository_name("default"));
  EXPECT_FALSE(valid_repository_name(".."));
  EXPECT_FALSE(valid_repository_name("a/b"));
  EXPECT_FALSE(valid_repository_name(std::string(65, 'a')));
}

}  // namespace
}  // namespace sc::packages
