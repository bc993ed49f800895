// Storage endpoints against the real binary and the sandbox's real btrfs (behavior-ops.md §3.4),
// verified with the btrfs CLI. Names are t5s-<pid>-… and removed afterwards: other suites share
// the filesystem.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstdio>

#include "tests/support/admin_server_suite.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;

bool is_dir(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

class storage_api : public admin_server_suite<storage_api> {
 protected:
  void SetUp() override {
    root_ = sandbox_env("SC_BTRFS_ROOT");
    ASSERT_FALSE(root_.empty());
    name_ = "t5s-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    for (auto leaf : {"-new/inner", "-new", "/inner", ""}) {
      std::string path = root_ + "/user/" + name_ + leaf;
      if (is_dir(path)) shell("btrfs subvolume delete " + path + " >/dev/null 2>&1");
    }
    for (auto& extra : cleanup_) shell("btrfs subvolume delete " + root_ + "/" + extra + " >/dev/null 2>&1");
  }
  http_reply post(const std::string& target, const std::string& body) {
    return request(server_->port(), "POST", target, body, {{"Authorization", "Bearer " + token_}});
  }
  json::array list(const std::string& body) {
    auto reply = post("/storage", body);
    EXPECT_EQ(reply.status, 200) << reply.body;
    if (reply.status != 200) return {};
    return json::parse(reply.body).at("entries").as_array();
  }

  std::string root_;
  std::string name_;
  std::vector<std::string> cleanup_;
};

TEST_F(storage_api, create_list_modify_remove_with_quotas_on_real_btrfs) {
  auto created = post("/storage/create", R"({"name":")" + name_ + R"(","quota":67108864})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_TRUE(created.body.empty());
  EXPECT_EQ(qgroup_limit_of(root_ + "/user/" + name_), "67108864");

  auto entries = list(R"({"name":")" + name_ + R"("})");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].at("name").as_string(), name_);
  EXPECT_EQ(entries[0].at("state").as_string(), "user");
  EXPECT_EQ(entries[0].at("quota").to_number<std::int64_t>(), 67108864);
  EXPECT_FALSE(entries[0].as_object().contains("internal_name"));

  // The dashboard counts user filesystems from the same real listing (this one at least).
  auto ping = request(server_->port(), "GET", "/status/ping", "", {{"Authorization", "Bearer " + token_}});
  ASSERT_EQ(ping.status, 200) << ping.body;
  EXPECT_GE(json::parse(ping.body).at("filesystems").as_int64(), 1);

  auto duplicate = post("/storage/create", R"({"name":")" + name_ + R"("})");
  EXPECT_EQ(duplicate.status, 409) << duplicate.body;

  auto modified = post("/storage/modify",
                       R"({"name":")" + name_ + R"(","filesystem":{"name":")" + name_ + R"(-new","quota":134217728}})");
  ASSERT_EQ(modified.status, 200) << modified.body;
  EXPECT_FALSE(is_dir(root_ + "/user/" + name_));
  EXPECT_EQ(qgroup_limit_of(root_ + "/user/" + name_ + "-new"), "134217728");

  auto cleared = post("/storage/modify", R"({"name":")" + name_ + R"(-new","filesystem":{"quota":0}})");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(qgroup_limit_of(root_ + "/user/" + name_ + "-new"), "none");

  auto removed = post("/storage/remove", R"({"name":")" + name_ + R"(-new"})");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_FALSE(is_dir(root_ + "/user/" + name_ + "-new"));
  EXPECT_EQ(post("/storage/remove", R"({"name":")" + name_ + R"(-new"})").status, 404);
}

TEST_F(storage_api, quota_zero_or_absent_takes_the_default_quota_setting) {
  auto created = post("/storage/create", R"({"name":")" + name_ + R"("})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(qgroup_limit_of(root_ + "/user/" + name_), "53687091200");
}

TEST_F(storage_api, bad_names_are_4xx_and_touch_nothing) {
  const std::string overlong(5000, 'a');
  for (const std::string& bad :
       {std::string("../x"), std::string("a/../../b"), std::string("/abs"), std::string("x\\u0000y"), overlong,
        std::string("user"), std::string("gfeh/home"), std::string("tls"), std::string("a b")}) {
    auto reply = post("/storage/create", R"({"name":")" + bad + R"("})");
    EXPECT_GE(reply.status, 400) << bad;
    EXPECT_LT(reply.status, 500) << bad << ": " << reply.body;
    EXPECT_EQ(reply.header("content-type"), "application/problem+json") << bad;
    auto removed = post("/storage/remove", R"({"name":")" + bad + R"("})");
    EXPECT_GE(removed.status, 400) << bad;
    EXPECT_LT(removed.status, 500) << bad;
  }
  EXPECT_FALSE(is_dir(root_ + "/x"));
  EXPECT_FALSE(is_dir(root_ + "/b"));
  auto renamed = post("/storage/modify", R"({"name":"../../etc","filesystem":{"name":"x"}})");
  EXPECT_EQ(renamed.status, 422) << renamed.body;
  auto into_reserved = post("/storage/modify", R"({"name":")" + name_ + R"(","filesystem":{"name":"../gfeh/x"}})");
  EXPECT_EQ(into_reserved.status, 422) << into_reserved.body;
  EXPECT_EQ(post("/storage/remove", R"({"name":""})").status, 422);
  EXPECT_EQ(post("/storage/create", "not json").status, 400);
  EXPECT_EQ(post("/storage", R"({"state":"bogus"})").status, 422);
}

TEST_F(storage_api, package_volumes_are_listed_grouped_and_removable_but_not_renamable) {
  std::string repo = "t5r" + std::to_string(::getpid());
  std::string volume = "installed/" + repo + "/immich/subpackages/db/1.0/data";
  ASSERT_EQ(shell("mkdir -p " + root_ + "/installed/" + repo + "/immich/subpackages/db/1.0 && btrfs subvolume create " +
                  root_ + "/" + volume + " >/dev/null && echo ok"),
            "ok\n");
  cleanup_.push_back(volume);

  auto entries = list(R"({"state":"installed","search":")" + repo + R"(","limit":100})");
  bool found = false;
  for (const auto& e : entries) {
    if (e.at("internal_name").as_string() == volume) {
      found = true;
      EXPECT_EQ(e.at("name").as_string(), "immich/db/1.0/data");
      EXPECT_EQ(e.at("state").as_string(), "installed");
    }
  }
  EXPECT_TRUE(found);

  auto groups = post("/storage/package-volumes", "{}");
  ASSERT_EQ(groups.status, 200) << groups.body;
  bool grouped = false;
  const json::value parsed = json::parse(groups.body);
  for (const auto& g : parsed.as_array()) {
    if (g.at("repo").as_string() != repo) continue;
    grouped = true;
    EXPECT_EQ(g.at("effective_name").as_string(), "immich--dep--db");
    ASSERT_EQ(g.at("volumes").as_array().size(), 1u);
    EXPECT_EQ(g.at("volumes").as_array()[0].at("name").as_string(), "1.0/data");
  }
  EXPECT_TRUE(grouped);

  auto rename = post("/storage/modify", R"({"name":")" + volume + R"(","filesystem":{"name":"installed/x/y"}})");
  EXPECT_EQ(rename.status, 422) << rename.body;
  auto quota = post("/storage/modify", R"({"name":")" + volume + R"(","filesystem":{"quota":33554432}})");
  EXPECT_EQ(quota.status, 200) << quota.body;
  EXPECT_EQ(qgroup_limit_of(root_ + "/" + volume), "33554432");

  auto bad_prefix = post("/storage/remove-package-volume", R"({"internal_name":"user/x"})");
  EXPECT_EQ(bad_prefix.status, 400);
  EXPECT_EQ(bad_prefix.header("content-type"), "application/problem+json");
  EXPECT_EQ(json::parse(bad_prefix.body).at("detail").as_string(),
            "internal_name must start with installed/ or uninstalled/");
  EXPECT_EQ(post("/storage/remove-package-volume", R"({"internal_name":"installed/../user/x"})").status, 422);
  auto removed = post("/storage/remove-package-volume", R"({"internal_name":")" + volume + R"("})");
  EXPECT_EQ(removed.status, 200) << removed.body;
  EXPECT_FALSE(is_dir(root_ + "/" + volume));
  shell("rm -rf " + root_ + "/installed/" + repo);
}

}  // namespace
}  // namespace sc::test
