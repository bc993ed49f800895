#include "adapters/systemd/bus.hpp"

#include <poll.h>
#include <sdbus-c++/Error.h>
#include <sdbus-c++/IConnection.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <system_error>
#include <vector>

namespace sc::systemd {

namespace asio = boost::asio;

struct bus_connection::state {
  state(asio::io_context& io, std::unique_ptr<sdbus::IConnection> c)
      : io_(io), connection_(std::move(c)), descriptor_(io), timer_(io) {}

  ~state() {
    // The fd belongs to sd-bus: stop watching it and hand it back untouched before the
    // connection (declared earlier, destroyed later) closes it.
    timer_.cancel();
    if (descriptor_.is_open()) {
      boost::system::error_code ignored;
      descriptor_.cancel(ignored);
      (void)descriptor_.release();
    }
  }

  asio::io_context& io_;
  std::unique_ptr<sdbus::IConnection> connection_;
  asio::posix::stream_descriptor descriptor_;
  asio::steady_timer timer_;
  std::optional<std::chrono::steady_clock::time_point> armed_deadline_;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool process_posted_ = false;
  bool connected_ = true;
  std::uint64_t wakeups_ = 0;
  std::vector<std::function<void()>> on_disconnect_;
};

namespace {

using state_ptr = std::shared_ptr<bus_connection::state>;

// A burst of signals must not monopolise the loop: after this many messages, the rest is handled
// in a posted continuation so other handlers get a turn.
constexpr int messages_per_turn = 64;

// sd-bus reports "no timeout" as UINT64_MAX and far deadlines as huge values; a timer that far out
// is useless (every wake-up re-arms anyway) and would overflow time_point arithmetic.
constexpr std::chrono::hours longest_timer{1};

void rearm(const state_ptr& s);
void process(const state_ptr& s);

void mark_disconnected(const state_ptr& s) {
  if (!s->connected_) return;
  s->connected_ = false;
  s->timer_.cancel();
  s->armed_deadline_.reset();
  boost::system::error_code ignored;
  s->descriptor_.cancel(ignored);
  // Posted, not called: we may be inside a kick() from a coroutine that holds sdbus state.
  for (auto& callback : s->on_disconnect_) asio::post(s->io_, std::move(callback));
  s->on_disconnect_.clear();
}

void schedule_process(const state_ptr& s) {
  if (s->process_posted_) return;
  s->process_posted_ = true;
  asio::post(s->io_, [weak = std::weak_ptr<bus_connection::state>(s)] {
    if (auto locked = weak.lock()) {
      locked->process_posted_ = false;
      process(locked);
    }
  });
}

void process(const state_ptr& s) {
  if (!s->connected_) return;
  ++s->wakeups_;
  for (int i = 0; i < messages_per_turn; ++i) {
    try {
      if (!s->connection_->processPendingRequest()) {
        // Drained: sd-bus read until EAGAIN, so any later byte is a fresh edge for epoll.
        rearm(s);
        return;
      }
    } catch (const sdbus::Error&) {
      // sd-bus has already delivered "connection terminated" errors to every pending call while
      // closing; what is left is a dead connection.
      mark_disconnected(s);
      return;
    }
    if (!s->connected_) return;  // a callback may not destroy us (weak refs), but can observe close
  }
  schedule_process(s);
}

void start_read_wait(const state_ptr& s) {
  s->read_waiting_ = true;
  s->descriptor_.async_wait(asio::posix::descriptor_base::wait_read,
                            [weak = std::weak_ptr<bus_connection::state>(s)](boost::system::error_code ec) {
                              auto locked = weak.lock();
                              if (!locked) return;
                              locked->read_waiting_ = false;
                              if (ec == asio::error::operation_aborted) return;
                              process(locked);
                            });
}

void start_write_wait(const state_ptr& s) {
  s->write_waiting_ = true;
  s->descriptor_.async_wait(asio::posix::descriptor_base::wait_write,
                            [weak = std::weak_ptr<bus_connection::state>(s)](boost::system::error_code ec) {
                              auto locked = weak.lock();
                              if (!locked) return;
                              locked->write_waiting_ = false;
                              if (ec == asio::error::operation_aborted) return;
                              process(locked);
                            });
}

void arm_timer(const state_ptr& s, std::uint64_t timeout_usec) {
  if (timeout_usec == UINT64_MAX) {
    if (s->armed_deadline_) {
      s->armed_deadline_.reset();
      s->timer_.cancel();
    }
    return;
  }
  // PollData's timeout is absolute CLOCK_MONOTONIC, which is what libstdc++'s steady_clock reads.
  using std::chrono::microseconds;
  auto now = std::chrono::duration_cast<microseconds>(std::chrono::steady_clock::now().time_since_epoch());
  auto latest = static_cast<std::uint64_t>((now + longest_timer).count());
  std::chrono::steady_clock::time_point deadline(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      microseconds(static_cast<microseconds::rep>(timeout_usec < latest ? timeout_usec : latest))));
  if (s->armed_deadline_ && *s->armed_deadline_ == deadline) return;
  s->armed_deadline_ = deadline;
  s->timer_.expires_at(deadline);  // cancels a wait for the previous deadline
  s->timer_.async_wait([weak = std::weak_ptr<bus_connection::state>(s), deadline](boost::system::error_code ec) {
    auto locked = weak.lock();
    if (!locked || ec) return;
    if (locked->armed_deadline_ == deadline) locked->armed_deadline_.reset();
    process(locked);
  });
}

void rearm(const state_ptr& s) {
  if (!s->connected_) return;
  sdbus::IConnection::PollData poll{};
  try {
    poll = s->connection_->getEventLoopPollData();
  } catch (const sdbus::Error&) {
    mark_disconnected(s);
    return;
  }
  if (poll.timeout_usec == 0) {
    // Messages already sit in sd-bus's read queue (e.g. read during a synchronous round trip):
    // the fd will not signal them.
    schedule_process(s);
    return;
  }
  if ((poll.events & POLLIN) != 0 && !s->read_waiting_) start_read_wait(s);
  if ((poll.events & POLLOUT) != 0 && !s->write_waiting_) start_write_wait(s);
  arm_timer(s, poll.timeout_usec);
}

}  // namespace

bus_connection::bus_connection(std::shared_ptr<state> s) : state_(std::move(s)) {}

bus_connection::~bus_connection() = default;

sdbus::IConnection& bus_connection::sdbus() noexcept {
  return *state_->connection_;
}

asio::io_context& bus_connection::context() noexcept {
  return state_->io_;
}

void bus_connection::kick() noexcept {
  rearm(state_);
}

bool bus_connection::connected() const noexcept {
  return state_->connected_;
}

std::uint64_t bus_connection::wakeups() const noexcept {
  return state_->wakeups_;
}

void bus_connection::on_disconnect(std::function<void()> callback) {
  if (!state_->connected_) {
    asio::post(state_->io_, std::move(callback));
    return;
  }
  state_->on_disconnect_.push_back(std::move(callback));
}

result<void> probe_bus(const std::string& address) {
  // "system" is the well-known system bus socket; other addresses are probed when their first
  // transport is unix:path=… (the form the sandbox and user managers use).
  std::string_view text = address;
  if (address == "system") {
    const char* configured = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    text = configured != nullptr ? configured : "unix:path=/run/dbus/system_bus_socket";
  }
  constexpr std::string_view unix_path = "unix:path=";
  if (!text.starts_with(unix_path)) return {};
  text.remove_prefix(unix_path.size());
  const std::string path(text.substr(0, text.find_first_of(",;")));
  sockaddr_un where{};
  if (path.empty() || path.size() >= sizeof where.sun_path) return problem::unavailable("bad D-Bus socket path");
  where.sun_family = AF_UNIX;
  std::memcpy(where.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return problem::unavailable(std::string("socket: ") + std::generic_category().message(errno));
  // Non-blocking: a full backlog (EAGAIN) still means a bus is there; only absence fails.
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&where), sizeof where);
  int error = rc == 0 ? 0 : errno;
  ::close(fd);
  if (error == 0 || error == EAGAIN || error == EINPROGRESS) return {};
  if (error == ENOENT) return problem::unavailable("no D-Bus socket at " + path);
  return problem::unavailable("D-Bus socket " + path + ": " + std::generic_category().message(error));
}

result<std::unique_ptr<bus_connection>> connect_bus(asio::io_context& io, const std::string& address) {
  if (auto reachable = probe_bus(address); !reachable) return reachable.error();
  std::unique_ptr<sdbus::IConnection> connection;
  try {
    if (address == "system") {
      connection = sdbus::createSystemBusConnection();
    } else {
      connection = sdbus::createSessionBusConnectionWithAddress(address);
    }
  } catch (const sdbus::Error& e) {
    auto p = problem::unavailable("cannot connect to D-Bus");
    p.internal = "connect to " + address + ": " + e.getName() + ": " + e.getMessage();
    return p;
  }
  auto s = std::make_shared<bus_connection::state>(io, std::move(connection));
  try {
    s->descriptor_.assign(s->connection_->getEventLoopPollData().fd);
  } catch (const std::exception& e) {
    auto p = problem::unavailable("cannot watch the D-Bus connection");
    p.internal = std::string("watch D-Bus fd: ") + e.what();
    return p;
  }
  rearm(s);
  return std::make_unique<bus_connection>(std::move(s));
}

}  // namespace sc::systemd
