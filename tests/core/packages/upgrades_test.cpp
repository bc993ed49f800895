#include "core/packages/upgrades.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sc::packages {
namespace {

const std::string manifest = "image: busybox\n";

installed_package entry(std::string repo, std::string name, std::string version, std::string_view latest,
                        std::string effective_name = {}) {
  installed_package p;
  p.package.repo = std::move(repo);
  p.package.name = std::move(name);
  p.package.version = std::move(version);
  p.package.effective_name = effective_name.empty() ? p.package.name : std::move(effective_name);
  p.installed_manifest = manifest;
  p.repository_manifest = manifest;
  p.latest_version = latest;
  return p;
}

TEST(upgrades, a_higher_version_in_the_repository_is_an_upgrade) {
  std::vector<installed_package> installed = {entry("default", "web", "1.0", "2.0")};
  auto upgrades = find_upgrades(installed);
  ASSERT_EQ(upgrades.size(), 1u);
  EXPECT_EQ(upgrades[0], (package_upgrade{"default", "web", "", "1.0", "2.0", false}));
}

TEST(upgrades, versions_compare_by_segment_not_by_text) {
  std::vector<installed_package> installed = {entry("r", "a", "1.9", "1.10"), entry("r", "b", "1.10", "1.9"),
                                              entry("r", "c", "2.0", "2.0")};
  auto upgrades = find_upgrades(installed);
  ASSERT_EQ(upgrades.size(), 1u);
  EXPECT_EQ(upgrades[0].name, "a");
  EXPECT_EQ(upgrades[0].latest_version, "1.10");
}

TEST(upgrades, a_definition_changed_in_place_or_gone_is_listed_as_changed) {
  const std::string edited = "image: busybox\ncommand: [true]\n";
  std::vector<installed_package> installed = {entry("r", "edited", "1.0", "1.0"), entry("r", "gone", "1.0", "2.0"),
                                              entry("r", "removed", "1.0", ""), entry("r", "same", "1.0", "1.0")};
  installed[0].repository_manifest = edited;
  installed[1].repository_manifest = std::nullopt;
  installed[2].repository_manifest = std::nullopt;
  auto upgrades = find_upgrades(installed);
  ASSERT_EQ(upgrades.size(), 3u);
  // Changed at the same version: the offer is the installed version itself.
  EXPECT_EQ(upgrades[0], (package_upgrade{"r", "edited", "", "1.0", "1.0", true}));
  EXPECT_EQ(upgrades[1], (package_upgrade{"r", "gone", "", "1.0", "2.0", true}));
  // The package left the repository altogether.
  EXPECT_EQ(upgrades[2], (package_upgrade{"r", "removed", "", "1.0", "1.0", true}));
}

TEST(upgrades, a_lower_repository_version_is_never_offered) {
  std::vector<installed_package> installed = {entry("r", "web", "2.0", "1.0")};
  EXPECT_TRUE(find_upgrades(installed).empty());
  installed[0].repository_manifest = std::nullopt;
  auto upgrades = find_upgrades(installed);
  ASSERT_EQ(upgrades.size(), 1u);
  EXPECT_EQ(upgrades[0].latest_version, "2.0");
  EXPECT_TRUE(upgrades[0].changed);
}

TEST(upgrades, sorted_by_repo_then_name_then_instance) {
  std::vector<installed_package> installed = {
      entry("zeta", "a", "1", "2"),   entry("alpha", "web", "1", "2", "web-c2"), entry("alpha", "web", "1", "2"),
      entry("alpha", "db", "1", "2"), entry("alpha", "web", "1", "2", "web-c1"),
  };
  auto upgrades = find_upgrades(installed);
  ASSERT_EQ(upgrades.size(), 5u);
  std::vector<std::string> order;
  order.reserve(upgrades.size());
  for (const auto& u : upgrades) order.push_back(u.repo + "/" + u.name + ":" + u.instance);
  EXPECT_EQ(order, (std::vector<std::string>{"alpha/db:", "alpha/web:", "alpha/web:c1", "alpha/web:c2", "zeta/a:"}));
}

TEST(upgrades, hash_text_is_one_line_per_upgrade_in_list_order) {
  std::vector<package_upgrade> upgrades = {{"default", "gitea", "", "1.0", "2.0", false},
                                           {"default", "web", "c1", "1.9", "1.10", true}};
  EXPECT_EQ(upgrades_hash_text(upgrades), "default/gitea@1.0->2.0\ndefault/web-c1@1.9->1.10\n");
  EXPECT_EQ(upgrades_hash_text({}), "");
}

TEST(upgrades, nothing_installed_nothing_listed) {
  EXPECT_TRUE(find_upgrades({}).empty());
  EXPECT_FALSE(definition_changed("a", std::string_view("a")));
  EXPECT_TRUE(definition_changed("a", std::string_view("b")));
  EXPECT_TRUE(definition_changed("a", std::nullopt));
}

}  // namespace
}  // namespace sc::packages
