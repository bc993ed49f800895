#include "tests/support/server_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "tests/support/sandbox.hpp"

extern char** environ;

namespace sc::test {

#ifndef SC_BINARY_PATH
#define SC_BINARY_PATH ""
#endif

std::string controller_binary() {
  return SC_BINARY_PATH;
}

server_process::server_process(std::vector<std::string> extra_args, bool use_sandbox_btrfs,
                               std::vector<std::string> environment)
    : server_process(std::move(extra_args), use_sandbox_btrfs, std::move(environment), {}, 0) {}

std::unique_ptr<server_process> server_process::restart_of(const server_process& earlier) {
  return std::unique_ptr<server_process>(new server_process({}, true, {}, earlier.state_dir_, earlier.port_));
}

server_process::server_process(std::vector<std::string> extra_args, bool use_sandbox_btrfs,
                               std::vector<std::string> environment, std::string state_dir, unsigned short port) {
  owns_state_dir_ = state_dir.empty();
  state_dir_ = owns_state_dir_ ? make_temp_dir("sc-server") : std::move(state_dir);
  socket_path_ = state_dir_ + "/api.sock";
  std::vector<std::string> args = {SC_BINARY_PATH, "--listen",   "127.0.0.1:" + std::to_string(port),
                                   "--socket",     socket_path_, "--state-dir",
                                   state_dir_};
  std::string bus = sandbox_env("SC_BUS_ADDRESS");
  if (!bus.empty()) args.insert(args.end(), {"--bus", bus});
  if (use_sandbox_btrfs) {
    std::string btrfs = sandbox_env("SC_BTRFS_ROOT");
    if (!btrfs.empty()) args.insert(args.end(), {"--btrfs-root", btrfs});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::generic_category().message(errno);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // A test server seeds no package repository (the default is a network clone at first boot)
  // unless the test sets SC_DEFAULT_REPOSITORY itself.
  std::vector<char*> envp;
  envp.reserve(environment.size());
  for (auto& entry : environment) envp.push_back(entry.data());
  auto overridden = [&environment](std::string_view entry) {
    std::string_view key = entry.substr(0, entry.find('=') + 1);
    return std::any_of(environment.begin(), environment.end(),
                       [key](const std::string& mine) { return std::string_view(mine).starts_with(key); });
  };
  for (char** e = environ; *e != nullptr; ++e) {
    if (!overridden(*e)) envp.push_back(*e);
  }
  std::string no_seed = "SC_DEFAULT_REPOSITORY=";
  if (::getenv("SC_DEFAULT_REPOSITORY") == nullptr && !overridden(no_seed)) envp.push_back(no_seed.data());
  // Test servers share the sandbox's one user manager, where town-os-system--<key> units have one
  // name each: only a test that asks for system services (and takes the sandbox lock) runs them.
  std::string no_services = "SC_SYSTEM_SERVICES=none";
  if (!overridden(no_services)) envp.push_back(no_services.data());
  envp.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  stderr_fd_ = pipe_fds[0];
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << args[0] << ": " << std::generic_category().message(rc);
    pid_ = -1;
    return;
  }
  // The Unix listener is logged after the TCP one: once it shows, both are bound.
  if (wait_for_log("listening on unix:", std::chrono::seconds(20))) {
    auto at = log_.find("listening on tcp:127.0.0.1:");
    if (at != std::string::npos) port_ = static_cast<unsigned short>(std::stoi(log_.substr(at + 27)));
  }
  if (port_ == 0) ADD_FAILURE() << "server did not start listening; its log:\n" << log_;
}

std::string server_process::log() {
  if (stderr_fd_ >= 0) {
    for (;;) {
      pollfd p{stderr_fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      char buffer[4096];
      ssize_t n = ::read(stderr_fd_, buffer, sizeof buffer);
      if (n <= 0) break;
      log_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  return log_;
}

bool server_process::wait_for_log(const std::string& text, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (log_.find(text) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || stderr_fd_ < 0) return false;
    pollfd p{stderr_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    ssize_t n = ::read(stderr_fd_, buffer, sizeof buffer);
    if (n <= 0) return false;  // the server exited
    log_.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

int server_process::stop(int signal, std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  // pidfd_open would be neater; polling waitpid with WNOHANG keeps this helper dependency-free.
  while (std::chrono::steady_clock::now() < until) {
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      log();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    pollfd p{stderr_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) > 0) log();
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

server_process::~server_process() {
  if (pid_ > 0) {
    int code = stop(SIGTERM);
    EXPECT_EQ(code, 0) << "server did not exit cleanly on SIGTERM; its log:\n" << log_;
  }
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  std::error_code ignored;
  if (owns_state_dir_ && !state_dir_.empty()) std::filesystem::remove_all(state_dir_, ignored);
}

}  // namespace sc::test
