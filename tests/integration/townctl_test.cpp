// townctl against the real server (issue 18): tables and --json, exit codes by error class, login
// over TCP with the token kept 0600, the progress bar in a pseudo-terminal against plain lines in
// a pipe (real installs on the sandbox host), and `logs -f` resuming across a server restart with
// neither a gap nor a duplicate. The CLI is the real binary, run as a child; the test's own calls
// go through the client library (tools/townctl/client).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/support/admin_server_suite.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/test_units.hpp"
#include "tools/townctl/client/client.hpp"

extern char** environ;

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct cli_result {
  int exit = -1;
  std::string out;
  std::string err;
};

// The environment of a townctl child: ours, with `extra` ("KEY=value") replacing or adding.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto key = entry.substr(0, entry.find('=') + 1);
    bool replaced = std::any_of(extra.begin(), extra.end(), [key](const std::string& x) { return x.starts_with(key); });
    if (!replaced) out.emplace_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// A running townctl with its stdout and stderr on pipes (not a terminal).
class cli_process {
 public:
  cli_process(std::vector<std::string> args, const std::vector<std::string>& environment, const std::string& input) {
    args.insert(args.begin(), SC_TOWNCTL_PATH);
    int in[2];
    int to_out[2];
    int to_err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(to_out, O_CLOEXEC) != 0 || ::pipe2(to_err, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, to_out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, to_err[1], STDERR_FILENO);
    auto env = child_environment(environment);
    auto argv = pointers(args);
    auto envp = pointers(env);
    if (::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(to_out[1]);
    ::close(to_err[1]);
    if (!input.empty()) [[maybe_unused]]
      auto n = ::write(in[1], input.data(), input.size());
    ::close(in[1]);
    out_ = to_out[0];
    err_ = to_err[0];
    ::fcntl(out_, F_SETFL, O_NONBLOCK);
    ::fcntl(err_, F_SETFL, O_NONBLOCK);
  }
  ~cli_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
    if (err_ >= 0) ::close(err_);
  }
  cli_process(const cli_process&) = delete;
  cli_process& operator=(const cli_process&) = delete;

  // Reads what is available within `wait`; false once both pipes are at their end.
  bool pump(std::chrono::milliseconds wait) {
    pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(wait.count()));
    bool open = false;
    for (auto [fd, into] : {std::pair{out_, &out}, std::pair{err_, &err}}) {
      char buffer[4096];
      for (;;) {
        auto n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
          into->append(buffer, static_cast<std::size_t>(n));
          continue;
        }
        if (n < 0 && errno == EAGAIN) open = true;
        break;
      }
    }
    return open;
  }
  bool wait_for_output(const std::string& text, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (out.find(text) == std::string::npos && std::chrono::steady_clock::now() < until) {
      if (!pump(100ms)) break;
    }
    return out.find(text) != std::string::npos;
  }
  int finish(std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until && pump(100ms)) {
    }
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  std::string out;
  std::string err;

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
};

cli_result townctl(const std::vector<std::string>& args, const std::vector<std::string>& environment,
                   const std::string& input = {}, std::chrono::milliseconds deadline = 60s) {
  cli_process child(args, environment, input);
  cli_result result;
  result.exit = child.finish(deadline);
  result.out = child.out;
  result.err = child.err;
  return result;
}

// townctl with its stdout and stderr on a pseudo-terminal: everything it wrote, and its exit code.
cli_result townctl_in_terminal(std::vector<std::string> args, const std::vector<std::string>& environment,
                               std::chrono::milliseconds deadline = 150s) {
  args.insert(args.begin(), SC_TOWNCTL_PATH);
  auto env = child_environment(environment);
  auto argv = pointers(args);
  auto envp = pointers(env);
  int master = -1;
  winsize size{40, 120, 0, 0};
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid == 0) {
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  cli_result result;
  if (pid < 0) return result;
  auto until = std::chrono::steady_clock::now() + deadline;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd fd{master, POLLIN, 0};
    if (::poll(&fd, 1, 100) <= 0) continue;
    auto n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO: the child and its terminal are gone
    result.out.append(buffer, static_cast<std::size_t>(n));
  }
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ::close(master);
  result.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The numbers N of the "tick-N-<token>" lines in `text`, in order.
std::vector<int> ticks_in(const std::string& text, const std::string& token) {
  std::vector<int> out;
  const std::string suffix = "-" + token;
  for (auto at = text.find("tick-"); at != std::string::npos; at = text.find("tick-", at + 5)) {
    auto digits = at + 5;
    auto end = text.find_first_not_of("0123456789", digits);
    if (end == digits || end == std::string::npos || text.compare(end, suffix.size(), suffix) != 0) continue;
    out.push_back(std::stoi(text.substr(digits, end - digits)));
  }
  return out;
}

class townctl_cli : public admin_server_suite<townctl_cli> {
 protected:
  void SetUp() override {
    home_ = make_temp_dir("sc-townctl-home");
    env_ = {"TOWNCTL_SOCKET=" + server_->socket_path(), "HOME=" + home_, "XDG_CONFIG_HOME=", "TOWNCTL_URL="};
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(home_, ignored);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  std::string home_;
  std::vector<std::string> env_;
};

TEST_F(townctl_cli, lists_are_tables_for_people_and_json_for_scripts) {
  std::string name = "tc" + std::to_string(::getpid());
  auto created = townctl({"storage", "create", name, "--quota", "67108864"}, env_);
  ASSERT_EQ(created.exit, 0) << created.err;

  auto table = townctl({"storage", "list", "--search", name}, env_);
  ASSERT_EQ(table.exit, 0) << table.err;
  EXPECT_TRUE(table.out.starts_with("NAME")) << table.out;
  auto row = table.out.find("\n" + name + " ");
  ASSERT_NE(row, std::string::npos) << table.out;
  std::string line = table.out.substr(row + 1, table.out.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find(" user "), std::string::npos) << line;
  EXPECT_NE(line.find(" 67108864 "), std::string::npos) << line;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos);

  auto scripted = townctl({"--json", "storage", "list", "--search", name}, env_);
  ASSERT_EQ(scripted.exit, 0) << scripted.err;
  auto page = json::parse(scripted.out).as_object();
  ASSERT_EQ(page.at("entries").as_array().size(), 1u) << scripted.out;
  EXPECT_EQ(page.at("entries").as_array()[0].at("name").as_string(), name);
  EXPECT_EQ(page.at("total_count").as_int64(), 1);

  // The same list through the client library's typed call.
  client::blocking_client controller(client::endpoint::unix_socket(server_->socket_path()));
  client::list_query query;
  query.search = name;
  auto typed = controller.filesystems(query);
  ASSERT_TRUE(typed) << typed.error().describe();
  ASSERT_EQ(typed->entries.size(), 1u);
  EXPECT_EQ(typed->entries[0].quota, 67108864);

  EXPECT_EQ(townctl({"storage", "remove", name}, env_).exit, 0);
}

TEST_F(townctl_cli, exit_codes_follow_the_error_class) {
  std::string name = "tcdup" + std::to_string(::getpid());
  ASSERT_EQ(townctl({"storage", "create", name}, env_).exit, 0);
  auto conflict = townctl({"storage", "create", name}, env_);
  EXPECT_EQ(conflict.exit, 5) << conflict.err;
  EXPECT_NE(conflict.err.find("409 Conflict"), std::string::npos) << conflict.err;
  EXPECT_EQ(townctl({"storage", "remove", name}, env_).exit, 0);

  auto missing = townctl({"packages", "install", "nowhere/nothing@1.0"}, env_);
  EXPECT_EQ(missing.exit, 4) << missing.err;
  EXPECT_EQ(townctl({"account", "get", "nobody-here"}, env_).exit, 4);

  auto refused = townctl({"storage", "create", "bad name!"}, env_);
  EXPECT_EQ(refused.exit, 1) << refused.err;

  for (const auto& words : std::vector<std::vector<std::string>>{{"storage", "bogus"},
                                                                 {"storage", "create"},
                                                                 {"nosuchgroup"},
                                                                 {"storage", "create", "a", "--quota", "x"},
                                                                 {}}) {
    auto usage = townctl(words, env_);
    EXPECT_EQ(usage.exit, 2) << usage.err;
  }

  // TCP without a token: 401.
  auto anonymous = townctl({"--url", url(), "storage", "list"}, env_);
  EXPECT_EQ(anonymous.exit, 3) << anonymous.err;

  // Nothing listening.
  auto down = townctl({"--socket", home_ + "/none.sock", "status", "ping"}, env_);
  EXPECT_EQ(down.exit, 6) << down.err;
  EXPECT_NE(down.err.find("cannot connect"), std::string::npos) << down.err;
}

TEST_F(townctl_cli, login_keeps_the_token_private_and_logout_forgets_it) {
  auto login = townctl({"--url", url(), "login", "admin"}, env_, "correct-horse\n");
  ASSERT_EQ(login.exit, 0) << login.err;
  fs::path credentials = fs::path(home_) / ".config/townctl/credentials.json";
  struct stat info {};
  ASSERT_EQ(::stat(credentials.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  ASSERT_EQ(::stat(credentials.parent_path().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700);
  EXPECT_EQ(read_text(credentials).find("correct-horse"), std::string::npos);

  auto me = townctl({"--url", url(), "account", "me"}, env_);
  EXPECT_EQ(me.exit, 0) << me.err;
  EXPECT_NE(me.out.find("admin"), std::string::npos) << me.out;

  auto wrong = townctl({"--url", url(), "login", "admin"}, env_, "wrong-password\n");
  EXPECT_EQ(wrong.exit, 3) << wrong.err;
  EXPECT_EQ(wrong.err.find("wrong-password"), std::string::npos) << wrong.err;

  // Over the socket, root needs no login.
  auto local = townctl({"login", "admin"}, env_, "correct-horse\n");
  EXPECT_EQ(local.exit, 2) << local.err;

  EXPECT_EQ(townctl({"--url", url(), "logout"}, env_).exit, 0);
  EXPECT_EQ(townctl({"--url", url(), "account", "me"}, env_).exit, 3);
}

TEST_F(townctl_cli, help_and_completion_come_from_the_table) {
  auto help = townctl({"packages", "install", "--help"}, env_);
  EXPECT_EQ(help.exit, 0);
  EXPECT_NE(help.out.find("Usage: townctl packages install [REPO/]NAME[@VERSION]"), std::string::npos) << help.out;
  auto group = townctl({"storage", "--help"}, env_);
  EXPECT_EQ(group.exit, 0);
  EXPECT_NE(group.out.find("upload"), std::string::npos) << group.out;
  auto completion = townctl({"completion", "bash"}, env_);
  EXPECT_EQ(completion.exit, 0);
  EXPECT_NE(completion.out.find("complete -o filenames -F _townctl townctl"), std::string::npos);
}

TEST_F(townctl_cli, storage_upload_streams_a_directory_and_download_gets_it_back) {
  std::string name = "tcup" + std::to_string(::getpid());
  ASSERT_EQ(townctl({"storage", "create", name}, env_).exit, 0);
  fs::path source = fs::path(home_) / "site";
  write_text(source / "index.html", "hello from townctl\n");
  write_text(source / "css" / "a.css", std::string(300000, 'x'));
  auto uploaded = townctl({"storage", "upload", name, source.string(), "--subpath", "www"}, env_);
  ASSERT_EQ(uploaded.exit, 0) << uploaded.err;
  EXPECT_NE(uploaded.err.find("100%"), std::string::npos) << uploaded.err;  // progress, plain lines
  EXPECT_EQ(uploaded.err.find('\x1b'), std::string::npos);
  fs::path archive = fs::path(home_) / "back.tar.gz";
  auto downloaded = townctl({"storage", "download", name, "--path", "www", "-o", archive.string()}, env_);
  ASSERT_EQ(downloaded.exit, 0) << downloaded.err;
  EXPECT_NE(shell("tar -tzf '" + archive.string() + "'").find("www/css/a.css"), std::string::npos);
  EXPECT_EQ(townctl({"storage", "remove", name}, env_).exit, 0);
}

// ---- installs: the progress bar (sandbox podman, one suite at a time)

class townctl_installs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lock_fd_ = take_sandbox_turn();
    ASSERT_GE(lock_fd_, 0);
    work_ = make_temp_dir("sc-townctl-installs");
    repo_ = "tc" + std::to_string(::getpid());
    const std::string image = "image: " + sandbox_env("SC_PODMAN_IMAGE") + "\nentrypoint: [sh, -c]\n";
    fs::path dir = fs::path(work_) / "repo" / "packages";
    write_text(dir / "hello" / "1.0.yaml", "description: hello\n" + image + R"(
command: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
templates:
  index: {volume: www, path: index.html, content: "hello\n"}
)");
    // An upgrade to 2.0 fails (it exits at once) and rolls back to 1.0 by itself.
    const std::string site = R"(
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
)";
    write_text(
        dir / "site" / "1.0.yaml",
        "description: site\n" + image + "command: [\"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]" + site);
    write_text(dir / "site" / "2.0.yaml",
               "description: site\n" + image + "command: [\"echo townctl-upgrade-marker; exit 3\"]" + site);
    write_text(dir / "exits" / "1.0.yaml", "description: exits at once\n" + image + R"(
command: ["echo townctl-exits-marker; exit 3"]
volumes:
  data: {mountpoint: /data}
)");
    ASSERT_TRUE(commit_all(fs::path(work_) / "repo", "one"));
    server_ = new server_process();
    ASSERT_TRUE(server_->started());
    env_ = {"TOWNCTL_SOCKET=" + server_->socket_path(), "HOME=" + work_, "TOWNCTL_URL="};
    client::blocking_client controller(client::endpoint::unix_socket(server_->socket_path()));
    ASSERT_TRUE(controller.set_setting("default_quota", "67108864"));
    auto added = controller.add_repository(repo_, "file://" + work_ + "/repo");
    ASSERT_TRUE(added) << added.error().describe();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    shell("rm -f " + sandbox_env("SC_UNIT_DIR") + "/town-os-package--" + repo_ + "-*; systemctl --user daemon-reload");
    std::error_code ignored;
    fs::remove_all(work_, ignored);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }
  // NOLINTBEGIN(readability-identifier-naming)
  inline static int lock_fd_ = -1;
  inline static std::string work_;
  inline static std::string repo_;
  inline static server_process* server_ = nullptr;
  inline static std::vector<std::string> env_;
  // NOLINTEND(readability-identifier-naming)
};

TEST_F(townctl_installs, progress_is_a_bar_in_a_terminal_and_lines_in_a_pipe) {
  std::string port = std::to_string(unused_port());
  auto drawn = townctl_in_terminal({"packages", "install", repo_ + "/hello@1.0", "--answer", "port=" + port}, env_);
  ASSERT_EQ(drawn.exit, 0) << drawn.out;
  EXPECT_NE(drawn.out.find("\r["), std::string::npos) << drawn.out;
  EXPECT_NE(drawn.out.find("\x1b[K"), std::string::npos) << drawn.out;
  EXPECT_NE(drawn.out.find("installing_services"), std::string::npos) << drawn.out;
  EXPECT_NE(drawn.out.find("install: done"), std::string::npos) << drawn.out;

  auto busy = townctl({"packages", "install", repo_ + "/hello@1.0", "--answer", "port=" + port}, env_);
  EXPECT_EQ(busy.exit, 5) << busy.err;  // installed already: 409

  auto piped = townctl({"packages", "uninstall", repo_ + "/hello", "--purge-volumes"}, env_, {}, 150s);
  ASSERT_EQ(piped.exit, 0) << piped.err;
  EXPECT_NE(piped.out.find("[1/1] stopping_services\n"), std::string::npos) << piped.out;
  EXPECT_NE(piped.out.find("uninstall: done\n"), std::string::npos) << piped.out;
  EXPECT_EQ(piped.out.find('\x1b'), std::string::npos) << piped.out;
  EXPECT_EQ(piped.out.find('\r'), std::string::npos) << piped.out;
}

TEST_F(townctl_installs, a_failed_install_shows_the_units_last_log_lines) {
  auto failed = townctl({"packages", "install", repo_ + "/exits@1.0"}, env_, {}, 150s);
  EXPECT_EQ(failed.exit, 6) << failed.out << failed.err;
  EXPECT_NE(failed.out.find("[1/5] provisioning_volumes\n"), std::string::npos) << failed.out;
  EXPECT_NE(failed.err.find("packages install failed"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("townctl-exits-marker"), std::string::npos) << failed.err;
  auto json_lines = townctl({"--json", "packages", "install", repo_ + "/exits@1.0"}, env_, {}, 150s);
  EXPECT_EQ(json_lines.exit, 6);
  EXPECT_TRUE(json::parse(json_lines.out.substr(0, json_lines.out.find('\n'))).is_object()) << json_lines.out;
}

TEST_F(townctl_installs, an_upgrade_that_rolls_back_says_so) {
  std::string port = std::to_string(unused_port());
  auto installed = townctl({"packages", "install", repo_ + "/site@1.0", "--answer", "port=" + port}, env_, {}, 150s);
  ASSERT_EQ(installed.exit, 0) << installed.out << installed.err;
  auto upgraded = townctl({"packages", "upgrade", repo_ + "/site@2.0", "--answer", "port=" + port}, env_, {}, 150s);
  EXPECT_EQ(upgraded.exit, 6) << upgraded.out << upgraded.err;
  EXPECT_NE(upgraded.out.find("rolling_back"), std::string::npos) << upgraded.out;
  EXPECT_NE(upgraded.err.find("rolled back: "), std::string::npos) << upgraded.err;
  EXPECT_NE(upgraded.err.find("the previous version was restored"), std::string::npos) << upgraded.err;
  client::blocking_client controller(client::endpoint::unix_socket(server_->socket_path()));
  auto still = controller.installed_packages({});
  ASSERT_TRUE(still) << still.error().describe();
  EXPECT_NE(std::find(still->begin(), still->end(), repo_ + "/site@1.0"), still->end());
  EXPECT_EQ(townctl({"packages", "uninstall", repo_ + "/site", "--purge-volumes"}, env_, {}, 150s).exit, 0);
}

// ---- logs -f across a restart

TEST(townctl_logs, follow_resumes_after_a_server_restart_without_gap_or_duplicate) {
  std::string unit_dir = sandbox_env("SC_UNIT_DIR");
  ASSERT_FALSE(unit_dir.empty());
  std::string token = random_token();
  std::string unit = "town-os-system--sctest" + std::to_string(::getpid()) + "-ticker.service";
  std::string home = make_temp_dir("sc-townctl-logs");
  // The ticker also leaves its count in a file, so the test can tell how far it got without the API.
  const std::string count_file = home + "/count";
  test_unit_file file(unit_dir, unit,
                      "[Unit]\nDescription=townctl ticker\n[Service]\nExecStart=/bin/sh -c 'i=0; while :; do "
                      "i=$((i+1)); echo tick-$i-" +
                          token + "; echo $i > " + count_file + "; sleep 0.1; done'\n");
  ASSERT_EQ(std::system("systemctl --user daemon-reload"), 0);
  ASSERT_EQ(std::system(("systemctl --user start " + unit).c_str()), 0);
  // Stopped however the test ends.
  std::unique_ptr<const std::string, void (*)(const std::string*)> stopper(
      &unit, [](const std::string* name) { (void)std::system(("systemctl --user stop " + *name).c_str()); });

  auto first = std::make_unique<server_process>();
  ASSERT_TRUE(first->started());
  std::vector<std::string> env = {"TOWNCTL_SOCKET=" + first->socket_path(), "HOME=" + home, "TOWNCTL_URL="};
  cli_process follower({"logs", unit, "-f", "--lines", "1000"}, env, {});
  ASSERT_TRUE(follower.wait_for_output("tick-5-" + token, 20s)) << follower.out << follower.err;

  ASSERT_EQ(first->stop(SIGTERM), 0);
  // The unit keeps logging while the controller is away: ten more ticks at least.
  const int at_stop = std::atoi(read_text(count_file).c_str());
  ASSERT_GT(at_stop, 0);
  ASSERT_TRUE(eventually(20s, [&] { return std::atoi(read_text(count_file).c_str()) >= at_stop + 10; }));
  auto second = server_process::restart_of(*first);
  ASSERT_TRUE(second->started()) << second->log();
  std::size_t seen_before = follower.out.size();
  // Well past what was logged during the outage.
  ASSERT_TRUE(eventually(30s,
                         [&] {
                           follower.pump(100ms);
                           auto ticks = ticks_in(follower.out, token);
                           return follower.out.size() > seen_before && !ticks.empty() && ticks.back() >= 40;
                         }))
      << follower.out << follower.err;
  // The same journal through the client library: the tail, and the stream resumed from a cursor.
  client::blocking_client controller(client::endpoint::unix_socket(second->socket_path()));
  auto tail = controller.logs_tail(unit, 3);
  ASSERT_TRUE(tail) << tail.error().describe();
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_NE(tail->back().message.find(token), std::string::npos) << tail->back().message;
  std::string cursor = (*tail)[0].cursor;
  std::vector<std::string> resumed;
  auto followed = controller.follow_logs(unit, 0, cursor, [&resumed](const client::journal_entry& entry) {
    resumed.push_back(entry.message);
    return resumed.size() < 2;
  });
  ASSERT_TRUE(followed) << followed.error().describe();
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0], (*tail)[1].message);
  EXPECT_EQ(resumed[1], (*tail)[2].message);

  auto ticks = ticks_in(follower.out, token);
  ASSERT_GE(ticks.size(), 40u);
  for (std::size_t i = 1; i < ticks.size(); ++i) {
    ASSERT_EQ(ticks[i], ticks[i - 1] + 1) << "gap or duplicate at entry " << i << ":\n" << follower.out;
  }
  EXPECT_NE(follower.err.find("reconnecting"), std::string::npos) << follower.err;

  second->stop(SIGTERM);
  std::error_code ignored;
  fs::remove_all(first->state_dir(), ignored);
  fs::remove_all(home, ignored);
}

}  // namespace
}  // namespace sc::test
