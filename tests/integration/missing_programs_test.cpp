// `podman`, `git` or `btrfs` missing from the host (issue 11 §4): /ready names each missing
// program, and a request that needs one gets a 503 problem naming it — never a 500 — while the
// rest of the API keeps serving.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// A PATH directory holding links to every program of the usual directories except `missing`.
std::string path_without(const std::set<std::string>& missing) {
  const std::string dir = make_temp_dir("sc-path");
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

// Starts a server whose PATH lacks `missing` (only the server's: the test's own PATH is restored).
std::unique_ptr<server_process> server_without(const std::set<std::string>& missing, std::string& bin_dir) {
  bin_dir = path_without(missing);
  const std::string saved = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  ::setenv("PATH", bin_dir.c_str(), 1);
  auto server = std::make_unique<server_process>();
  ::setenv("PATH", saved.c_str(), 1);
  return server;
}

TEST(missing_programs, ready_names_each_one_and_requests_get_503_naming_it) {
  std::string bin_dir;
  auto server = server_without({"btrfs", "git", "podman"}, bin_dir);
  ASSERT_TRUE(server->started()) << server->log();
  const std::string& sock = server->socket_path();

  auto ready = request_unix(sock, "GET", "/ready");
  EXPECT_EQ(ready.status, 503) << ready.body;
  std::set<std::string> named;
  const json::value parsed = json::parse(ready.body);  // kept: the loop must not range over a temporary
  for (const auto& e : parsed.at("errors").as_array()) {
    const std::string field(e.at("field").as_string());
    const std::string message(e.at("message").as_string());
    if (message.find("not installed") != std::string::npos) named.insert(field);
  }
  EXPECT_EQ(named, (std::set<std::string>{"btrfs", "git", "podman"})) << ready.body;

  // git: adding a repository clones it.
  const std::string repo = make_temp_dir("sc-missing-git");
  auto added = request_unix(sock, "POST", "/repository/add", R"({"name":"nogit","url":"file://)" + repo + R"("})");
  EXPECT_EQ(added.status, 503) << added.body;
  EXPECT_EQ(added.header("content-type"), "application/problem+json");
  EXPECT_NE(added.body.find("git is not installed"), std::string::npos) << added.body;

  // btrfs: a filesystem's quota and usage come from btrfs-progs.
  auto created = request_unix(sock, "POST", "/storage/create", R"({"name":"nobtrfs"})");
  if (created.status == 200) {
    auto listed = request_unix(sock, "POST", "/storage", "{}");
    EXPECT_TRUE(listed.status == 200 || listed.status == 503) << listed.body;
    (void)request_unix(sock, "POST", "/storage/remove", R"({"name":"nobtrfs"})");
  } else {
    EXPECT_EQ(created.status, 503) << created.body;
    EXPECT_NE(created.body.find("btrfs is not installed"), std::string::npos) << created.body;
  }

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
  EXPECT_EQ(checks.at("git").as_string(), "ok");
  EXPECT_EQ(checks.at("podman").as_string(), "ok");
  EXPECT_EQ(checks.at("btrfs").as_string(), "ok");
}

}  // namespace
}  // namespace sc::test
