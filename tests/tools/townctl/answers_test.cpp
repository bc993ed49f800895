// Answers the real server never gives (not JSON, not UTF-8, a key twice, doubles) through the client
// library and the whole CLI, against a canned server on a Unix socket: the same clean errors and
// the same printed bytes as when townctl read with Boost.JSON (the oracle for the messages).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/sandbox.hpp"
#include "tools/townctl/cli/run.hpp"
#include "tools/townctl/client/client.hpp"

namespace sc::client {
namespace {

std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: " + std::string(content_type) + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + std::string(body);
}

// Answers every connection with one canned HTTP response, after reading the request (its head and a
// Content-Length body); on a Unix socket, or on TCP at 127.0.0.1 (for what townctl does over TCP
// only: login).
class canned_server {
 public:
  enum class transport { unix_socket, tcp };

  explicit canned_server(std::string response, transport over = transport::unix_socket)
      : response_(std::move(response)), directory_(test::make_temp_dir("sc-townctl-canned")) {
    if (over == transport::unix_socket) {
      path_ = directory_ + "/socket";
      auto& address = *reinterpret_cast<sockaddr_un*>(&address_);
      address.sun_family = AF_UNIX;
      std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
      address_size_ = sizeof(sockaddr_un);
    } else {
      auto& address = *reinterpret_cast<sockaddr_in*>(&address_);
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address_size_ = sizeof(sockaddr_in);
    }
    listener_ = ::socket(address_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<const sockaddr*>(&address_), address_size_), 0) << errno;
    // The port the kernel chose, for the URL and for waking accept() below.
    EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address_), &address_size_), 0);
    EXPECT_EQ(::listen(listener_, 4), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~canned_server() {
    stopping_ = true;
    // accept() wakes for a connection of our own.
    int poke = ::socket(address_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    (void)::connect(poke, reinterpret_cast<const sockaddr*>(&address_), address_size_);
    ::close(poke);
    thread_.join();
    ::close(listener_);
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  canned_server(const canned_server&) = delete;
  canned_server& operator=(const canned_server&) = delete;

  const std::string& socket_path() const { return path_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(&address_)->sin_port));
  }
  // The requests as they came (head and body), in order.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) return;
      if (stopping_) {
        ::close(connection);
        return;
      }
      std::string request = read_request(connection);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(request));
      }
      std::size_t sent = 0;
      while (sent < response_.size()) {
        auto n = ::write(connection, response_.data() + sent, response_.size() - sent);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::close(connection);
    }
  }

  static std::string read_request(int connection) {
    std::string request;
    char buffer[4096];
    std::size_t head_end = std::string::npos;
    std::size_t length = 0;
    for (;;) {
      if (head_end == std::string::npos) {
        head_end = request.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          auto field = request.find("Content-Length: ");
          if (field != std::string::npos && field < head_end)
            length = std::strtoul(request.c_str() + field + 16, nullptr, 10);
        }
      }
      if (head_end != std::string::npos && request.size() >= head_end + 4 + length) return request;
      auto n = ::read(connection, buffer, sizeof buffer);
      if (n <= 0) return request;
      request.append(buffer, static_cast<std::size_t>(n));
    }
  }

  std::string response_;
  std::string directory_;
  std::string path_;
  sockaddr_storage address_{};
  socklen_t address_size_ = 0;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// What Boost.JSON said about `text`, which townctl printed after "the answer is not valid JSON: ".
std::string boost_failure(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  EXPECT_TRUE(ec) << text;
  return ec.message();
}

TEST(townctl_answers, a_malformed_or_non_utf8_answer_is_a_clean_502) {
  for (const std::string& body : {std::string("<html>oops</html>"), std::string("{\"status\":\"\xff\"}"),
                                  std::string("{\"status\":\"ok\xc3\x28\"}"), std::string("  \n")}) {
    canned_server server(http_response(200, "OK", "application/json", body));
    blocking_client controller(endpoint::unix_socket(server.socket_path()));
    auto status = controller.status();
    ASSERT_FALSE(status) << body;
    EXPECT_EQ(status.error().status, 502);
    EXPECT_EQ(status.error().detail, "the answer is not valid JSON: " + boost_failure(body));
    EXPECT_EQ(status.error().describe(), "502 Bad Gateway: the answer is not valid JSON: " + boost_failure(body));
    EXPECT_EQ(status.error().classify(), error_class::unavailable);
  }
}

TEST(townctl_answers, a_problem_that_is_not_readable_keeps_its_status) {
  canned_server server(http_response(422, "Unprocessable Entity", "application/problem+json",
                                     "{\"detail\":\"bad \xff\",\"errors\":[]}"));
  blocking_client controller(endpoint::unix_socket(server.socket_path()));
  auto created = controller.create_filesystem("data", 0);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().status, 422);
  EXPECT_EQ(created.error().describe(), "422 Unprocessable Entity");
  EXPECT_EQ(created.error().classify(), error_class::refused);
}

TEST(townctl_answers, a_text_answer_of_call_is_a_string) {
  canned_server server(http_response(200, "OK", "text/plain", "up 1\xff\n"));
  blocking_client controller(endpoint::unix_socket(server.socket_path()));
  auto answer = controller.call("GET", "/metrics");
  ASSERT_TRUE(answer) << answer.error().describe();
  ASSERT_TRUE(answer->root().is_string());
  EXPECT_EQ(answer->root().get_string().value(), "up 1\xEF\xBF\xBD\n");
}

struct cli_output {
  int exit = -1;
  std::string out;
  std::string err;
};

// townctl with `words` (`stdin` as its standard input, not a terminal).
cli_output run_townctl(std::vector<std::string> words, const std::string& stdin_text = {}) {
  ::unsetenv("TOWNCTL_URL");  // NOLINT(concurrency-mt-unsafe): the test's thread, the one that reads it
  words.insert(words.begin(), "townctl");
  std::vector<const char*> argv;
  argv.reserve(words.size());
  for (const auto& word : words) argv.push_back(word.c_str());
  int saved_stdin = ::dup(STDIN_FILENO);
  int null_input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::dup2(null_input, STDIN_FILENO);
  ::close(null_input);
  std::istringstream input(stdin_text);
  auto* saved_buffer = std::cin.rdbuf(input.rdbuf());
  cli_output result;
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  result.exit = townctl::run(static_cast<int>(argv.size()), argv.data());
  result.out = testing::internal::GetCapturedStdout();
  result.err = testing::internal::GetCapturedStderr();
  std::cin.rdbuf(saved_buffer);
  std::cin.clear();
  ::dup2(saved_stdin, STDIN_FILENO);
  ::close(saved_stdin);
  return result;
}

// townctl with `words` against `server`'s Unix socket.
cli_output townctl(const canned_server& server, std::vector<std::string> words) {
  words.insert(words.begin(), {"--socket", server.socket_path()});
  return run_townctl(std::move(words));
}

TEST(townctl_answers, the_cli_prints_an_unreadable_answer_as_it_came) {
  const std::string body = "{\"status\":\"\xff\"}";
  canned_server server(http_response(200, "OK", "application/json", body));
  auto shown = townctl(server, {"status", "ping"});
  EXPECT_EQ(shown.exit, 0) << shown.err;
  EXPECT_EQ(shown.out, body + "\n");
  auto scripted = townctl(server, {"--json", "status", "ping"});
  EXPECT_EQ(scripted.exit, 0) << scripted.err;
  EXPECT_EQ(scripted.out, body + "\n");
}

TEST(townctl_answers, the_cli_prints_keys_given_twice_as_before_and_doubles_as_the_server_writes_them) {
  const std::string body = R"({"status":"ok","load":0.5,"disk":{"used":1e21,"used":12},"status":"ready","n":null})";
  canned_server server(http_response(200, "OK", "application/json", body));
  auto shown = townctl(server, {"status", "ping"});
  EXPECT_EQ(shown.exit, 0) << shown.err;
  EXPECT_EQ(shown.out, "status: ready\nload: 0.5\ndisk:\n  used: 12\nn: \n");
  auto scripted = townctl(server, {"--json", "status", "ping"});
  EXPECT_EQ(scripted.out, body + "\n");  // --json: the bytes as they came
}

TEST(townctl_answers, the_cli_renders_the_nesting_boost_json_read_and_prints_deeper_as_it_came) {
  std::string deep(32, '[');
  deep += "1.0" + std::string(32, ']');
  canned_server readable(http_response(200, "OK", "application/json", deep));
  EXPECT_EQ(townctl(readable, {"status", "ping"}).out, std::string(31, '[') + "1" + std::string(31, ']') + "\n");
  std::string deeper = "[" + deep + "]";
  canned_server too_deep(http_response(200, "OK", "application/json", deeper));
  EXPECT_EQ(townctl(too_deep, {"status", "ping"}).out, deeper + "\n");
}

TEST(townctl_answers, the_cli_shows_a_journal_tail_line_by_line) {
  canned_server server(http_response(
      200, "OK", "application/json",
      R"({"entries":[{"RealtimeTimestamp":"t1","SyslogIdentifier":"kernel","Message":"m1","Message":"m2"},)"
      R"({"RealtimeTimestamp":"t2","SystemdUnit":"a.service","Message":1.5},"plain"]})"));
  auto shown = townctl(server, {"logs", "a.service"});
  EXPECT_EQ(shown.exit, 0) << shown.err;
  EXPECT_EQ(shown.out, "t1 kernel: m2\nt2 a.service: 1.5\nplain\n");
}

TEST(townctl_answers, the_cli_reports_an_unreadable_problem_by_its_status) {
  canned_server server(http_response(500, "Internal Server Error", "application/problem+json", "{\"detail\":"));
  auto failed = townctl(server, {"storage", "create", "data"});
  EXPECT_EQ(failed.exit, 6);
  EXPECT_EQ(failed.out, "");
  EXPECT_EQ(failed.err, "townctl: 500 Internal Server Error\n");
}

// XDG_CONFIG_HOME pointed at a fresh directory for one test (townctl keeps its tokens there).
class config_home {
 public:
  config_home() : directory_(test::make_temp_dir("sc-townctl-config")) {
    if (const char* old = std::getenv("XDG_CONFIG_HOME")) saved_ = old;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the test's thread, the one that reads it
    ::setenv("XDG_CONFIG_HOME", directory_.c_str(), 1);
    std::filesystem::create_directories(directory_ + "/townctl");
  }
  ~config_home() {
    if (saved_) {
      ::setenv("XDG_CONFIG_HOME", saved_->c_str(), 1);  // NOLINT(concurrency-mt-unsafe): as above
    } else {
      ::unsetenv("XDG_CONFIG_HOME");  // NOLINT(concurrency-mt-unsafe): as above
    }
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  config_home(const config_home&) = delete;
  config_home& operator=(const config_home&) = delete;

  std::string credentials_path() const { return directory_ + "/townctl/credentials.json"; }
  void write(const std::string& text) const { std::ofstream(credentials_path(), std::ios::binary) << text; }
  std::string read() const {
    std::ifstream file(credentials_path(), std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }

 private:
  std::string directory_;
  std::optional<std::string> saved_;
};

TEST(townctl_answers, login_and_logout_rewrite_the_credentials_as_boost_json_did) {
  canned_server server(http_response(200, "OK", "application/json", R"({"token":"new\u0001","account":{}})"),
                       canned_server::transport::tcp);
  const std::string origin = server.url();
  const std::string before = R"({")" + origin + R"(":"old","other":"o","n":1.5,"d":{"x":1e21},"other":"o2"})";
  config_home home;

  home.write(before);
  auto login = run_townctl({"--url", origin, "login", "admin"}, "pw\n");
  EXPECT_EQ(login.exit, 0) << login.err;
  EXPECT_EQ(login.out, "logged in as admin at " + origin + "\n");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_TRUE(
      server.requests()[0].ends_with("\r\n\r\n"
                                     R"({"username":"admin","password":"pw"})"))
      << server.requests()[0];
  auto logged_in = boost::json::parse(before).as_object();
  logged_in[origin] = "new\x01";
  EXPECT_EQ(boost::json::parse(home.read()), logged_in);
  struct stat info {};
  ASSERT_EQ(::stat(home.credentials_path().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  // The token is sent as it was kept.
  home.write(R"({")" + origin + R"(":"kept","x":1})");
  EXPECT_EQ(run_townctl({"--url", origin, "storage", "list"}).exit, 0);
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_NE(server.requests()[1].find("\r\nAuthorization: Bearer kept\r\n"), std::string::npos) << server.requests()[1];

  // Taken out, a member's place goes to the last one (Boost.JSON's erase).
  home.write(before);
  auto logout = run_townctl({"--url", origin, "logout"});
  EXPECT_EQ(logout.exit, 0) << logout.err;
  auto logged_out = boost::json::parse(before).as_object();
  logged_out.erase(origin);
  EXPECT_EQ(boost::json::parse(home.read()), logged_out);
  EXPECT_EQ(home.read(), R"({"d":{"x":1e+21},"other":"o2","n":1.5})"
                         "\n");

  // Nothing kept for it: the file is left alone.
  home.write("not json");
  EXPECT_EQ(run_townctl({"--url", origin, "logout"}).exit, 0);
  EXPECT_EQ(home.read(), "not json");
}

}  // namespace
}  // namespace sc::client
