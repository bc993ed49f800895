// `podman` or `git` missing from the host (issue 11 §4): /ready names each missing program with its
// package (core/required_programs.txt, the one list), and a request that needs one gets a 503
// problem naming it — never a 500 — while the rest of the API keeps serving. btrfs-progs is not
// needed by the daemon at all (its btrfs work goes through libbtrfsutil): storage serves without it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// A PATH directory holding links to every program of the usual directories except `missing`.
std::string path_without(const std::set<std::string>& missing) {
  std::string dir = make_temp_dir("sc-path");
  for (const char* source : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(source, ec)) {
      const std::string name = entry.path().filename().string();
      if (missing.contains(name)) continue;
      fs::create_symlink(entry.path(), fs::path(dir) / name, ec);  // the first directory wins, as in PATH
    }
  }
  return dir;
}

// Starts a server whose PATH lacks `missing` (only the server's environment changes).
std::unique_ptr<server_process> server_without(const std::set<std::string>& missing, std::string& bin_dir) {
  bin_dir = path_without(missing);
  return std::make_unique<server_process>(std::vector<std::string>{}, true,
                                          std::vector<std::string>{"PATH=" + bin_dir});
}

TEST(missing_programs, ready_names_each_one_and_requests_get_503_naming_it) {
  std::string bin_dir;
  auto server = server_without({"btrfs", "git", "podman"}, bin_dir);
  ASSERT_TRUE(server->started()) << server->log();
  const std::string& sock = server->socket_path();

  auto ready = request_unix(sock, "GET", "/ready");
  EXPECT_EQ(ready.status, 503) << ready.body;
  std::map<std::string, std::string> failed;
  const json::value parsed = json::parse(ready.body);  // kept: the loop must not range over a temporary
  for (const auto& e : parsed.at("errors").as_array()) {
    failed[std::string(e.at("field").as_string())] = std::string(e.at("message").as_string());
  }
  EXPECT_FALSE(failed.contains("btrfs")) << ready.body;
  ASSERT_TRUE(failed.contains("programs")) << ready.body;
  EXPECT_NE(failed["programs"].find("git (Debian package git)"), std::string::npos) << ready.body;
  EXPECT_NE(failed["programs"].find("podman (Debian package podman)"), std::string::npos) << ready.body;
  EXPECT_EQ(failed["programs"].find("btrfs"), std::string::npos) << ready.body;

  // git: adding a repository clones it.
  const std::string repo = make_temp_dir("sc-missing-git");
  auto added = request_unix(sock, "POST", "/repository/add", R"({"name":"nogit","url":"file://)" + repo + R"("})");
  EXPECT_EQ(added.status, 503) << added.body;
  EXPECT_EQ(added.header("content-type"), "application/problem+json");
  EXPECT_NE(added.body.find("git is not installed (Debian package git)"), std::string::npos) << added.body;

  // btrfs: subvolumes, quotas and usage come from libbtrfsutil and ioctls, not from btrfs-progs.
  const std::string volume = R"({"name":"nobtrfs-)" + std::to_string(::getpid()) + R"("})";
  auto created = request_unix(sock, "POST", "/storage/create", volume);
  EXPECT_EQ(created.status, 200) << created.body;
  auto listed = request_unix(sock, "POST", "/storage", "{}");
  EXPECT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(request_unix(sock, "POST", "/storage/remove", volume).status, 200);

  // Everything else serves.
  EXPECT_EQ(request_unix(sock, "GET", "/health").status, 200);
  EXPECT_EQ(request_unix(sock, "GET", "/settings").status, 200);
  EXPECT_EQ(server->stop(SIGTERM), 0);
  std::error_code ec;
  fs::remove_all(bin_dir, ec);
  fs::remove_all(repo, ec);
}

TEST(missing_programs, ready_is_whole_when_they_are_installed) {
  server_process server;
  ASSERT_TRUE(server.started());
  auto ready = request_unix(server.socket_path(), "GET", "/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  const json::value parsed = json::parse(ready.body);
  const auto& checks = parsed.at("checks").as_object();
  EXPECT_EQ(checks.at("programs").as_string(), "ok");
  EXPECT_EQ(checks.at("btrfs").as_string(), "ok");
}

}  // namespace
}  // namespace sc::test
