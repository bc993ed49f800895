// kill -9 of the server at random points (issue 11 §4): during repository add, refresh and remove,
// 20 times each. After every restart the records and the disk agree: each recorded repository has
// at most its checkout (a missing one is cloned by the next refresh), no checkout lacks its record,
// no clone's `.partial` directory and no git lock file is left, and a refresh then succeeds.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "tests/support/fixtures.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int rounds = 20;

// A git repository of the package fixture (a few hundred files: a clone takes long enough to be
// killed in the middle of).
fs::path make_fixture_repo(const fs::path& work) {
  fs::path dir = work / "upstream";
  fs::copy(fixture_packages(), dir, fs::copy_options::recursive);
  EXPECT_TRUE(commit_all(dir, "fixture"));
  return dir;
}

std::set<std::string> recorded_names(server_process& server) {
  auto reply = request_unix(server.socket_path(), "GET", "/repository?limit=1000");
  EXPECT_EQ(reply.status, 200) << reply.body;
  std::set<std::string> names;
  if (reply.status != 200) return names;
  const json::value parsed = json::parse(reply.body);  // kept: the loop must not range over a temporary
  for (const auto& e : parsed.at("entries").as_array()) names.emplace(e.at("name").as_string());
  return names;
}

// Checks the invariants; `where` says which round failed.
void expect_consistent(server_process& server, const fs::path& state, const std::string& where) {
  const std::set<std::string> recorded = recorded_names(server);
  const fs::path checkouts = state / "repositories";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkouts, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == ".git-home") continue;
    EXPECT_TRUE(recorded.contains(name)) << where << ": checkout without a record: " << name;
    EXPECT_FALSE(name.ends_with(".partial")) << where << ": a clone's temp directory was left: " << name;
    std::error_code walk_ec;
    for (fs::recursive_directory_iterator it(entry.path() / ".git", walk_ec), end; !walk_ec && it != end;
         it.increment(walk_ec)) {
      EXPECT_NE(it->path().extension(), ".lock") << where << ": stale git lock " << it->path();
    }
  }
}

// Runs `rounds` kill -9 rounds on one state directory: each round starts the server, checks the
// invariants, sends `request_for(round)` without waiting, and kills the server at a random moment
// (0 to 400 ms later: before, during and after the git work).
template <class RequestFor>
void kill_rounds(const std::string& label, RequestFor request_for, int seed) {
  const fs::path work = make_temp_dir("sc-kill-" + label);
  const fs::path state = work / "state";
  const fs::path upstream = make_fixture_repo(work);
  ASSERT_TRUE(fs::is_directory(upstream / ".git"));
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay_ms(0, 400);
  for (int round = 0; round <= rounds; ++round) {
    server_process server({"--state-dir", state.string()});
    ASSERT_TRUE(server.started()) << server.log();
    const std::string where = label + " round " + std::to_string(round);
    // Every start begins with a refresh of everything recorded, whose git holds locks while it runs
    // (`git remote set-url` takes .git/config.lock). A refresh request joins it: once it answers, no
    // git of this server runs, and a lock found below is one that nobody holds.
    (void)request_unix(server.socket_path(), "POST", "/repository/refresh");
    expect_consistent(server, state, where);
    if (round == rounds) {
      // The last start: the repositories still work.
      auto refreshed = request_unix(server.socket_path(), "POST", "/repository/refresh");
      EXPECT_EQ(refreshed.status, 200) << where << ": " << refreshed.body;
      auto listed = request_unix(server.socket_path(), "GET", "/repository?limit=1000");
      EXPECT_EQ(listed.body.find(R"("error")"), std::string::npos) << where << ": " << listed.body;
      expect_consistent(server, state, where + " after the refresh");
      break;
    }
    auto connection = raw_connection::unix_socket(server.socket_path());
    ASSERT_TRUE(connection.connected());
    auto [method, target, body] = request_for(round, "file://" + upstream.string());
    ASSERT_TRUE(connection.send(format_request(method, target, body, {})));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    server.stop(SIGKILL);
  }
  std::error_code ec;
  fs::remove_all(work, ec);
}

struct wire_request {
  std::string method;
  std::string target;
  std::string body;
};

TEST(kill_consistency, repository_add) {
  kill_rounds(
      "add",
      [](int round, const std::string& url) {
        return wire_request{"POST", "/repository/add",
                            R"({"name":"r)" + std::to_string(round) + R"(","url":")" + url + R"("})"};
      },
      11);
}

TEST(kill_consistency, repository_refresh_and_remove) {
  // Rounds 0, 4, 8, … add a repository (killed or not, it may exist afterwards), rounds 3, 7, …
  // remove it again, the others refresh everything; and every start begins with a background
  // refresh of everything recorded, so each of the 20 kills can land in a fetch.
  kill_rounds(
      "refresh",
      [](int round, const std::string& url) {
        if (round % 4 == 0) {
          return wire_request{"POST", "/repository/add",
                              R"({"name":"r)" + std::to_string(round) + R"(","url":")" + url + R"("})"};
        }
        if (round % 4 == 3) {
          return wire_request{"POST", "/repository/remove", R"({"name":"r)" + std::to_string(round - 3) + R"("})"};
        }
        return wire_request{"POST", "/repository/refresh", ""};
      },
      23);
}

}  // namespace
}  // namespace sc::test
