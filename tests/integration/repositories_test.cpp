// Package repositories and the read-only package endpoints against the real binary, with real git
// repositories built from the fixture and served over file:// (DESIGN.md: real parts). Root on the
// Unix socket is the administrator. git missing is a failure, not a skip.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/support/fixtures.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

class repositories : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("git --version >/dev/null 2>&1"), 0) << "git is required for the repository tests";
    ASSERT_TRUE(fs::is_directory(fixture_packages() / "packages")) << "fixture missing: " << fixture_packages();
    char pattern[] = "/tmp/sc-repos-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    work_ = pattern;
    // No default repository: each test adds its own.
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("SC_DEFAULT_REPOSITORY", "", 1);
    server_ = std::make_unique<server_process>();
    ASSERT_TRUE(server_->started()) << server_->log();
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  // A git repository at <work>/<name> holding the fixture (or only `only` of its packages).
  fs::path make_repo(const std::string& name, const std::vector<std::string>& only = {}) {
    fs::path dir = work_ / name;
    fs::create_directories(dir / "packages");
    fs::path fixture = fixture_packages();
    fs::copy(fixture / "featured.json", dir / "featured.json");
    for (const auto& entry : fs::directory_iterator(fixture / "packages")) {
      std::string package = entry.path().filename().string();
      if (!only.empty() && std::find(only.begin(), only.end(), package) == only.end()) continue;
      fs::copy(entry.path(), dir / "packages" / package, fs::copy_options::recursive);
    }
    commit(dir, "initial");
    return dir;
  }

  void commit(const fs::path& dir, const std::string& message) { ASSERT_TRUE(commit_all(dir, message)); }

  static std::string file_url(const fs::path& dir) { return "file://" + dir.string(); }

  http_reply call(const std::string& method, const std::string& target, const std::string& body = {}) {
    return request_unix(server_->socket_path(), method, target, body);
  }

  json::value call_json(const std::string& method, const std::string& target, const std::string& body = {}) {
    auto reply = call(method, target, body);
    EXPECT_EQ(reply.status, 200) << method << " " << target << ": " << reply.body;
    return json::parse(reply.body.empty() ? "null" : reply.body);
  }

  void add(const std::string& name, const fs::path& dir) {
    auto reply = call("POST", "/repository/add", R"({"name":")" + name + R"(","url":")" + file_url(dir) + R"("})");
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_TRUE(reply.body.empty());
  }

  // The repo serving `name` in GET /packages.
  std::string repo_of(const std::string& name) {
    auto page = call_json("GET", "/packages?limit=100&search=" + name);
    for (const auto& e : page.at("entries").as_array()) {
      if (e.at("name").as_string() == name) return std::string(e.at("repo").as_string());
    }
    return {};
  }

  fs::path work_;
  std::unique_ptr<server_process> server_;
};

TEST_F(repositories, add_serves_every_package_and_manifest) {
  add("main", make_repo("main"));
  auto list = call_json("GET", "/repository");
  ASSERT_EQ(list.at("total_count").as_int64(), 1);
  EXPECT_EQ(list.at("entries").at(0).at("name").as_string(), "main");
  EXPECT_FALSE(list.at("entries").at(0).as_object().contains("error")) << json::serialize(list);
  // A repository without credentials shows "username":"" (the original client reads a string).
  EXPECT_EQ(list.at("entries").at(0).at("username").as_string(), "") << json::serialize(list);

  auto packages = call_json("GET", "/packages?limit=100");
  EXPECT_EQ(packages.at("total_count").as_int64(), 19);
  auto ping = call_json("GET", "/status/ping");
  EXPECT_EQ(ping.at("repositories").as_int64(), 1);
  EXPECT_EQ(ping.at("packages").as_int64(), 19);
  EXPECT_FALSE(ping.as_object().contains("repository_errors"));
  auto matrix = call_json("GET", "/packages?search=MATRIX&sort_by=name&sort_order=desc&limit=2");
  EXPECT_EQ(matrix.at("total_count").as_int64(), 3);
  EXPECT_TRUE(matrix.at("has_more").as_bool());
  EXPECT_EQ(matrix.at("entries").at(0).at("name").as_string(), "matrix-private");
  EXPECT_EQ(call_json("GET", "/packages?installed_only=true").at("total_count").as_int64(), 0);
  EXPECT_EQ(call_json("GET", "/packages?featured_only=true").at("total_count").as_int64(), 7);
  auto featured = call_json("GET", "/packages/featured?limit=100");
  EXPECT_EQ(featured.at("total_count").as_int64(), 7);
  auto versions = call_json("POST", "/packages/versions", R"({"name":"mattermost"})");
  EXPECT_EQ(json::serialize(versions), R"(["3.0","2.0","1.0"])");

  auto manifest = call("POST", "/packages/manifest", R"({"repo":"main","name":"redis","version":"1.0"})");
  EXPECT_EQ(manifest.status, 200);
  EXPECT_EQ(manifest.header("content-type"), "text/x-yaml; charset=utf-8");
  std::ifstream file(fixture_packages() / "packages/redis/1.0.yaml");
  std::string expected((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(manifest.body, expected);
  EXPECT_EQ(call("POST", "/packages/manifest", R"({"repo":"main","name":"redis","version":"9.9"})").status, 404);
  EXPECT_EQ(call("POST", "/packages/manifest", R"({"repo":"main","name":"../../etc","version":"1.0"})").status, 422);
  EXPECT_EQ(call("POST", "/packages/manifest", R"({"repo":"main","name":"redis"})").status, 400);

  auto questions = call_json("POST", "/packages/questions", R"({"name":"gitea"})");
  EXPECT_EQ(questions.at("sshport").at("type").as_string(), "port");
  EXPECT_EQ(questions.at("sshport").at("default").as_string(), "2222");
  auto identity = call_json("POST", "/packages/questions/identity", R"({"repo":"main","name":"plex","version":"3.0"})");
  EXPECT_EQ(identity.at("plextoken").at("type").as_string(), "oauth");
  EXPECT_TRUE(identity.at("plextoken").at("oauth").is_object());
  EXPECT_EQ(json::serialize(call_json("POST", "/packages/children", R"({"repo":"main","name":"plex"})")), "[]");
  auto zones = call_json("GET", "/packages/timezones");
  ASSERT_TRUE(zones.is_array());
  EXPECT_GT(zones.as_array().size(), 300u);
  bool berlin = false;
  for (const auto& z : zones.as_array()) berlin = berlin || z.as_string() == "Europe/Berlin";
  EXPECT_TRUE(berlin);
}

TEST_F(repositories, install_preview_of_every_fixture_definition) {
  add("main", make_repo("main"));
  std::size_t previewed = 0;
  for (const auto& dir : fs::directory_iterator(fixture_packages() / "packages")) {
    for (const auto& file : fs::directory_iterator(dir.path())) {
      std::string name = dir.path().filename().string();
      std::string version = file.path().stem().string();
      auto preview = call_json("POST", "/packages/install-preview",
                               R"({"repo":"main","name":")" + name + R"(","version":")" + version + R"("})");
      ASSERT_TRUE(preview.is_object()) << name << "@" << version;
      EXPECT_EQ(preview.at("version").as_string(), version);
      EXPECT_EQ(preview.at("runtime").as_string(), "container");
      EXPECT_GT(preview.at("disk_usage").at("total").to_number<std::uint64_t>(), 0u);
      EXPECT_TRUE(preview.at("summary").as_string().starts_with("Install " + name + " " + version));
      ++previewed;
    }
  }
  EXPECT_EQ(previewed, 36u);
  auto gitea = call_json("POST", "/packages/install-preview", R"({"repo":"main","name":"gitea","version":"2.0"})");
  EXPECT_EQ(json::serialize(gitea.at("internal_ports")),
            R"([{"external":3000,"internal":3000,"name":"http"},{"external":2222,"internal":22}])");
  EXPECT_EQ(call("POST", "/packages/install-preview", R"({"repo":"main","name":"gitea","version":"7.0"})").status, 404);
}

TEST_F(repositories, refresh_picks_up_a_new_commit) {
  fs::path remote = make_repo("main", {"redis"});
  add("main", remote);
  EXPECT_EQ(json::serialize(call_json("POST", "/packages/versions", R"({"name":"redis"})")), R"(["1.0"])");
  fs::copy(remote / "packages/redis/1.0.yaml", remote / "packages/redis/1.10.yaml");
  fs::copy(remote / "packages/redis/1.0.yaml", remote / "packages/redis/1.9.yaml");
  commit(remote, "two more versions");
  auto refreshed = call("POST", "/repository/refresh");
  EXPECT_EQ(refreshed.status, 200);
  EXPECT_TRUE(refreshed.body.empty()) << refreshed.body;
  // 1.10 > 1.9: package versions compare numerically per segment.
  EXPECT_EQ(json::serialize(call_json("POST", "/packages/versions", R"({"name":"redis"})")), R"(["1.10","1.9","1.0"])");
  auto page = call_json("GET", "/packages?search=redis");
  EXPECT_EQ(page.at("entries").at(0).at("version").as_string(), "1.10");

  auto stream = raw_connection::unix_socket(server_->socket_path());
  ASSERT_TRUE(
      stream.send("POST /repository/refresh HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                  "Content-Length: 0\r\n\r\n"));
  std::string events;
  for (int i = 0; i < 50 && events.find("done") == std::string::npos; ++i)
    events += stream.read_some(std::chrono::milliseconds(200));
  EXPECT_NE(events.find("data: {\"step\":\"refreshing\"}\n\n"), std::string::npos) << events;
  EXPECT_NE(events.find("data: {\"done\":true}\n\n"), std::string::npos) << events;
  EXPECT_TRUE(stream.closed_by_peer(std::chrono::seconds(5)));
}

TEST_F(repositories, later_repositories_override_earlier_ones_and_move_changes_that) {
  add("first", make_repo("first"));
  fs::path second = make_repo("second", {"gitea"});
  add("second", second);
  EXPECT_EQ(repo_of("gitea"), "second");
  EXPECT_EQ(repo_of("redis"), "first");  // only the first has it
  auto by_repo = call_json("GET", "/packages/by-repo");
  ASSERT_EQ(by_repo.as_array().size(), 2u);
  EXPECT_EQ(by_repo.at(0).at("repo").as_string(), "second");  // highest precedence first

  EXPECT_EQ(call("POST", "/repository/move", R"({"name":"second","position":0})").status, 200);
  auto list = call_json("GET", "/repository");
  EXPECT_EQ(list.at("entries").at(0).at("name").as_string(), "second");
  EXPECT_EQ(repo_of("gitea"), "first");

  EXPECT_EQ(call("POST", "/repository/move", R"({"name":"second","position":99})").status, 200);  // clamped to the end
  EXPECT_EQ(repo_of("gitea"), "second");

  EXPECT_EQ(call("POST", "/repository/remove", R"({"name":"second"})").status, 200);
  EXPECT_EQ(repo_of("gitea"), "first");
  EXPECT_EQ(call_json("GET", "/repository").at("total_count").as_int64(), 1);
  EXPECT_EQ(call("POST", "/repository/remove", R"({"name":"second"})").status, 404);
  EXPECT_EQ(call("POST", "/repository/move", R"({"name":"nope","position":0})").status, 404);
}

TEST_F(repositories, a_broken_remote_is_reported_per_repository_and_packages_stay_served) {
  fs::path good = make_repo("good", {"redis"});
  fs::path bad = make_repo("bad", {"gitea"});
  add("good", good);
  add("bad", bad);
  fs::remove_all(bad);
  auto refreshed = call("POST", "/repository/refresh");
  ASSERT_EQ(refreshed.status, 200);
  auto errors = json::parse(refreshed.body);
  ASSERT_TRUE(errors.as_object().contains("bad")) << refreshed.body;
  EXPECT_FALSE(errors.as_object().contains("good")) << refreshed.body;
  auto list = call_json("GET", "/repository");
  for (const auto& e : list.at("entries").as_array()) {
    EXPECT_EQ(e.as_object().contains("error"), e.at("name").as_string() == "bad") << json::serialize(e);
  }
  // The current dashboard asks for the progress stream instead.
  auto stream = raw_connection::unix_socket(server_->socket_path());
  ASSERT_TRUE(
      stream.send("POST /repository/refresh HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                  "Content-Length: 0\r\n\r\n"));
  std::string events;
  for (int i = 0; i < 50 && events.find("\"error\"") == std::string::npos; ++i) {
    events += stream.read_some(std::chrono::milliseconds(200));
  }
  EXPECT_NE(events.find("text/event-stream"), std::string::npos) << events;
  EXPECT_NE(events.find(R"(data: {"step":"refreshing"})"), std::string::npos) << events;
  EXPECT_NE(events.find(R"(data: {"error":"refresh errors: map[bad:)"), std::string::npos) << events;
  // The last good checkout keeps serving.
  EXPECT_EQ(repo_of("gitea"), "bad");
  auto ping = call_json("GET", "/status/ping");
  EXPECT_TRUE(ping.at("repository_errors").as_object().contains("bad")) << json::serialize(ping);
}

TEST_F(repositories, credentials_never_leave_the_server) {
  fs::path remote = make_repo("private", {"redis"});
  std::string url = "file://alice:hunter2-s3cret@" + remote.string();
  auto reply = call("POST", "/repository/add", R"({"name":"private","url":")" + url + R"("})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto listed = call("GET", "/repository");
  EXPECT_EQ(listed.body.find("hunter2"), std::string::npos) << listed.body;
  auto entry = json::parse(listed.body).at("entries").at(0);
  EXPECT_EQ(entry.at("username").as_string(), "alice");
  EXPECT_EQ(entry.at("url").as_string(), file_url(remote));

  // A failing clone with credentials: the error names no secret.
  auto failed = call("POST", "/repository/add",
                     R"({"name":"gone","url":"file:///nonexistent/repo","username":"bob","password":"pa55-w0rd-x"})");
  EXPECT_EQ(failed.status, 422);
  EXPECT_NE(failed.body.find("cannot clone"), std::string::npos) << failed.body;
  EXPECT_EQ(failed.body.find("pa55-w0rd-x"), std::string::npos) << failed.body;
  // Nor does the audit log.
  auto audit = call("POST", "/audit/log", R"({"limit":100})");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_NE(audit.body.find("repository"), std::string::npos) << audit.body;
  EXPECT_EQ(audit.body.find("hunter2"), std::string::npos) << audit.body;
  EXPECT_EQ(audit.body.find("pa55-w0rd-x"), std::string::npos) << audit.body;
  // Nor the server's log (git's argv and errors are logged there).
  std::string log = server_->log();
  EXPECT_EQ(log.find("hunter2"), std::string::npos);
  EXPECT_EQ(log.find("pa55-w0rd-x"), std::string::npos);
}

TEST_F(repositories, bad_input_gets_named_4xx) {
  fs::path remote = make_repo("main", {"redis"});
  auto problem_field = [this](const std::string& body, int status, const std::string& field) {
    auto reply = call("POST", "/repository/add", body);
    EXPECT_EQ(reply.status, status) << body << " → " << reply.body;
    EXPECT_EQ(reply.header("content-type"), "application/problem+json");
    if (!field.empty()) {
      EXPECT_NE(reply.body.find("\"field\":\"" + field + "\""), std::string::npos) << reply.body;
    }
  };
  problem_field(R"({"url":"ext::sh -c touch${IFS}/tmp/pwned"})", 422, "url");
  problem_field(R"({"url":"--upload-pack=evil"})", 422, "url");
  problem_field(R"({"name":"../escape","url":")" + file_url(remote) + R"("})", 422, "name");
  problem_field(R"({"url":")" + file_url(remote) + R"(","username":"only"})", 422, "username");
  problem_field(R"({"name":"x"})", 400, "url");
  problem_field("not json", 400, "");
  add("main", remote);
  problem_field(R"({"name":"main","url":")" + file_url(remote) + R"("})", 409, "");
  // The name defaults to the URL's last segment.
  fs::path other = make_repo("extras.git", {"redis"});
  ASSERT_EQ(call("POST", "/repository/add", R"({"url":")" + file_url(other) + R"("})").status, 200);
  auto list = call_json("GET", "/repository?sort_by=name&sort_order=asc");
  EXPECT_EQ(list.at("entries").at(0).at("name").as_string(), "extras");
  EXPECT_EQ(call("POST", "/repository/move", R"({"name":"main","position":"x"})").status, 422);
  EXPECT_EQ(call("POST", "/packages/versions", R"({"name":"nope"})").status, 404);
  EXPECT_EQ(call("POST", "/packages/questions/identity", R"({"repo":"main","name":"redis","version":"../1"})").status,
            422);
}

TEST_F(repositories, the_catalog_survives_a_restart_without_git) {
  fs::path remote = make_repo("main", {"redis", "gitea"});
  add("main", remote);
  std::string state = server_->state_dir();
  // A second server on the same state directory serves the checkout at once, even with the
  // remote gone (the boot refresh fails and is reported, the packages stay).
  server_->stop(SIGTERM);
  fs::remove_all(remote);
  server_process again({"--state-dir", state});
  ASSERT_TRUE(again.started()) << again.log();
  auto page = request_unix(again.socket_path(), "GET", "/packages");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(json::parse(page.body).at("total_count").as_int64(), 2) << page.body;
}

TEST_F(repositories, a_hanging_refresh_never_blocks_requests_and_shutdown_kills_it) {
  add("main", make_repo("main", {"redis"}));
  std::string state = server_->state_dir();
  server_->stop(SIGTERM);
  // The restarted server finds a git on PATH that never answers: its boot refresh hangs.
  fs::path bin = work_ / "bin";
  fs::create_directories(bin);
  {
    std::ofstream fake(bin / "git");
    fake << "#!/bin/sh\nexec sleep 300\n";
  }
  fs::permissions(bin / "git", fs::perms::owner_all);
  std::string saved_path = std::getenv("PATH");
  // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
  ::setenv("PATH", (bin.string() + ":" + saved_path).c_str(), 1);
  server_process again({"--state-dir", state});
  // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
  ::setenv("PATH", saved_path.c_str(), 1);
  ASSERT_TRUE(again.started()) << again.log();
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    auto page = request_unix(again.socket_path(), "GET", "/packages");
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(json::parse(page.body).at("total_count").as_int64(), 1);
    EXPECT_EQ(request_unix(again.socket_path(), "GET", "/repository").status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  // SIGTERM ends the server promptly although git is still running (its group is killed).
  started = std::chrono::steady_clock::now();
  EXPECT_EQ(again.stop(SIGTERM, std::chrono::seconds(20)), 0) << again.log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15));
}

TEST_F(repositories, mutated_bodies_never_get_a_server_error) {
  add("main", make_repo("main", {"gitea", "redis"}));
  const std::vector<std::string> targets = {
      "/packages/versions",           "/packages/children", "/packages/questions",
      "/packages/questions/identity", "/packages/manifest", "/packages/install-preview",
      "/repository/remove",           "/repository/move",   "/repository/add"};
  const std::vector<std::string> seeds = {R"({"repo":"main","name":"gitea","version":"2.0"})",
                                          R"({"name":"redis","position":1})",
                                          R"({"name":"x","url":"file:///nonexistent","username":"u","password":"p"})"};
  std::uint32_t state = 12345;
  auto next = [&state] { return state = state * 1664525u + 1013904223u; };
  const std::string alphabet = std::string("{}[]\":,0123456789.-/@\\\n\t nulltrue") + "\xff" + "\x01" + "abc";
  for (int i = 0; i < 400; ++i) {
    std::string body = seeds[next() % seeds.size()];
    for (int m = 0, rounds = 1 + static_cast<int>(next() % 4); m < rounds; ++m) {
      std::size_t at = body.empty() ? 0 : next() % body.size();
      switch (next() % 3) {
        case 0:
          if (!body.empty()) body[at] = alphabet[next() % alphabet.size()];
          break;
        case 1:
          if (!body.empty()) body.erase(at, 1 + next() % 8);
          break;
        default:
          body.insert(at, 1, alphabet[next() % alphabet.size()]);
          break;
      }
    }
    const std::string& target = targets[next() % targets.size()];
    auto reply = call("POST", target, body);
    ASSERT_GE(reply.status, 200) << target << " " << body;
    ASSERT_LT(reply.status, 500) << target << " " << body << " -> " << reply.body;
  }
  // Still serving, and the repository list is intact or reduced only by valid removals.
  EXPECT_EQ(call("GET", "/packages").status, 200);
}

}  // namespace
}  // namespace sc::test
