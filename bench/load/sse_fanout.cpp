// sse_fanout — load bench of GET /systemd/logs (issue 4), driven by bench/sse_fanout.sh.
//
// Opens N viewers of one unit's stream on the server's Unix socket (root: no token), measures the
// server's memory per idle viewer, then writes numbered lines into a FIFO that the unit echoes to
// the journal, and measures for every (line, viewer):
//   fan-out delay   receipt by the viewer − the moment the server read the entry from the journal
//                   (the server's ": t=<CLOCK_MONOTONIC ns>" comment, SC_LOG_STREAM_STAMP=1);
//   end-to-end      receipt − the moment the line was written to the FIFO;
// beside `journalctl -f` reading the same unit (its end-to-end), and GET /health latency on
// another connection meanwhile. All clocks are CLOCK_MONOTONIC on one machine.
//
//   sse_fanout --socket PATH --pid SERVER_PID --unit NAME --fifo PATH --viewers N
//              [--lines 30] [--interval-ms 100]

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

std::int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "sse_fanout: %s: %s\n", what.c_str(), std::generic_category().message(errno).c_str());
  // Not exit(): the health thread may still run, and exit's static destructors race with it.
  std::fflush(nullptr);
  std::_Exit(1);
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) die("connect " + path);
  return fd;
}

long status_kib(int pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key)) return std::strtol(line.c_str() + std::strlen(key), nullptr, 10);
  }
  return -1;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(std::lround(p / 100.0 * static_cast<double>(values.size() - 1)));
  return values[std::min(index, values.size() - 1)];
}

struct viewer {
  int fd = -1;
  std::string buffer;
  bool header_done = false;
};

struct options {
  std::string socket;
  int pid = 0;
  std::string unit;
  std::string fifo;
  int viewers = 1000;
  int lines = 30;
  int interval_ms = 100;
};

// Marks look like "bench-<k>": the k-th line written.
// The K of a bench line "bench-K": a journalctl -o cat line that is one, or an SSE event whose
// message is one (a JSON string starting with it; the unit name also holds "bench-", mid-string).
int mark_of(const std::string& text) {
  if (text.starts_with("bench-")) return std::atoi(text.c_str() + 6);
  auto at = text.find("\"bench-");
  if (at == std::string::npos) return -1;
  return std::atoi(text.c_str() + at + 7);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    std::string value = argv[i + 1];
    if (key == "--socket")
      o.socket = value;
    else if (key == "--pid")
      o.pid = std::atoi(value.c_str());
    else if (key == "--unit")
      o.unit = value;
    else if (key == "--fifo")
      o.fifo = value;
    else if (key == "--viewers")
      o.viewers = std::atoi(value.c_str());
    else if (key == "--lines")
      o.lines = std::atoi(value.c_str());
    else if (key == "--interval-ms")
      o.interval_ms = std::atoi(value.c_str());
  }
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  long rss_before = status_kib(o.pid, "VmRSS:");
  long anon_before = status_kib(o.pid, "RssAnon:");
  int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<viewer> viewers(static_cast<std::size_t>(o.viewers));
  const std::string request = "GET /systemd/logs?lines=0&unit=" + o.unit + " HTTP/1.1\r\nHost: bench\r\n\r\n";
  for (std::size_t i = 0; i < viewers.size(); ++i) {
    viewers[i].fd = connect_unix(o.socket);
    if (::send(viewers[i].fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      die("send");
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, viewers[i].fd, &event);
  }

  // fan-out[k] and end-to-end[k]: one value per viewer that got line k.
  std::vector<std::vector<double>> fanout(static_cast<std::size_t>(o.lines));
  std::vector<std::vector<double>> end_to_end(static_cast<std::size_t>(o.lines));
  std::vector<std::int64_t> written(static_cast<std::size_t>(o.lines), 0);
  std::size_t headers = 0;
  std::size_t refused = 0;
  std::vector<epoll_event> events(1024);
  char chunk[65536];

  auto pump = [&](int timeout_ms) {
    int n = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), timeout_ms);
    std::int64_t received = now_ns();
    for (int e = 0; e < n; ++e) {
      viewer& v = viewers[events[static_cast<std::size_t>(e)].data.u64];
      ssize_t got = ::recv(v.fd, chunk, sizeof chunk, 0);
      if (got <= 0) {
        ::epoll_ctl(epoll, EPOLL_CTL_DEL, v.fd, nullptr);
        continue;
      }
      v.buffer.append(chunk, static_cast<std::size_t>(got));
      if (!v.header_done) {
        auto end = v.buffer.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        v.header_done = true;
        if (v.buffer.compare(0, 12, "HTTP/1.1 200") == 0) {
          ++headers;
        } else {
          ++refused;
        }
        v.buffer.erase(0, end + 4);
      }
      for (;;) {
        auto end = v.buffer.find("\n\n");
        if (end == std::string::npos) break;
        std::string block = v.buffer.substr(0, end);
        v.buffer.erase(0, end + 2);
        auto stamp = block.find(": t=");
        int k = mark_of(block);
        if (stamp == std::string::npos || k < 0 || k >= o.lines) continue;
        double read_at = std::strtod(block.c_str() + stamp + 4, nullptr);
        fanout[static_cast<std::size_t>(k)].push_back((static_cast<double>(received) - read_at) / 1e6);
        end_to_end[static_cast<std::size_t>(k)].push_back(
            static_cast<double>(received - written[static_cast<std::size_t>(k)]) / 1e6);
      }
      // Keepalive comments pile up as ":\n" lines without a blank line: drop them.
      while (v.buffer.starts_with(":\n")) v.buffer.erase(0, 2);
    }
  };

  auto connect_deadline = now_ns() + 60'000'000'000;
  while (headers + refused < viewers.size() && now_ns() < connect_deadline) pump(100);
  if (refused > 0) std::printf("refused viewers: %zu (server limit?)\n", refused);
  // Settle (keepalives flow), then measure the idle memory.
  auto settle_until = now_ns() + 2'000'000'000;
  while (now_ns() < settle_until) pump(50);
  long rss_after = status_kib(o.pid, "VmRSS:");
  long anon_after = status_kib(o.pid, "RssAnon:");
  std::printf("viewers=%d connected=%zu\n", o.viewers, headers);
  std::printf("server RSS %ld -> %ld KiB (anon %ld -> %ld KiB): %.2f KiB RSS per idle viewer (anon %.2f)\n", rss_before,
              rss_after, anon_before, anon_after,
              static_cast<double>(rss_after - rss_before) / static_cast<double>(std::max<std::size_t>(headers, 1)),
              static_cast<double>(anon_after - anon_before) / static_cast<double>(std::max<std::size_t>(headers, 1)));

  // journalctl -f on the same unit, for the end-to-end comparison.
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) die("pipe");
  pid_t journalctl = ::fork();
  if (journalctl == 0) {
    ::dup2(pipe_fds[1], 1);
    std::string match = "_SYSTEMD_UNIT=" + o.unit;
    ::execlp("journalctl", "journalctl", "-f", "-n", "0", "-o", "cat", match.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(pipe_fds[1]);
  std::vector<double> journalctl_delay;
  std::string journalctl_buffer;

  // /health on its own connection while lines fan out.
  std::atomic<bool> stop_health{false};
  std::vector<double> health_ms;
  std::thread health([&] {
    int fd = connect_unix(o.socket);
    const std::string get = "GET /health HTTP/1.1\r\nHost: bench\r\n\r\n";
    char reply[4096];
    while (!stop_health) {
      auto started = now_ns();
      if (::send(fd, get.data(), get.size(), MSG_NOSIGNAL) <= 0) break;
      std::string got;
      while (got.find("\r\n\r\n") == std::string::npos || got.find('}') == std::string::npos) {
        ssize_t n = ::recv(fd, reply, sizeof reply, 0);
        if (n <= 0) break;
        got.append(reply, static_cast<std::size_t>(n));
      }
      health_ms.push_back(static_cast<double>(now_ns() - started) / 1e6);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::close(fd);
  });
  int fifo = ::open(o.fifo.c_str(), O_WRONLY | O_CLOEXEC);
  if (fifo < 0) die("open fifo " + o.fifo);
  // journalctl -f is following once it prints a warm-up line written after it started (the lines
  // carry no "bench-" mark, so neither side counts them). One is written every 100 ms until one
  // shows: journalctl drops the first lines of a unit that had not logged before it started
  // following. A fixed wait instead lost journalctl's first bench lines on a busy machine.
  {
    const std::string warmup = "warmup-" + std::to_string(::getpid()) + "-";
    auto deadline = now_ns() + 30'000'000'000;
    std::int64_t next_write = 0;
    std::string seen;
    for (int i = 0; seen.find(warmup) == std::string::npos;) {
      if (now_ns() > deadline) die("journalctl -f printed no warm-up line within 30 s");
      if (now_ns() >= next_write) {
        std::string line = warmup + std::to_string(i++) + "\n";
        if (::write(fifo, line.data(), line.size()) != static_cast<ssize_t>(line.size())) die("write fifo");
        next_write = now_ns() + 100'000'000;
      }
      pump(5);  // viewers receive the warm-up lines too; keep their sockets drained
      pollfd p{pipe_fds[0], POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        ssize_t n = ::read(pipe_fds[0], chunk, sizeof chunk);
        if (n <= 0) die("journalctl -f ended");
        seen.append(chunk, static_cast<std::size_t>(n));
      }
    }
  }
  auto pump_journalctl = [&] {
    pollfd p{pipe_fds[0], POLLIN, 0};
    while (::poll(&p, 1, 0) > 0) {
      ssize_t n = ::read(pipe_fds[0], chunk, sizeof chunk);
      if (n <= 0) break;
      std::int64_t received = now_ns();
      journalctl_buffer.append(chunk, static_cast<std::size_t>(n));
      for (auto end = journalctl_buffer.find('\n'); end != std::string::npos; end = journalctl_buffer.find('\n')) {
        int k = mark_of(journalctl_buffer.substr(0, end));
        journalctl_buffer.erase(0, end + 1);
        if (k >= 0 && k < o.lines) {
          journalctl_delay.push_back(static_cast<double>(received - written[static_cast<std::size_t>(k)]) / 1e6);
        }
      }
    }
  };
  for (int k = 0; k < o.lines; ++k) {
    std::string line = "bench-" + std::to_string(k) + "\n";
    written[static_cast<std::size_t>(k)] = now_ns();
    if (::write(fifo, line.data(), line.size()) != static_cast<ssize_t>(line.size())) die("write fifo");
    auto next = now_ns() + static_cast<std::int64_t>(o.interval_ms) * 1'000'000;
    while (now_ns() < next) {
      pump(5);
      pump_journalctl();
    }
  }
  auto drain_until = now_ns() + 3'000'000'000;
  while (now_ns() < drain_until) {
    pump(20);
    pump_journalctl();
  }
  stop_health = true;
  health.join();
  ::close(fifo);
  ::kill(journalctl, SIGTERM);
  ::waitpid(journalctl, nullptr, 0);

  std::vector<double> all_fanout;
  std::vector<double> last_viewer;
  std::vector<double> all_end_to_end;
  std::size_t complete = 0;
  for (int k = 0; k < o.lines; ++k) {
    const auto& f = fanout[static_cast<std::size_t>(k)];
    all_fanout.insert(all_fanout.end(), f.begin(), f.end());
    const auto& e = end_to_end[static_cast<std::size_t>(k)];
    all_end_to_end.insert(all_end_to_end.end(), e.begin(), e.end());
    if (f.size() == headers) ++complete;
    if (!f.empty()) last_viewer.push_back(*std::max_element(f.begin(), f.end()));
  }
  std::printf("lines=%d delivered to every viewer: %zu/%d (events received %zu of %zu)\n", o.lines, complete, o.lines,
              all_fanout.size(), static_cast<std::size_t>(o.lines) * headers);
  std::printf(
      "fan-out ms (server read -> viewer receipt): p50 %.2f p99 %.2f; until the LAST viewer: p50 %.2f p99 %.2f\n",
      percentile(all_fanout, 50), percentile(all_fanout, 99), percentile(last_viewer, 50), percentile(last_viewer, 99));
  std::printf("end-to-end ms (write -> receipt): SSE p50 %.1f p99 %.1f | journalctl -f p50 %.1f p99 %.1f (%zu lines)\n",
              percentile(all_end_to_end, 50), percentile(all_end_to_end, 99), percentile(journalctl_delay, 50),
              percentile(journalctl_delay, 99), journalctl_delay.size());
  std::printf("/health meanwhile: %zu requests, p50 %.2f ms p99 %.2f ms\n", health_ms.size(), percentile(health_ms, 50),
              percentile(health_ms, 99));
  for (auto& v : viewers) ::close(v.fd);
  return 0;
}
