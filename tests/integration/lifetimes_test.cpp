// Nothing outlives its request (issue 10 §2, §4, §8), against the real binary and the sandbox host:
// a hard shutdown cancels every handler and kills the children they await, a handler past its
// deadline is answered 504 with the request id its log line carries, and failed logins do not grow
// the audit log one row each. The hanging child is a `git` on PATH that records its pid and sleeps.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

std::vector<int> read_pids(const fs::path& file) {
  std::vector<int> pids;
  std::ifstream in(file);
  for (int pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

bool process_exists(int pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

class lifetimes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("git --version >/dev/null 2>&1"), 0) << "git is required";
    char pattern[] = "/tmp/sc-lifetimes-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    work_ = pattern;
    fs::create_directories(work_ / "bin");
    // Real git until the flag file exists; then every call records its pid and hangs.
    const std::string real_git = trim(shell_out("command -v git"));
    ASSERT_FALSE(real_git.empty());
    {
      std::ofstream fake(work_ / "bin" / "git");
      fake << "#!/bin/sh\nif [ -e '" << (work_ / "hang").string() << "' ]; then echo $$ >> '"
           << (work_ / "pids").string() << "'; exec sleep 300; fi\nexec '" << real_git << "' \"$@\"\n";
    }
    fs::permissions(work_ / "bin" / "git", fs::perms::owner_all);
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("SC_DEFAULT_REPOSITORY", "", 1);
  }
  void TearDown() override {
    for (int pid : read_pids(work_ / "pids")) {
      if (process_exists(pid)) ::kill(pid, SIGKILL);
    }
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  static std::string shell_out(const std::string& command) {
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
      char buffer[256];
      while (std::fgets(buffer, sizeof buffer, p) != nullptr) out += buffer;
      ::pclose(p);
    }
    return out;
  }
  static std::string trim(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }

  // A server whose PATH finds the fake git first. `timed_exit`: the test times the exit, so
  // LeakSanitizer's scan at exit (a second or more of a 170 MB ASan binary on a busy machine) is
  // left out; every other server of the suite runs it.
  std::unique_ptr<server_process> start(std::vector<std::string> args, bool timed_exit = false) {
    std::string saved = std::getenv("PATH");
    const char* asan = std::getenv("ASAN_OPTIONS");
    std::string saved_asan = asan != nullptr ? asan : "";
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("PATH", ((work_ / "bin").string() + ":" + saved).c_str(), 1);
    if (timed_exit)
      // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
      ::setenv("ASAN_OPTIONS", (saved_asan + (saved_asan.empty() ? "" : ":") + "detect_leaks=0").c_str(), 1);
    auto server = std::make_unique<server_process>(std::move(args));
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("PATH", saved.c_str(), 1);
    if (timed_exit) {
      if (asan != nullptr) {
        // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
        ::setenv("ASAN_OPTIONS", saved_asan.c_str(), 1);
      } else {
        // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
        ::unsetenv("ASAN_OPTIONS");
      }
    }
    return server;
  }

  // A small git repository to add (file:// URL).
  std::string make_repo() {
    fs::path repo = work_ / "repo";
    fs::create_directories(repo / "packages");
    std::ofstream(repo / "featured.json") << "[]\n";
    EXPECT_TRUE(commit_all(repo, "init"));
    return "file://" + repo.string();
  }

  // Waits until the fake git has recorded `count` pids.
  bool wait_for_hanging_git(std::size_t count, std::chrono::milliseconds deadline = 10s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (read_pids(work_ / "pids").size() >= count) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // Polls /metrics until the server counts at least `count` open connections.
  static bool wait_for_open_connections(const std::string& socket, long count) {
    const std::string name = "townos_http_open_connections ";
    auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      std::string body = request_unix(socket, "GET", "/metrics").body;
      if (auto at = body.find("\n" + name);
          at != std::string::npos && std::stol(body.substr(at + 1 + name.size())) >= count) {
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  fs::path work_;
};

// The first 4 KiB of a ustar archive holding one file of 1 MiB: its header and the start of its data.
std::string start_of_tar_of_one_mebibyte() {
  std::string header(512, '\0');
  const auto put = [&header](std::size_t at, std::string_view text) { header.replace(at, text.size(), text); };
  put(0, "stalled");        // name
  put(100, "0000644");      // mode
  put(108, "0000000");      // uid
  put(116, "0000000");      // gid
  put(124, "00004000000");  // size: 1 MiB in octal
  put(136, "00000000000");  // mtime
  put(148, "        ");     // the checksum counts itself as spaces
  put(156, "0");            // a regular file
  put(257, "ustar");        // magic, NUL-terminated
  put(263, "00");           // version
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  char checksum[8];
  std::snprintf(checksum, sizeof checksum, "%06o", sum);
  put(148, std::string_view(checksum, 6));
  header[154] = '\0';
  header[155] = ' ';
  return header + std::string(4096 - 512, 'x');
}

// SIGTERM with a hanging refresh, a stalled upload and 50 open log streams in flight: the process
// exits 0 within the grace period plus one second, and the git it was awaiting is gone.
TEST_F(lifetimes, sigterm_during_a_hanging_refresh_a_slow_upload_and_fifty_streams_exits_in_time) {
  auto server = start({"--shutdown-grace", "2000"}, true);
  ASSERT_TRUE(server->started()) << server->log();
  const std::string socket = server->socket_path();
  ASSERT_EQ(request_unix(socket, "POST", "/repository/add", R"({"name":"main","url":")" + make_repo() + R"("})").status,
            200)
      << server->log();
  std::ofstream(work_ / "hang") << "1";

  // The refresh: its git hangs.
  auto refresh = raw_connection::unix_socket(socket);
  ASSERT_TRUE(refresh.send(format_request("POST", "/repository/refresh", "{}", {}, false)));
  ASSERT_TRUE(wait_for_hanging_git(1)) << server->log();

  // 50 live log streams.
  std::vector<raw_connection> streams;
  for (int i = 0; i < 50; ++i) {
    streams.push_back(raw_connection::unix_socket(socket));
    ASSERT_TRUE(streams.back().send(format_request("GET", "/systemd/logs?lines=0", "", {}, true)));
  }
  for (auto& stream : streams) {
    std::string head;
    auto until = std::chrono::steady_clock::now() + 10s;
    while (head.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < until) {
      head += stream.read_some(100ms);
    }
    ASSERT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head;
  }

  // A stalled upload: headers and the start of the form, then nothing. The archive part starts a
  // tar of one 1 MiB file, so the extraction waits for the rest (4 KiB of zeros would be a whole,
  // empty tar: the upload would end at once, racing the count of open connections below).
  std::string volume = "lifetimes-" + std::to_string(::getpid());
  ASSERT_EQ(request_unix(socket, "POST", "/storage/create", R"({"name":")" + volume + R"(","quota":0})").status, 200)
      << server->log();
  const std::string boundary = "lifetimes-boundary";
  std::string start_of_form = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"subvolume\"\r\n\r\n" +
                              volume + "\r\n--" + boundary +
                              "\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"a.tar\"\r\n"
                              "Content-Type: application/octet-stream\r\n\r\n" +
                              start_of_tar_of_one_mebibyte();
  auto upload = raw_connection::unix_socket(socket);
  ASSERT_TRUE(
      upload.send("POST /storage/upload-archive HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                  "boundary=" +
                  boundary + "\r\nContent-Length: 100000000\r\n\r\n" + start_of_form));
  // The refresh, the upload and the /metrics request itself are open connections (the streams
  // have passed to the log hub, and their heads were read above).
  ASSERT_TRUE(wait_for_open_connections(socket, 3)) << server->log();

  auto started = std::chrono::steady_clock::now();
  int status = server->stop(SIGTERM, 10s);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(status, 0) << server->log();
  EXPECT_LT(took, 3s) << "grace 2 s + 1 s; server log:\n" << server->log();
  for (int pid : read_pids(work_ / "pids"))
    EXPECT_FALSE(process_exists(pid)) << "git " << pid << " outlived the server";
  shell_out("btrfs subvolume delete '" + sandbox_env("SC_BTRFS_ROOT") + "/user/" + volume + "' >/dev/null 2>&1");
}

// A handler past its deadline is cancelled: the git it awaits is killed and reaped, the client
// gets a 504 problem whose `instance` is the request id, and the log names that id exactly once.
TEST_F(lifetimes, a_handler_past_its_deadline_answers_504_and_kills_its_child) {
  std::ofstream(work_ / "hang") << "1";
  auto server = start({"--max-handler-deadline", "1000"});
  ASSERT_TRUE(server->started()) << server->log();
  auto started = std::chrono::steady_clock::now();
  auto reply = request_unix(server->socket_path(), "POST", "/repository/add",
                            R"({"name":"slow","url":"file:///nonexistent/repo"})");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(reply.status, 504) << reply.body;
  EXPECT_EQ(reply.header("content-type"), "application/problem+json");
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 5s);
  auto body = json::parse(reply.body).as_object();
  ASSERT_TRUE(body.contains("instance")) << reply.body;
  std::string instance(body.at("instance").as_string());
  EXPECT_EQ(instance.rfind("urn:request:", 0), 0u) << instance;
  auto pids = read_pids(work_ / "pids");
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_FALSE(process_exists(pids[0])) << "the cancelled handler's git is still running";
  ASSERT_TRUE(server->wait_for_log(instance, 2s)) << server->log();
  EXPECT_EQ(occurrences(server->log(), instance), 1u) << server->log();
  // The server keeps serving, and the next request has its own id.
  EXPECT_EQ(request_unix(server->socket_path(), "GET", "/health").status, 200);
  EXPECT_EQ(server->stop(SIGTERM), 0) << server->log();
}

// Failed logins from one address are one audit row per minute, counting them (§8).
TEST_F(lifetimes, failed_logins_leave_a_bounded_number_of_audit_rows) {
  auto server = start({});
  ASSERT_TRUE(server->started()) << server->log();
  ASSERT_FALSE(bootstrap_admin(server->port()).empty());
  auto started = std::chrono::steady_clock::now();
  // Until the login throttle answers 429 (10 failures a minute per address): each of these runs
  // argon2, the rest are answered at once.
  int warmup = 0;
  {
    auto conn = raw_connection::tcp(server->port());
    while (warmup < 20) {
      ASSERT_TRUE(conn.send(
          format_request("POST", "/account/authenticate", R"({"username":"admin","password":"warm-up"})", {}, true)));
      auto reply = conn.read_reply(60s);
      ASSERT_TRUE(reply);
      ASSERT_TRUE(reply->status == 401 || reply->status == 429) << reply->status << " " << reply->body;
      ++warmup;
      if (reply->status == 429) break;
    }
  }
  constexpr int connections = 8;
  constexpr int per_connection = 250;
  std::vector<std::thread> clients;
  clients.reserve(connections);
  std::atomic<int> answered{0};
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([&, c] {
      auto conn = raw_connection::tcp(server->port());
      for (int i = 0; i < per_connection; ++i) {
        std::string body = R"({"username":"admin","password":"wrong-)" + std::to_string(c * 1000 + i) + R"("})";
        if (!conn.send(format_request("POST", "/account/authenticate", body, {}, true))) return;
        auto reply = conn.read_reply(60s);
        if (!reply) return;
        if (reply->status == 401 || reply->status == 429) ++answered;
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_EQ(answered.load(), connections * per_connection);
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(std::chrono::steady_clock::now() - started).count();

  auto page =
      request_unix(server->socket_path(), "POST", "/audit/log", R"({"search":"/account/authenticate","limit":200})");
  ASSERT_EQ(page.status, 200) << page.body;
  auto parsed = json::parse(page.body).as_object();
  std::int64_t attempts = 0;
  std::size_t failed_rows = 0;
  for (const auto& entry : parsed.at("entries").as_array()) {
    const auto& e = entry.as_object();
    if (e.at("success").as_bool()) continue;
    ++failed_rows;
    attempts += e.at("count").as_int64();
  }
  // One row per started minute of the run (plus one when a window straddles its end).
  EXPECT_GE(failed_rows, 1u);
  EXPECT_LE(failed_rows, static_cast<std::size_t>(minutes) + 2) << page.body;
  EXPECT_EQ(attempts, connections * per_connection + warmup);
  EXPECT_EQ(server->stop(SIGTERM), 0) << server->log();
}

}  // namespace
}  // namespace sc::test
