#pragma once
// Small helpers the integration tests share: bounded polling for effects that follow an answer
// asynchronously, a port nothing uses, whole-file text I/O, and git repositories to serve from.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace sc::test {

// Polls `probe` every 100 ms until it returns true or `deadline` passes (then once more).
template <class Probe>
bool eventually(std::chrono::milliseconds deadline, Probe probe) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (probe()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return probe();
}

// A loopback port nothing uses now (the kernel's pick for an ephemeral bind of `type`,
// SOCK_STREAM or SOCK_DGRAM), or 0.
inline int unused_port(int type = SOCK_STREAM) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Writes `text` to `path` (creating its parents), replacing what was there.
inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Commits everything in `dir` to a git repository there on branch `main` (made when missing): a
// package repository or a git source for the tests. True when git succeeded.
inline bool commit_all(const std::filesystem::path& dir, const std::string& message = "packages") {
  std::string quoted = "'" + dir.string() + "'";
  return std::system(("cd " + quoted + " && (test -d .git || git init -q -b main) && git add -A && " +
                      "git -c user.email=t@example.com -c user.name=t commit -q --allow-empty -m '" + message + "'")
                         .c_str()) == 0;
}

}  // namespace sc::test
