// The app's sockets (configured or socket-activated listeners, the accept loops, refusing beyond
// the connection limit), the one deadline sweep and the systemd watchdog.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>

#include "adapters/asio/completion.hpp"
#include "core/log.hpp"
#include "server/app.hpp"
#include "server/app_parts.hpp"
#include "server/connection.hpp"

namespace sc::server {

namespace asio = boost::asio;

namespace {

http::peer_info describe_peer(int fd, http::peer_info::transport kind) {
  http::peer_info peer;
  peer.kind = kind;
  if (kind == http::peer_info::transport::unix_socket) {
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0)
      peer.uid = static_cast<int>(credentials.uid);
    peer.address = "unix";
    return peer;
  }
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return peer;
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    peer.loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  } else if (address.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    bool mapped = IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr);
    peer.loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) || (mapped && v6->sin6_addr.s6_addr[12] == 127);
  }
  peer.address = text;
  return peer;
}

// A connection over the limit gets a short 503 written without waiting, then is closed.
void refuse(http::stream& socket) {
  static const std::string busy = [] {
    problem busy_problem = problem::unavailable("too many connections, try again");
    busy_problem.retry_after = 1;
    http::response response = http::problem_response(busy_problem);
    response.set(boost::beast::http::field::connection, "close");
    return http::format_head(response) + response.body();
  }();
  [[maybe_unused]] auto n = ::send(socket.native_handle(), busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  boost::system::error_code ignored;
  socket.close(ignored);
}

asio::awaitable<void> accept_loop(app& application, generic_acceptor& acceptor, http::peer_info::transport kind) {
  asio::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(io_result);
    if (ec == asio::error::operation_aborted || application.stopping()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on a listener that stays readable.
      log::warning("accept: " + ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(io_result);
      continue;
    }
    int fd = socket.native_handle();
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // Asio does not; children must not inherit client sockets
    if (kind == http::peer_info::transport::tcp) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (static_cast<std::size_t>(application.counters().open_connections()) >= application.settings().max_connections) {
      application.counters().connection_refused();
      refuse(socket);
      continue;
    }
    http::peer_info peer = describe_peer(fd, kind);
    // The handler's cancellation slot (connection::cancel). The signal outlives the coroutine: the
    // completion handler keeps it and releases it on a later turn, after the coroutine's frames
    // (which refer to the slot) are gone.
    auto cancel = std::make_shared<asio::cancellation_signal>();
    auto* signal = cancel.get();
    auto executor = acceptor.get_executor();
    asio::co_spawn(
        executor, serve_connection(application, std::move(socket), std::move(peer), signal),
        asio::bind_cancellation_slot(signal->slot(), [cancel, executor](const std::exception_ptr& e) mutable {
          log_escaped{"connection"}(e);
          asio::post(executor, [released = std::move(cancel)] {});
        }));
  }
}

// Closes the sockets of connections whose deadline has passed (connection::deadline). One timer
// for the whole server: a request only stores its deadline. Timeouts are enforced to within one
// tick, a quarter of the shortest configured timeout.
asio::awaitable<void> sweep_deadlines(std::list<connection*>& connections, asio::steady_timer& timer,
                                      std::chrono::milliseconds tick) {
  for (;;) {
    timer.expires_after(tick);
    auto [ec] = co_await timer.async_wait(io_result);
    if (ec) co_return;
    auto now = connection::clock::now();
    // Copied first: cancelling a handler may complete it, and its connection may leave the list.
    std::vector<connection*> expired;
    for (connection* c : connections) {
      if (c->deadline <= now) {
        boost::system::error_code ignored;
        c->stream->close(ignored);
        c->expires_never();
      }
      if (c->in_handler && c->handler_deadline <= now) expired.push_back(c);
    }
    for (connection* c : expired) {
      if (std::find(connections.begin(), connections.end(), c) != connections.end())
        c->cancel_handler(connection::cancel_reason::deadline);
    }
  }
}

asio::awaitable<void> watchdog_loop(asio::steady_timer& timer, std::chrono::microseconds interval) {
  for (;;) {
    sd_notify(0, "WATCHDOG=1");
    timer.expires_after(interval / 2);
    auto [ec] = co_await timer.async_wait(io_result);
    if (ec) co_return;
  }
}

result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return problem::bad_request("listen address must be HOST:PORT: " + listen);
  std::string host = listen.substr(0, colon);
  std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned value = 0;
  try {
    std::size_t used = 0;
    value = static_cast<unsigned>(std::stoul(port, &used));
    if (used != port.size() || value > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return problem::bad_request("bad port in listen address: " + listen);
  }
  return std::pair{host, static_cast<std::uint16_t>(value)};
}

}  // namespace

result<void> app::serve() {
  listeners_ = std::make_unique<listeners>(io_);
  auto add = [this](generic_acceptor acceptor, http::peer_info::transport kind, std::string description) {
    listeners_->entries.push_back({std::move(acceptor), kind, std::move(description)});
  };

  int activated = sd_listen_fds(1);
  for (int i = 0; i < activated; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    generic_acceptor acceptor(io_);
    boost::system::error_code ec;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) > 0) {
      acceptor.assign(asio::generic::stream_protocol(AF_UNIX, 0), fd, ec);
      if (!ec)
        add(std::move(acceptor), http::peer_info::transport::unix_socket,
            "unix:(activated fd " + std::to_string(fd) + ")");
    } else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0) {
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
      acceptor.assign(asio::generic::stream_protocol(address.ss_family, IPPROTO_TCP), fd, ec);
      if (!ec)
        add(std::move(acceptor), http::peer_info::transport::tcp, "tcp:(activated fd " + std::to_string(fd) + ")");
    }
    if (ec) return problem::internal_error("socket activation fd " + std::to_string(fd) + ": " + ec.message());
  }

  if (activated <= 0 && !settings_.listen.empty()) {
    auto host_port = split_host_port(settings_.listen);
    if (!host_port) return host_port.error();
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host_port->first, ec);
    if (ec) return problem::bad_request("bad listen host " + host_port->first + ": " + ec.message());
    asio::ip::tcp::endpoint tcp_endpoint(address, host_port->second);
    asio::generic::stream_protocol::endpoint endpoint(tcp_endpoint);
    generic_acceptor acceptor(io_);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return problem::internal_error("listen on " + settings_.listen + ": " + ec.message());
    ::fcntl(acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
    add(std::move(acceptor), http::peer_info::transport::tcp, "tcp:" + settings_.listen);
  }

  if (activated <= 0 && !settings_.socket_path.empty()) {
    std::filesystem::path path(settings_.socket_path);
    std::error_code fs_ec;
    std::filesystem::create_directories(path.parent_path(), fs_ec);
    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0) {
      if (!S_ISSOCK(existing.st_mode)) {
        return problem::internal_error(settings_.socket_path + " exists and is not a socket; refusing to replace it");
      }
      ::unlink(path.c_str());
    }
    boost::system::error_code ec;
    asio::local::stream_protocol::endpoint local_endpoint(settings_.socket_path);
    asio::generic::stream_protocol::endpoint endpoint(local_endpoint);
    generic_acceptor acceptor(io_);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return problem::internal_error("listen on " + settings_.socket_path + ": " + ec.message());
    ::fcntl(acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
    // Anyone local may connect; privilege comes from SO_PEERCRED (root), not from reaching the socket.
    ::chmod(path.c_str(), 0666);
    add(std::move(acceptor), http::peer_info::transport::unix_socket, "unix:" + settings_.socket_path);
  }

  if (listeners_->entries.empty())
    return problem::bad_request("no listener configured (--listen and --socket are both off)");
  for (auto& entry : listeners_->entries) {
    asio::co_spawn(io_, accept_loop(*this, entry.acceptor, entry.kind), log_escaped{"accept loop"});
  }
  for (const auto& address : bound_addresses()) log::info("listening on " + address);
  auto shortest =
      std::min({settings_.header_timeout, settings_.body_timeout, settings_.idle_timeout, settings_.write_timeout});
  auto tick = std::clamp(shortest / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(1000));
  asio::co_spawn(io_, sweep_deadlines(connections_, listeners_->deadline_sweep, tick), log_escaped{"deadline sweep"});

  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    asio::co_spawn(io_, watchdog_loop(listeners_->watchdog, std::chrono::microseconds(watchdog_usec)),
                   log_escaped{"watchdog"});
  }
  if (audit_pruner_) {
    asio::co_spawn(io_, prune_audit_loop(), log_escaped{"audit retention"});
  }
  sd_notify(0, "READY=1\nSTATUS=serving");
  return {};
}

std::vector<std::string> app::bound_addresses() const {
  std::vector<std::string> out;
  if (!listeners_) return out;
  for (const auto& entry : listeners_->entries) {
    boost::system::error_code ec;
    auto endpoint = entry.acceptor.local_endpoint(ec);
    if (ec) continue;
    if (entry.kind == http::peer_info::transport::unix_socket) {
      out.push_back(entry.description);
      continue;
    }
    const sockaddr* address = endpoint.data();
    char text[INET6_ADDRSTRLEN] = {};
    std::uint16_t port = 0;
    if (address->sa_family == AF_INET) {
      auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
      out.push_back("tcp:" + std::string(text) + ":" + std::to_string(port));
    } else if (address->sa_family == AF_INET6) {
      auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
      out.push_back("tcp:[" + std::string(text) + "]:" + std::to_string(port));
    }
  }
  return out;
}

}  // namespace sc::server
