// A real browser follows the journal stream the way the Town OS dashboard does: headless Chromium
// loads a page from an allowed origin (http://localhost:<page port>, served here), which calls
// GET /systemd/logs on http://127.0.0.1:<server port> with `fetch`, the `Authorization` header and
// a ReadableStream (EventSource cannot send the header). That needs the CORS headers on the stream
// and its preflight. The page reads three marked lines, the server is restarted meanwhile (three
// more lines are written while it is down), and the page resumes with the last event id it saw:
// it must receive exactly the six lines, in order, none twice.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/test_units.hpp"

extern char** environ;

namespace sc::test {
namespace {

using namespace std::chrono_literals;

// The dashboard's way of following a stream, reduced to what the test checks. Placeholders are
// replaced by the harness: @API@ (the server's origin), @TOKEN@ (a session) and @TAG@ (the marker).
constexpr std::string_view page_template = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>sc stream follower</title></head><body><pre id="out">running</pre>
<script>
const api = "@API@", token = "@TOKEN@", tag = "@TAG@";
const seen = [], errors = [];
let lastId = "", reconnects = 0, finished = false, toldFirst = false, toldFollowing = false;

function tell(path, body) {
  return fetch(path, {method: "POST", body: JSON.stringify(body || {})}).catch(e => errors.push("tell " + e));
}

async function onEvent(id, data) {
  if (id) lastId = id;
  let entry;
  try { entry = JSON.parse(data); } catch (e) { errors.push("bad JSON: " + data); return; }
  const message = String(entry.Message);
  if (!message.includes(tag)) return;
  seen.push(message);
  if (!toldFirst && message.startsWith("line-3 ")) { toldFirst = true; await tell("/got-first"); }
  if (message.startsWith("line-6 ")) finished = true;
}

async function follow(url) {
  const response = await fetch(url, {headers: {Authorization: "Bearer " + token}, cache: "no-store"});
  if (!response.ok) throw new Error("status " + response.status);
  if (!toldFollowing) { toldFollowing = true; await tell("/following"); }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (!finished) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id = "", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) await onEvent(id, data);
      if (finished) break;
    }
  }
  reader.cancel().catch(() => {});
}

(async () => {
  while (!finished && reconnects < 600) {
    const url = api + "/systemd/logs?" + (lastId ? "last_event_id=" + encodeURIComponent(lastId) : "lines=0");
    try { await follow(url); } catch (e) { errors.push(String(e)); }
    if (finished) break;
    ++reconnects;
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  document.getElementById("out").textContent = "done";
  await tell("/result", {seen, reconnects, lastId, errors: errors.slice(-20)});
})();
</script></body></html>
)html";

std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The page's origin: a blocking one-request-per-connection HTTP server on 127.0.0.1, on its own
// thread. Serves the page at "/" and records the page's POSTs (/following, /got-first, /result).
class page_server {
 public:
  explicit page_server(std::string page) : page_(std::move(page)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "page server: cannot listen";
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~page_server() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  page_server(const page_server&) = delete;
  page_server& operator=(const page_server&) = delete;

  unsigned short port() const noexcept { return port_; }

  // Waits (bounded) until the page has posted to `path`; returns the body it posted.
  std::optional<std::string> wait_for(const std::string& path, std::chrono::milliseconds deadline) {
    std::unique_lock lock(mutex_);
    auto found = [&] {
      for (const auto& [p, body] : posts_)
        if (p == path) return true;
      return false;
    };
    if (!changed_.wait_for(lock, deadline, found)) return std::nullopt;
    for (const auto& [p, body] : posts_)
      if (p == path) return body;
    return std::nullopt;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      serve(client);
      ::close(client);
    }
  }

  void serve(int client) {
    std::string request;
    auto until = std::chrono::steady_clock::now() + 5s;
    std::size_t head_end = std::string::npos;
    std::size_t body_length = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (head_end == std::string::npos) {
        head_end = request.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          std::string lower;
          for (char c : request.substr(0, head_end)) lower += static_cast<char>(std::tolower(c));
          if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos)
            body_length = std::stoul(lower.substr(at + 17));
        }
      }
      if (head_end != std::string::npos && request.size() >= head_end + 4 + body_length) break;
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::read(client, buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    if (head_end == std::string::npos) return;
    std::string method = request.substr(0, request.find(' '));
    std::size_t path_start = method.size() + 1;
    std::string path = request.substr(path_start, request.find(' ', path_start) - path_start);
    std::string status = "200 OK", type = "text/plain", body;
    if (method == "GET" && path == "/") {
      type = "text/html; charset=utf-8";
      body = page_;
    } else if (method == "POST") {
      std::lock_guard lock(mutex_);
      posts_.emplace_back(path, request.substr(head_end + 4, body_length));
      changed_.notify_all();
    } else {
      status = "404 Not Found";
    }
    std::string reply =
        "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
        "\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    (void)::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
  }

  std::string page_;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, std::string>> posts_;
};

// Headless Chromium in its own process group with a fresh profile; killed (group) on destruction.
class browser {
 public:
  explicit browser(const std::string& url) {
    profile_ = make_temp_dir("sc-chromium");
    std::vector<std::string> args = {"chromium",
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-quic",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--user-data-dir=" + profile_,
                                     url};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string log_path = profile_ + "/chromium.log";
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int rc = ::posix_spawnp(&pid_, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
      ADD_FAILURE() << "cannot start chromium (tools/deps installs it): " << std::generic_category().message(rc);
      pid_ = -1;
    }
  }
  ~browser() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(profile_, ignored);
  }
  browser(const browser&) = delete;
  browser& operator=(const browser&) = delete;

  bool started() const noexcept { return pid_ > 0; }
  std::string log() const {
    std::string text;
    if (FILE* f = std::fopen((profile_ + "/chromium.log").c_str(), "r")) {
      char buffer[4096];
      std::size_t n;
      while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
      std::fclose(f);
    }
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
  }

 private:
  pid_t pid_ = -1;
  std::string profile_;
};

// Writes `message` to the journal the server reads, as a syslog-style line of its own identifier.
void journal_line(const std::string& identifier, const std::string& message) {
  std::string command = "systemd-cat -t " + identifier + " echo '" + message + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(browser, follows_the_log_stream_with_fetch_and_resumes_after_a_restart) {
  ASSERT_EQ(std::system("command -v chromium >/dev/null"), 0) << "chromium is missing: run tools/deps";
  ASSERT_FALSE(sandbox_env("SC_BUS_ADDRESS").empty()) << "the sandbox host is not up (tools/sandbox up)";

  auto server = std::make_unique<server_process>();
  ASSERT_TRUE(server->started()) << server->log();
  std::string token = bootstrap_admin(server->port());
  ASSERT_FALSE(token.empty());
  const std::string tag = "scbrowser" + random_token();

  std::string page =
      replace_all(std::string(page_template), "@API@", "http://127.0.0.1:" + std::to_string(server->port()));
  page = replace_all(page, "@TOKEN@", token);
  page = replace_all(page, "@TAG@", tag);
  page_server origin(page);
  ASSERT_NE(origin.port(), 0);
  // "localhost" is always an allowed CORS host; the API is on another origin (127.0.0.1:<port>).
  browser chromium("http://localhost:" + std::to_string(origin.port()) + "/");
  ASSERT_TRUE(chromium.started());

  ASSERT_TRUE(origin.wait_for("/following", 90s)) << "the page never opened the stream\n" << chromium.log();
  for (int i = 1; i <= 3; ++i) journal_line(tag, "line-" + std::to_string(i) + " " + tag);
  ASSERT_TRUE(origin.wait_for("/got-first", 30s)) << "the page did not receive the first lines\n" << chromium.log();

  // Restart: the stream ends, three lines are written while nobody serves, then the page resumes.
  EXPECT_EQ(server->stop(SIGTERM), 0) << server->log();
  for (int i = 4; i <= 6; ++i) journal_line(tag, "line-" + std::to_string(i) + " " + tag);
  auto restarted = server_process::restart_of(*server);
  ASSERT_TRUE(restarted->started()) << restarted->log();
  ASSERT_EQ(restarted->port(), server->port());

  auto result = origin.wait_for("/result", 60s);
  ASSERT_TRUE(result) << "the page did not finish\n" << chromium.log();
  auto parsed = boost::json::parse(*result).as_object();
  std::vector<std::string> seen;
  for (const auto& message : parsed.at("seen").as_array()) seen.emplace_back(message.as_string());
  std::vector<std::string> expected;
  for (int i = 1; i <= 6; ++i) expected.push_back("line-" + std::to_string(i) + " " + tag);
  EXPECT_EQ(seen, expected) << *result;
  EXPECT_GE(parsed.at("reconnects").as_int64(), 1) << "the page never had to resume: " << *result;
  EXPECT_FALSE(parsed.at("lastId").as_string().empty());
}

}  // namespace
}  // namespace sc::test
