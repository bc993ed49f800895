// Storage name rules, volume classification, archive member paths and download names
// (behavior-ops.md §3.2, §3.4, §4, §11).
#include "core/storage.hpp"

#include <gtest/gtest.h>

namespace sc::storage {
namespace {

std::string field_of(const problem& p) {
  return p.errors.empty() ? "" : p.errors.front().field;
}

TEST(storage_names, user_names_get_the_user_prefix_after_validation) {
  EXPECT_EQ(user_volume_path("media", "name").value(), "user/media");
  EXPECT_EQ(user_volume_path("a/b-c_d.e", "name").value(), "user/a/b-c_d.e");
}

TEST(storage_names, traversal_absolute_nul_overlong_and_odd_characters_are_422_naming_the_field) {
  const std::string overlong(5000, 'a');
  for (const std::string& bad :
       {std::string("../x"), std::string("a/../../b"), std::string("/etc"), std::string("a//b"), std::string("a/"),
        std::string("."), std::string("a/./b"), std::string("x\0y", 3), std::string("sp ace"),
        std::string("semi;colon"), overlong, std::string("")}) {
    auto path = user_volume_path(bad, "filesystem.name");
    ASSERT_FALSE(path) << bad;
    EXPECT_EQ(path.error().status, 422) << bad;
    EXPECT_EQ(field_of(path.error()), "filesystem.name") << bad;
  }
}

TEST(storage_names, a_300_byte_name_is_422_and_the_user_prefix_stays_under_path_max) {
  for (const std::string& name : {std::string(300, 'a'), std::string(256, 'a'), std::string(4091, 'a')}) {
    auto path = user_volume_path(name, "name");
    ASSERT_FALSE(path) << name.size();
    EXPECT_EQ(path.error().status, 422);
    ASSERT_EQ(path.error().errors.size(), 1u);
    EXPECT_EQ(path.error().errors[0].field, "name");
  }
  EXPECT_TRUE(user_volume_path(std::string(255, 'a'), "name"));
  std::string deep;
  while (deep.size() < 4080) deep += "abcdefghi/";
  deep += "z";
  EXPECT_TRUE(user_volume_path(deep, "name"));
  EXPECT_FALSE(user_volume_path(deep + "/zzzzzzzzzz", "name"));
}

TEST(storage_archive, the_extraction_budget_is_the_quota_headroom_capped_by_free_space) {
  EXPECT_EQ(extraction_budget(1000, 0, 0), 1000u);     // no quota: the free space
  EXPECT_EQ(extraction_budget(1000, 300, 100), 200u);  // headroom below free space
  EXPECT_EQ(extraction_budget(150, 300, 100), 150u);   // free space below headroom
  EXPECT_EQ(extraction_budget(1000, 300, 400), 0u);    // over quota already: nothing
  EXPECT_EQ(extraction_budget(0, 0, 0), 0u);
}

TEST(storage_names, reserved_roots_and_their_children_are_refused) {
  for (auto name : {"installed", "uninstalled", "archives", "pages", "vm-images", "user", "tls", "subpackages", "gfeh",
                    "gfeh/home", "user/x", "tls/ca"}) {
    auto path = user_volume_path(name, "name");
    ASSERT_FALSE(path) << name;
    EXPECT_NE(path.error().detail.find("reserved"), std::string::npos) << name;
  }
  EXPECT_TRUE(user_volume_path("users", "name"));
  EXPECT_TRUE(user_volume_path("installed-things", "name"));
}

TEST(storage_names, package_paths_need_the_prefix_and_pass_the_component_rules) {
  EXPECT_EQ(package_volume_path("installed/default/gitea/2.0/data", "internal_name").value(),
            "installed/default/gitea/2.0/data");
  EXPECT_FALSE(package_volume_path("installed/../user/x", "internal_name"));
  EXPECT_FALSE(package_volume_path("user/x", "internal_name"));
  EXPECT_FALSE(package_volume_path("installed/", "internal_name"));
}

TEST(storage_names, archive_targets_default_to_user_and_refuse_gfeh) {
  EXPECT_EQ(archive_volume_path("media", "subvolume").value(), "user/media");
  EXPECT_EQ(archive_volume_path("installed/r/p/1/data", "subvolume").value(), "installed/r/p/1/data");
  EXPECT_EQ(archive_volume_path("", "subvolume").error().status, 400);
  EXPECT_FALSE(archive_volume_path("gfeh", "subvolume"));
  EXPECT_FALSE(archive_volume_path("gfeh/home", "subvolume"));
  EXPECT_FALSE(archive_volume_path("user/../../etc", "subvolume"));
  EXPECT_FALSE(archive_volume_path("tls", "subvolume"));
}

TEST(storage_classify, user_and_package_volumes_and_what_is_skipped) {
  auto user = classify("user/media/photos");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->state, volume_state::user);
  EXPECT_EQ(user->name, "media/photos");
  EXPECT_TRUE(user->internal_name.empty());

  auto dep = classify("installed/default/immich/subpackages/db/1.0/data");
  ASSERT_TRUE(dep);
  EXPECT_EQ(dep->state, volume_state::installed);
  EXPECT_EQ(dep->name, "immich/db/1.0/data");
  EXPECT_EQ(dep->internal_name, "installed/default/immich/subpackages/db/1.0/data");
  EXPECT_EQ(dep->effective_name, "immich--dep--db");
  EXPECT_EQ(dep->repo, "default");
  EXPECT_EQ(dep->version, "1.0");
  EXPECT_EQ(dep->volume, "data");

  auto bare = classify("uninstalled/default/gitea");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->state, volume_state::uninstalled);
  EXPECT_EQ(bare->name, "gitea");
  EXPECT_TRUE(bare->version.empty());

  for (auto skipped : {"user", "installed", "installed/default", "installed/default/immich/subpackages", "archives/x",
                       "pages/site", "vm-images/a.raw", "tls/leaves", "gfeh/home", "other"}) {
    EXPECT_FALSE(classify(skipped)) << skipped;
  }
}

// Found by tests/fuzz/names (regression seed classify_trailing_slash): an empty component made a
// volume with an empty or malformed name.
TEST(storage_classify, paths_with_empty_components_name_no_volume) {
  for (auto path : {"installed/mehotos/", "user/", "user//x", "installed/r//v", "uninstalled/r/p/1.0/", "/user/x"}) {
    EXPECT_FALSE(classify(path)) << path;
  }
  EXPECT_TRUE(classify("installed/mehotos/photos"));
}

TEST(storage_archive, formats_and_download_names) {
  EXPECT_EQ(parse_archive_format(""), archive_format::tar_gz);
  EXPECT_EQ(parse_archive_format("tar.xz"), archive_format::tar_xz);
  EXPECT_FALSE(parse_archive_format("zip"));
  EXPECT_EQ(download_filename("", archive_format::tar_gz), "download.tar.gz");
  EXPECT_EQ(download_filename("backup.tar.gz", archive_format::tar_bz2), "backup.tar.bz2");
  EXPECT_EQ(download_filename("../../etc/passwd", archive_format::tar_xz), "passwd.tar.xz");
  EXPECT_EQ(download_filename("a\r\nSet-Cookie: x=1", archive_format::tar_gz), "aSet-Cookie:_x_1.tar.gz");
  EXPECT_EQ(download_filename("x\";y", archive_format::tar_gz), "x__y.tar.gz");
  EXPECT_EQ(download_filename("/", archive_format::tar_gz), "download.tar.gz");
}

TEST(storage_archive, member_paths_are_normalised_or_refused) {
  EXPECT_EQ(member_components("./a/./b/", "member").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(member_components("./", "member").value().empty());
  EXPECT_FALSE(member_components("../evil", "member"));
  EXPECT_FALSE(member_components("a/../../evil", "member"));
  EXPECT_FALSE(member_components("/etc/passwd", "member"));
  EXPECT_FALSE(member_components(std::string("a\0b", 3), "member"));
  EXPECT_FALSE(member_components(std::string(300, 'x'), "member"));
}

TEST(storage_archive, symlinks_may_only_point_inside) {
  EXPECT_TRUE(symlink_stays_inside({"a", "link"}, "../b"));
  EXPECT_TRUE(symlink_stays_inside({"link"}, "b/c"));
  EXPECT_TRUE(symlink_stays_inside({"link"}, "."));
  EXPECT_FALSE(symlink_stays_inside({"link"}, ".."));
  EXPECT_FALSE(symlink_stays_inside({"a", "link"}, "../../etc"));
  EXPECT_FALSE(symlink_stays_inside({"link"}, "/etc"));
  EXPECT_FALSE(symlink_stays_inside({"a", "link"}, "b/../../../x"));
  EXPECT_FALSE(symlink_stays_inside({"link"}, ""));
}

TEST(storage_archive, download_paths_refuse_options_traversal_and_absolute) {
  EXPECT_EQ(download_path("a/b", "paths").value(), "a/b");
  EXPECT_EQ(download_path("./", "paths").value(), ".");
  for (auto bad : {"-rf", "../x", "a/../../b", "/etc", ""}) EXPECT_FALSE(download_path(bad, "paths")) << bad;
}

// Found by tests/fuzz/names (regression seed download_dot_dash): "./" and empty components were
// dropped after the leading-'-' check, so ".//-a.8b/" became the option-like "-a.8b".
TEST(storage_archive, download_paths_that_normalise_to_an_option_are_refused) {
  for (auto bad : {".//-a.8b/", "./-rf", "././--checkpoint-action=exec=sh", "./-"}) {
    auto refused = download_path(bad, "paths");
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().status, 422);
  }
  EXPECT_EQ(download_path("./a/-b", "paths").value(), "a/-b");
}

}  // namespace
}  // namespace sc::storage
