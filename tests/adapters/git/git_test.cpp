// The git adapter against real git over file:// (clone, fast-forward, refusal of a rewritten
// history), plus a stand-in `git` on PATH that records its argv and environment, proving that
// credentials reach git only through the environment and that the host's config and hooks are off.
#include "adapters/git/git.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/loop.hpp"

namespace sc::git {
namespace {

namespace fs = std::filesystem;

void sh(const std::string& command) {
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class git_adapter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("git --version >/dev/null 2>&1"), 0) << "git is required for the git adapter tests";
    char pattern[] = "/tmp/sc-git-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    origin_ = root_ / "origin";
    fs::create_directories(origin_);
    sh("cd '" + origin_.string() + "' && git init -q -b main && echo one > a.txt && git add -A && " + commit_ +
       "first");
    opts_.home = root_ / "home";
    opts_.timeout = std::chrono::seconds(30);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  result<void> sync_now(const std::string& url, const fs::path& checkout, credentials auth = {}) {
    return test::run_to_completion(io_, sync(url, checkout, std::move(auth), opts_));
  }

  const std::string commit_ = "git -c user.email=t@example.com -c user.name=t commit -q -m ";
  boost::asio::io_context io_;
  fs::path root_;
  fs::path origin_;
  options opts_;
};

TEST_F(git_adapter, clones_then_fast_forwards) {
  fs::path checkout = root_ / "checkouts" / "repo";
  auto cloned = sync_now("file://" + origin_.string(), checkout);
  ASSERT_TRUE(cloned) << cloned.error().detail;
  EXPECT_EQ(read(checkout / "a.txt"), "one\n");
  EXPECT_FALSE(fs::exists(root_ / "checkouts" / "repo.partial"));

  sh("cd '" + origin_.string() + "' && echo two > b.txt && git add -A && " + commit_ + "second");
  // A local edit to a tracked file is discarded: the checkout belongs to the catalog.
  { std::ofstream(checkout / "a.txt") << "edited\n"; }
  auto updated = sync_now("file://" + origin_.string(), checkout);
  ASSERT_TRUE(updated) << updated.error().detail;
  EXPECT_EQ(read(checkout / "b.txt"), "two\n");
  EXPECT_EQ(read(checkout / "a.txt"), "one\n");
}

TEST_F(git_adapter, a_rewritten_history_is_refused_and_the_checkout_kept) {
  fs::path checkout = root_ / "repo";
  ASSERT_TRUE(sync_now("file://" + origin_.string(), checkout));
  sh("cd '" + origin_.string() +
     "' && echo other > a.txt && git add -A && git -c user.email=t@example.com "
     "-c user.name=t commit -q --amend -m rewritten");
  auto updated = sync_now("file://" + origin_.string(), checkout);
  ASSERT_FALSE(updated);
  EXPECT_NE(updated.error().detail.find("git fast-forward"), std::string::npos) << updated.error().detail;
  EXPECT_EQ(read(checkout / "a.txt"), "one\n");
}

TEST_F(git_adapter, a_missing_remote_fails_without_leaving_a_partial_clone) {
  fs::path checkout = root_ / "repo";
  auto cloned = sync_now("file://" + (root_ / "nope").string(), checkout);
  ASSERT_FALSE(cloned);
  EXPECT_NE(cloned.error().detail.find("git clone"), std::string::npos);
  EXPECT_FALSE(fs::exists(checkout));
  EXPECT_FALSE(fs::exists(root_ / "repo.partial"));
}

// A stand-in git first on PATH: records argv and environment, then behaves as told.
class recording_git : public git_adapter {
 protected:
  void SetUp() override {
    git_adapter::SetUp();
    bin_ = root_ / "bin";
    fs::create_directories(bin_);
    saved_path_ = std::getenv("PATH");
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("PATH", (bin_.string() + ":" + saved_path_).c_str(), 1);
  }
  void TearDown() override {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("PATH", saved_path_.c_str(), 1);
    git_adapter::TearDown();
  }
  void install(const std::string& behaviour) {
    std::ofstream script(bin_ / "git");
    script << "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" << (root_ / "argv").string() << "'\nenv > '"
           << (root_ / "env").string() << "'\n"
           << behaviour << "\n";
    script.close();
    fs::permissions(bin_ / "git", fs::perms::owner_all);
  }
  fs::path bin_;
  std::string saved_path_;
};

TEST_F(recording_git, credentials_travel_in_the_environment_never_in_argv) {
  install("exit 1");
  auto result = sync_now("https://git.example.com/private.git", root_ / "repo", {"alice", "hunter2-s3cret"});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().detail.find("hunter2"), std::string::npos);
  std::string argv = read(root_ / "argv");
  std::string env = read(root_ / "env");
  EXPECT_EQ(argv.find("hunter2"), std::string::npos) << argv;
  EXPECT_EQ(argv.find("alice"), std::string::npos) << argv;
  EXPECT_NE(argv.find("https://git.example.com/private.git"), std::string::npos) << argv;
  EXPECT_NE(argv.find("core.hooksPath=/dev/null"), std::string::npos) << argv;
  EXPECT_NE(argv.find("credential.helper="), std::string::npos) << argv;
  for (std::string_view line :
       {"SC_GIT_USERNAME=alice", "SC_GIT_PASSWORD=hunter2-s3cret", "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
        "GIT_CONFIG_GLOBAL=/dev/null", "GIT_ALLOW_PROTOCOL=https:http:ssh:git:file"}) {
    EXPECT_NE(env.find(std::string(line) + "\n"), std::string::npos) << line;
  }
  EXPECT_NE(env.find("HOME=" + opts_.home.string() + "\n"), std::string::npos);

  // The askpass script git is pointed at answers from that environment and holds no secret.
  fs::path askpass = opts_.home / "askpass.sh";
  EXPECT_EQ(read(askpass).find("hunter2"), std::string::npos);
  std::string command =
      "SC_GIT_USERNAME=alice SC_GIT_PASSWORD=hunter2-s3cret '" + askpass.string() + "' 'Password for x: '";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char line[128] = {};
  ASSERT_NE(std::fgets(line, sizeof line, pipe), nullptr);
  ::pclose(pipe);
  EXPECT_STREQ(line, "hunter2-s3cret\n");
}

TEST_F(recording_git, git_output_quoting_the_password_is_scrubbed) {
  install("echo \"fatal: could not read from https://alice:$SC_GIT_PASSWORD@host\" >&2; exit 128");
  auto result = sync_now("https://host/r.git", root_ / "repo", {"alice", "hunter2-s3cret"});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().detail.find("hunter2"), std::string::npos) << result.error().detail;
  EXPECT_NE(result.error().detail.find("[REDACTED]"), std::string::npos) << result.error().detail;
}

TEST_F(recording_git, a_hanging_git_is_killed_at_the_timeout) {
  install("exec sleep 30");
  opts_.timeout = std::chrono::milliseconds(300);
  auto started = std::chrono::steady_clock::now();
  auto result = sync_now("https://host/r.git", root_ / "repo");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().status, 504);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

}  // namespace
}  // namespace sc::git
