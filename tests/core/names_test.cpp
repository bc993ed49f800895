#include "core/names.hpp"

#include <gtest/gtest.h>

namespace sc {
namespace {

TEST(unit_names, accepts_real_unit_names) {
  for (auto name : {"town-os-package--default-gitea-2.0.service", "sc-test@1.service", "a.socket", "x_y.timer"}) {
    EXPECT_TRUE(validate_unit_name(name).has_value()) << name;
  }
}

TEST(unit_names, rejects_injection_and_odd_names) {
  std::string long_name(300, 'a');
  long_name += ".service";
  for (const std::string& name :
       {std::string(""), std::string("-x.service"), std::string(".service"), std::string("a b.service"),
        std::string("a\n.service"), std::string("a/../b.service"), std::string("a.exe"), std::string("a;rm.service"),
        std::string("a\0b.service", 11), long_name}) {
    auto checked = validate_unit_name(name);
    ASSERT_FALSE(checked.has_value()) << name;
    EXPECT_EQ(checked.error().status, 422);
  }
}

TEST(relative_paths, accepts_nested_names) {
  EXPECT_TRUE(validate_relative_path("data").has_value());
  EXPECT_TRUE(validate_relative_path("a/b.c/d-e_f").has_value());
}

TEST(relative_paths, rejects_traversal) {
  for (const std::string& path : {std::string(""), std::string("/abs"), std::string("../x"), std::string("a/../../b"),
                                  std::string("a//b"), std::string("a/"), std::string("./a"), std::string("a/."),
                                  std::string("a\0b", 3), std::string("sp ace"), std::string(5000, 'a')}) {
    EXPECT_FALSE(validate_relative_path(path).has_value()) << path;
  }
}

TEST(relative_paths, enforce_255_bytes_per_component_and_4096_in_all) {
  EXPECT_TRUE(validate_relative_path(std::string(255, 'a')).has_value());
  EXPECT_TRUE(validate_relative_path(std::string(255, 'a') + "/" + std::string(255, 'b')).has_value());
  for (const std::string& path :
       {std::string(256, 'a'), std::string(300, 'a'), "x/" + std::string(256, 'b'), std::string(4097, 'a')}) {
    auto checked = validate_relative_path(path);
    ASSERT_FALSE(checked.has_value()) << path.size();
    EXPECT_EQ(checked.error().status, 422);
  }
  std::string deep;
  while (deep.size() + 10 <= 4096) deep += "abcdefghi/";
  deep += "z";
  EXPECT_TRUE(validate_relative_path(deep).has_value()) << deep.size();
  EXPECT_FALSE(validate_relative_path(deep + "/" + std::string(10, 'y')).has_value());
}

TEST(join_under, stays_under_root) {
  auto joined = join_under("/srv/data", "a/b");
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->string(), "/srv/data/a/b");
  EXPECT_TRUE(join_under("/srv/data", "").has_value());
  EXPECT_TRUE(join_under("/srv/data", "a/../b").has_value());
}

TEST(join_under, refuses_escapes) {
  EXPECT_FALSE(join_under("/srv/data", "../x").has_value());
  EXPECT_FALSE(join_under("/srv/data", "a/../../x").has_value());
  EXPECT_FALSE(join_under("/srv/data", "/etc/passwd").has_value());
  EXPECT_FALSE(join_under("/srv/data", "../data2/x").has_value());
  EXPECT_FALSE(join_under("/srv/data", std::string("a\0b", 3)).has_value());
  EXPECT_FALSE(join_under("relative/root", "a").has_value());
}

TEST(control_characters, finds_newlines_but_not_tabs) {
  EXPECT_TRUE(has_control_characters("a\nb"));
  EXPECT_TRUE(has_control_characters("a\rb"));
  EXPECT_TRUE(has_control_characters(std::string("a\0b", 3)));
  EXPECT_TRUE(has_control_characters("a\x7f"));
  EXPECT_FALSE(has_control_characters("a\tb"));
  EXPECT_FALSE(has_control_characters("plain text ü"));
}

}  // namespace
}  // namespace sc
