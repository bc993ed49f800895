// townctl start-up to first byte (issue 18: ≤ 5 ms, since scripts run it in loops): listens on a
// Unix socket of its own, starts `townctl --socket <it> status health` N times and measures, per
// run, the time from posix_spawn to the first byte of the request arriving, and to the exit of
// the process after a minimal answer. Prints min, median, p90 and max of both. Plain POSIX.
//   first_byte TOWNCTL [RUNS]
//   first_byte RUNS PROGRAM ARGS...   (any client, "@SOCKET@" replaced by the socket: a baseline,
//                                      e.g. curl --unix-socket @SOCKET@ http://localhost/health)
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;

double ms(clock_type::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void report(const char* what, std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&samples](double q) {
    return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
  };
  std::printf("%-22s min %6.2f ms  median %6.2f ms  p90 %6.2f ms  max %6.2f ms  (%zu runs)\n", what, samples.front(),
              at(0.5), at(0.9), samples.back(), samples.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: first_byte TOWNCTL [RUNS]\n");
    return 2;
  }
  bool generic = argc > 2 && std::string(argv[1]).find_first_not_of("0123456789") == std::string::npos;
  std::string townctl = generic ? argv[2] : argv[1];
  int runs = generic ? std::atoi(argv[1]) : (argc > 2 ? std::atoi(argv[2]) : 200);
  char dir_template[] = "/tmp/sc-first-byte-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return 1;
  std::string path = std::string(dir_template) + "/api.sock";
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener, 16) != 0) {
    std::perror("listen");
    return 1;
  }
  std::vector<std::string> args = {townctl, "--socket", path, "status", "health"};
  if (generic) {
    args.assign(argv + 2, argv + argc);
    for (auto& a : args) {
      if (a == "@SOCKET@") a = path;
    }
  }
  std::vector<char*> argv_child;
  argv_child.reserve(args.size() + 1);
  for (auto& a : args) argv_child.push_back(a.data());
  argv_child.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);

  const std::string answer =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
      "Connection: close\r\n\r\n{\"status\":\"ok\"}";
  std::vector<double> first_byte;
  std::vector<double> whole;
  first_byte.reserve(static_cast<std::size_t>(std::max(runs, 0)));
  whole.reserve(static_cast<std::size_t>(std::max(runs, 0)));
  for (int i = 0; i < runs; ++i) {
    auto start = clock_type::now();
    pid_t pid = -1;
    if (::posix_spawn(&pid, argv_child[0], &actions, nullptr, argv_child.data(), environ) != 0) {
      std::perror("posix_spawn");
      return 1;
    }
    int connection = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    char byte = 0;
    if (connection < 0 || ::recv(connection, &byte, 1, 0) != 1) {
      std::fprintf(stderr, "no request from townctl\n");
      return 1;
    }
    first_byte.push_back(ms(clock_type::now() - start));
    char rest[4096];
    (void)::recv(connection, rest, sizeof rest, MSG_DONTWAIT);
    (void)::send(connection, answer.data(), answer.size(), MSG_NOSIGNAL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    whole.push_back(ms(clock_type::now() - start));
    ::close(connection);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "townctl exited with %d\n", status);
      return 1;
    }
  }
  report("spawn to first byte", first_byte);
  report("spawn to exit", whole);
  ::unlink(path.c_str());
  ::rmdir(dir_template);
  return 0;
}
