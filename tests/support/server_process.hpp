#pragma once
// Starts the real `systemcontroller` binary for integration tests: on 127.0.0.1 port 0 and on a
// Unix socket in a temp dir, against the sandbox host. Learns the bound port from the server's
// "listening on tcp:…" log line (no fixed ports, no sleeping). Stops it with SIGTERM.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sc::test {

// The path of the `systemcontroller` binary of this build (for tests that start it otherwise,
// e.g. from a systemd unit).
std::string controller_binary();

class server_process {
 public:
  // `extra_args` are appended to the command line (e.g. {"--max-connections", "2"}); `environment`
  // entries ("KEY=value") replace or add to the server's environment (ours otherwise).
  explicit server_process(std::vector<std::string> extra_args = {}, bool use_sandbox_btrfs = true,
                          std::vector<std::string> environment = {});
  // A restart of `earlier` (already stopped): its state directory (accounts, sessions) and its TCP
  // port. The directory stays `earlier`'s to remove.
  static std::unique_ptr<server_process> restart_of(const server_process& earlier);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  bool started() const noexcept { return port_ != 0; }
  unsigned short port() const noexcept { return port_; }
  const std::string& socket_path() const noexcept { return socket_path_; }
  const std::string& state_dir() const noexcept { return state_dir_; }
  int pid() const noexcept { return pid_; }
  // Everything the server wrote to stderr so far (drained without blocking).
  std::string log();
  // Waits (on the stderr pipe, bounded) until the log contains `text`.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds deadline = std::chrono::seconds(10));

  // Sends `signal` and waits up to `deadline` for exit; returns the exit status (-1: still running,
  // then it is killed).
  int stop(int signal, std::chrono::milliseconds deadline = std::chrono::seconds(15));

 private:
  server_process(std::vector<std::string> extra_args, bool use_sandbox_btrfs, std::vector<std::string> environment,
                 std::string state_dir, unsigned short port);

  int pid_ = -1;
  bool owns_state_dir_ = true;
  int stderr_fd_ = -1;
  unsigned short port_ = 0;
  std::string socket_path_;
  std::string state_dir_;
  std::string log_;
};

}  // namespace sc::test
