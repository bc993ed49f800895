#include "server/app.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "adapters/asio/completion.hpp"
#include "adapters/file_io/file_ring.hpp"
#include "adapters/pool/work_pool.hpp"
#include "adapters/process/spawn.hpp"
#include "adapters/store/audit_store.hpp"
#include "adapters/store/database.hpp"
#include "adapters/store/repository_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "adapters/systemd/bus.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/accounts.hpp"
#include "core/audit.hpp"
#include "core/cors.hpp"
#include "core/log.hpp"
#include "core/required_programs.hpp"
#include "server/catalog.hpp"
#include "server/connection.hpp"
#include "server/identity.hpp"
#include "server/storage_service.hpp"
#include "server/systemd_service.hpp"

namespace sc::server {

namespace asio = boost::asio;
using generic_acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol, http::executor>;

struct app::listeners {
  struct entry {
    generic_acceptor acceptor;
    http::peer_info::transport kind;
    std::string description;
  };
  std::list<entry> entries;
  asio::steady_timer watchdog;
  asio::steady_timer shutdown_timer;
  asio::steady_timer deadline_sweep;
  asio::steady_timer last_resort;
  asio::steady_timer audit_prune;
  explicit listeners(asio::io_context& io)
      : watchdog(io), shutdown_timer(io), deadline_sweep(io), last_resort(io), audit_prune(io) {}
};

namespace {

std::string make_boot_id() {
  sd_id128_t id;
  if (sd_id128_randomize(&id) < 0) return {};
  char text[SD_ID128_UUID_STRING_MAX];
  return sd_id128_to_uuid_string(id, text);
}

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

// D-Bus supervision. A lost connection (dbus-daemon restarted, the system bus re-executed) is
// replaced without restarting the server: reconnect attempts back off from 250 ms to 8 s, /ready
// reports `dbus` down meanwhile, and /systemd requests answer 503 until the next connection's
// manager opens. The lost connection and the manager made on it are kept ("retired") until no
// request is being served, because a handler may still hold the manager across an await; its
// calls fail at once with 503 since the connection is dead.
struct app::dbus_link {
  explicit dbus_link(asio::io_context& io) : retry(io) {}
  struct retired {
    std::unique_ptr<systemd::bus_connection> bus;
    std::unique_ptr<systemd::systemd_manager> manager;  // made on `bus`: destroyed first (declared last)
  };
  asio::steady_timer retry;
  std::vector<retired> lost;
  std::chrono::milliseconds backoff = first_backoff;
  bool supervising = false;
  static constexpr std::chrono::milliseconds first_backoff{250};
  static constexpr std::chrono::milliseconds longest_backoff{8000};
};

void app::connect_dbus() {
  auto connected = systemd::connect_bus(io_, settings_.bus);
  if (!connected) {
    std::string reason = connected.error().internal.empty() ? connected.error().detail : connected.error().internal;
    if (reason != bus_error_) log::warning("D-Bus: " + reason);
    bus_error_ = std::move(reason);
    supervise_dbus();
    return;
  }
  bus_ = std::move(*connected);
  bus_error_.clear();
  dbus_link_->backoff = dbus_link::first_backoff;
  log::info("D-Bus: connected to " + settings_.bus);
  // Its matches now, not on the first request: the AddMatch round trip blocks (at start-up nothing
  // is served yet; after a reconnect it is one round trip on a local socket).
  systemd_->prepare(bus_.get());
  bus_->on_disconnect([this, bus = bus_.get()] {
    if (bus_.get() == bus) dbus_lost();
  });
}

void app::dbus_lost() {
  bus_error_ = "connection to " + settings_.bus + " lost; reconnecting";
  log::warning("D-Bus: " + bus_error_);
  auto manager = systemd_->release_manager();
  dbus_link_->lost.push_back({std::move(bus_), std::move(manager)});
  supervise_dbus();
}

void app::supervise_dbus() {
  if (dbus_link_->supervising || stopping_) return;
  dbus_link_->supervising = true;
  auto wait = bus_ ? dbus_link::first_backoff : dbus_link_->backoff;
  dbus_link_->retry.expires_after(wait);
  dbus_link_->retry.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled at shutdown: the app may be gone
    dbus_link_->supervising = false;
    if (stopping_) return;
    const bool serving = std::any_of(connections_.begin(), connections_.end(),
                                     [](const connection* c) { return c->state == connection::phase::busy; });
    if (!serving) dbus_link_->lost.clear();
    if (!bus_) {
      dbus_link_->backoff = std::min(dbus_link_->backoff * 2, dbus_link::longest_backoff);
      connect_dbus();  // re-arms supervision itself when it fails
    }
    if (!dbus_link_->lost.empty()) supervise_dbus();
  });
}

app::app(asio::io_context& io, config settings)
    : io_(io),
      settings_(std::move(settings)),
      router_(build_routes()),
      metrics_(router_.routes().size()),
      boot_id_(make_boot_id()),
      started_(std::chrono::steady_clock::now()),
      start_time_unix_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {
  auth_.validate_token = [](std::string_view) { return std::optional<principal>{}; };
  auth_.bootstrap_open = [] { return true; };
  hash_queue_ = &pool_.add_queue("hashing", 4, 16);
  archive_queue_ = &pool_.add_queue("archives", 2, 2);
  catalog_queue_ = &pool_.add_queue("catalog", 1, 64);
  maintenance_queue_ = &pool_.add_queue("maintenance", 1, 4);
  journal_scan_queue_ = &pool_.add_queue("journal scans", 1, 8);
  systemd_ = std::make_unique<systemd_service>(io_, metrics_, *journal_scan_queue_);
  dbus_link_ = std::make_unique<dbus_link>(io_);
}

app::~app() = default;

// Package repositories (issue 6). The first boot seeds the default repository: SC_DEFAULT_REPOSITORY
// overrides its URL (tests point it at a local fixture; empty seeds nothing).
result<void> app::open_packages() {
  std::optional<packages::repository> seed;
  const char* configured = std::getenv("SC_DEFAULT_REPOSITORY");
  std::string seed_url = configured != nullptr ? configured : "https://github.com/town-os/default-packages";
  if (!seed_url.empty()) {
    auto parsed = packages::parse_repository_url(seed_url);
    if (!parsed) return problem::internal_error("SC_DEFAULT_REPOSITORY: " + parsed.error().detail);
    seed = packages::repository{"default", parsed->url, parsed->username, parsed->password};
  }
  auto opened = store::repository_store::open(*database_, std::move(seed));
  if (!opened) return opened.error();
  repositories_ = std::move(*opened);
  catalog::options options;
  options.directory = std::filesystem::path(settings_.state_dir) / "repositories";
  options.interval = [this] {
    auto value = settings_store_->get("repository_refresh_interval");
    std::int64_t seconds = 300;
    if (value) std::from_chars(value->data(), value->data() + value->size(), seconds);
    return std::chrono::seconds(std::max<std::int64_t>(seconds, 60));
  };
  catalog_ = std::make_unique<catalog>(io_, *repositories_, *catalog_queue_, std::move(options));
  catalog_->start();
  return {};
}

result<void> app::open() {
  files_ = std::make_unique<file_io::file_ring>(io_.get_executor());
  storage_ = std::make_unique<server::storage_service>(settings_.btrfs_root, *archive_queue_);
  auto opened = store::database::open(settings_.database);
  if (!opened) return opened.error();
  database_ = std::move(*opened);
  auto loaded_settings = store::settings_store::open(*database_);
  if (!loaded_settings) return loaded_settings.error();
  settings_store_ = std::move(*loaded_settings);
  audit_ = std::make_unique<store::audit_store>(*database_);
  if (auto pruner = store::audit_pruner::open(settings_.database); pruner) {
    audit_pruner_ = std::move(*pruner);
  } else {
    log::warning("audit retention is off: " + pruner.error().internal);
  }
  identity::options identity_options;
  identity_options.hash_memory.total_kib = settings_.password_hash_memory / 1024;
  auto opened_identity = identity::open(*database_, io_, *hash_queue_, std::move(identity_options));
  if (!opened_identity) return opened_identity.error();
  identity_ = std::move(*opened_identity);
  // The hooks refer to the service, which lives as long as the app.
  auth_.validate_token = [this](std::string_view token) { return identity_->validate(token); };
  auth_.bootstrap_open = [this] { return identity_->bootstrap_open(); };
  char host_name[256] = {};
  if (::gethostname(host_name, sizeof host_name - 1) == 0) hostname_ = host_name;
  setting_changed("dns_tld");
  setting_changed("session_lifetime");
  setting_changed("password_hash_memory");
  if (auto opened_packages = open_packages(); !opened_packages) return opened_packages.error();
  log::info(std::string("event loop: sockets on Asio's ") +
#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
            "io_uring backend"
#else
            "epoll reactor"
#endif
            + "; file I/O: " + files_->backend_name() +
            (files_->fallback_reason().empty() ? "" : " (" + std::string(files_->fallback_reason()) + ")"));
  log::info("database " + settings_.database + " at schema version " + std::to_string(database_->schema_version()));
  // Without D-Bus the controller still serves (health, accounts, settings); /ready says what is down
  // and the supervision below keeps trying.
  connect_dbus();
  return {};
}

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

void app::request_stop() {
  if (stopping_) return;
  stopping_ = true;
  if (catalog_) catalog_->stop();
  sd_notify(0, "STOPPING=1");
  systemd_->stop_streams();
  log::info("stopping: no new connections; in-flight requests have " +
            std::to_string(settings_.shutdown_grace.count()) + " ms");
  if (listeners_) {
    for (auto& entry : listeners_->entries) {
      boost::system::error_code ignored;
      entry.acceptor.close(ignored);
    }
    listeners_->watchdog.cancel();
  }
  for (connection* c : connections_) {
    boost::system::error_code ignored;
    // An idle connection's pending read is cancelled, not its socket closed: if the read has
    // already completed (bytes taken from the kernel, coroutine not yet resumed), the request is
    // still served, with Connection: close. Bytes still in the kernel mean mid-request too.
    if (c->state == connection::phase::idle && c->stream->available(ignored) == 0) {
      c->stream->cancel(ignored);
    } else if (c->state == connection::phase::streaming && c->stop_stream) {
      c->stop_stream();
    }
  }
  if (!listeners_) return;
  connection_finished();
  if (stopped_) return;
  // After the grace period, whatever is still open is cancelled and closed hard.
  listeners_->shutdown_timer.expires_after(settings_.shutdown_grace);
  listeners_->shutdown_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) stop_hard();
  });
}

void app::stop_hard() {
  log::warning("stopping: grace period over, cancelling " + std::to_string(connections_.size()) + " connection(s)");
  // Cancelling runs the handlers' cancellation handlers now (children get their kill sequence) and
  // their coroutines later; copied first, since nothing may leave the list under the loop.
  std::vector<connection*> open(connections_.begin(), connections_.end());
  for (connection* c : open) c->cancel_handler(connection::cancel_reason::shutdown);
  for (connection* c : connections_) {
    boost::system::error_code ignored;
    c->stream->close(ignored);
  }
  // A cancelled child is killed with SIGKILL at once and reaped within milliseconds. Something
  // that ignores cancellation must still not keep the process: half a second later the loop stops,
  // and destroying the remaining coroutine frames kills and reaps their children synchronously
  // (adapters/process/spawn.hpp).
  listeners_->last_resort.expires_after(std::chrono::milliseconds(500));
  listeners_->last_resort.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    log::error("stopping: " + std::to_string(connections_.size()) +
               " connection(s) ignored cancellation; stopping the event loop");
    io_.stop();
  });
}

void app::connection_finished() {
  if (!stopping_ || stopped_ || !connections_.empty()) return;
  stopped_ = true;
  if (listeners_) {
    listeners_->shutdown_timer.cancel();
    listeners_->last_resort.cancel();
    listeners_->audit_prune.cancel();
    listeners_->watchdog.cancel();
    listeners_->deadline_sweep.cancel();
  }
  // Long-lived watchers keep the loop running; release them so io.run() returns.
  storage_.reset();
  dbus_link_->retry.cancel();
  systemd_->close();
  dbus_link_->lost.clear();
  bus_.reset();
  files_.reset();
  if (on_stopped_) on_stopped_();
}

std::vector<std::pair<std::string, std::string>> app::readiness() {
  std::vector<std::pair<std::string, std::string>> checks;
  if (!database_) {
    checks.emplace_back("database", "not open");
  } else if (auto ok = database_->check(); !ok) {
    checks.emplace_back("database", ok.error().detail);
  } else {
    checks.emplace_back("database", "");
  }
  if (!bus_) {
    checks.emplace_back("dbus", bus_error_.empty() ? "not connected" : bus_error_);
  } else if (!bus_->connected()) {
    checks.emplace_back("dbus", "connection to " + settings_.bus + " lost");
  } else {
    checks.emplace_back("dbus", "");
  }
  struct statfs info {};
  if (::statfs(settings_.btrfs_root.c_str(), &info) != 0) {
    checks.emplace_back("btrfs", settings_.btrfs_root + ": " + std::generic_category().message(errno));
  } else if (info.f_type != BTRFS_SUPER_MAGIC) {
    checks.emplace_back("btrfs", settings_.btrfs_root + " is not a btrfs filesystem");
  } else {
    checks.emplace_back("btrfs", "");
  }
  // The programs the daemon and its units execute (core/required_programs.txt): a request that
  // needs a missing one gets a 503 naming it (process::run_process).
  std::string missing;
  for (const required_program& required : required_programs()) {
    if (!required.used_by(program_user::daemon) || process::find_program(required.program)) continue;
    missing += missing.empty() ? "missing " : ", ";
    missing += std::string(required.program) + " (Debian package " + std::string(required.package) + ")";
  }
  checks.emplace_back("programs", missing);
  return checks;
}

void app::setting_changed(std::string_view key) {
  if (!settings_store_) return;
  if (key == "dns_tld") {
    auto tld = settings_store_->get("dns_tld");
    cors_hosts_ = cors::allowed_hosts(settings_.allowed_hosts, hostname_, tld.value_or(""));
  } else if (key == "session_lifetime" && identity_) {
    // Stored values passed settings::validate; a hand-edited database keeps the built-in default.
    std::int64_t seconds = 0;
    if (auto text = settings_store_->get("session_lifetime")) {
      auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
      if (ec == std::errc{} && end == text->data() + text->size() && seconds > 0) {
        identity_->set_absolute_lifetime(seconds);
      }
    }
  } else if (key == "password_hash_memory" && identity_) {
    // 0 (the default) hands the budget back to the --password-hash-memory flag.
    std::uint64_t bytes = 0;
    if (auto text = settings_store_->get("password_hash_memory")) {
      auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), bytes);
      if (ec != std::errc{} || end != text->data() + text->size()) bytes = 0;
    }
    identity_->hashing_budget().set_total_kib((bytes != 0 ? bytes : settings_.password_hash_memory) / 1024);
  }
}

http::response app::preflight(const http::request& request) const {
  // Answered before routing, authentication and audit (behavior-core.md §2.6): always 204, and the
  // CORS headers only for an allowed origin, so a foreign page learns nothing.
  http::response res{boost::beast::http::status::no_content, request.version()};
  res.set(boost::beast::http::field::vary, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  std::string_view origin = request[boost::beast::http::field::origin];
  if (!cors::origin_allowed(origin, request[boost::beast::http::field::host], cors_hosts_)) return res;
  res.set(boost::beast::http::field::access_control_allow_origin, origin);
  res.set(boost::beast::http::field::access_control_allow_credentials, "true");
  res.set(boost::beast::http::field::access_control_allow_methods, cors::allow_methods);
  res.set(boost::beast::http::field::access_control_allow_headers, cors::allow_headers);
  res.set(boost::beast::http::field::access_control_max_age, cors::max_age);
  if (request["Access-Control-Request-Private-Network"] == "true") {
    res.set("Access-Control-Allow-Private-Network", "true");
  }
  return res;
}

void app::add_cors_headers(const http::request& request, http::response& response) const {
  // Every response varies by Origin, allowed or not: caches must not serve one origin's answer to
  // another. A disallowed origin gets no CORS headers, but the request still ran (§12.12).
  if (auto vary = response.find(boost::beast::http::field::vary); vary == response.end()) {
    response.set(boost::beast::http::field::vary, "Origin");
  } else {
    response.set(boost::beast::http::field::vary, std::string(vary->value()) + ", Origin");
  }
  std::string_view origin = request[boost::beast::http::field::origin];
  if (origin.empty() || !cors::origin_allowed(origin, request[boost::beast::http::field::host], cors_hosts_)) return;
  response.set(boost::beast::http::field::access_control_allow_origin, origin);
  response.set(boost::beast::http::field::access_control_allow_credentials, "true");
  response.set(boost::beast::http::field::access_control_expose_headers, cors::expose_headers);
  if (request["Access-Control-Request-Private-Network"] == "true") {
    response.set("Access-Control-Allow-Private-Network", "true");
  }
}

void app::record_audit(const request_context& context, const http::response& response, std::string detail) {
  audit::entry e;
  if (context.caller) {
    e.account = context.caller->local_root && context.caller->username.empty() ? std::string(audit::local_root_account)
                                                                               : context.caller->username;
  }
  e.action = std::string(audit::action_for(context.path));
  e.path = std::string(context.path);
  e.detail = std::move(detail);
  e.success = context.response_written || response.result_int() == 200;
  if (!e.success) {
    // The problem's own detail (what the client saw), not the internal text.
    std::string message;
    boost::system::error_code ec;
    auto body = boost::json::parse(response.body(), ec);
    if (!ec && body.is_object()) {
      if (auto* d = body.as_object().if_contains("detail"); d != nullptr && d->is_string()) message = d->as_string();
    }
    if (message.empty()) message = std::string(response.reason());
    e.error = audit::format_error(static_cast<int>(response.result_int()), message);
  }
  // Failed anonymous logins are counted per address and window instead of a row each (§8).
  const bool failed_login = !e.success && !context.caller && context.path == "/account/authenticate";
  auto recorded = failed_login ? audit_->record_failed_login(e, context.peer.address, std::chrono::system_clock::now())
                               : audit_->record(e);
  // A failed audit write must not fail the request it describes: it is logged instead.
  if (!recorded) log::error(recorded.error().internal);
  if (audit_->inserted() >= audit_prune_threshold && listeners_) listeners_->audit_prune.cancel();
}

asio::awaitable<void> app::prune_audit_loop() {
  constexpr std::size_t batch = 500;  // a few ms of the write lock per statement
  auto setting = [this](std::string_view key, std::int64_t fallback) {
    std::int64_t value = fallback;
    if (auto text = settings_store_->get(key)) {
      auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
      if (ec != std::errc{} || end != text->data() + text->size() || value <= 0) value = fallback;
    }
    return value;
  };
  while (!stopping_) {
    (void)audit_->take_inserted();
    store::audit_retention retention{setting("audit_retention_days", 90), setting("audit_max_rows", 1'000'000)};
    std::size_t total = 0;
    for (;;) {
      auto job = [pruner = audit_pruner_, retention] {
        return pruner->prune_batch(retention, std::chrono::system_clock::now(), batch);
      };
      auto pruned = co_await maintenance_queue_->run(std::move(job));
      if (!pruned || !*pruned) {
        log::warning("audit retention: " + (!pruned ? pruned.error().detail : pruned->error().internal));
        break;
      }
      total += **pruned;
      if (**pruned < batch || stopping_) break;
    }
    if (total > 0) log::info("audit retention: pruned " + std::to_string(total) + " row(s)");
    if (stopping_) co_return;
    listeners_->audit_prune.expires_after(std::chrono::hours(1));
    (void)co_await listeners_->audit_prune.async_wait(io_result);
  }
}

std::string app::request_urn(std::uint64_t id) const {
  return "urn:request:" + boot_id_.substr(0, 8) + "-" + std::to_string(id);
}

void app::log_server_error(const request_context& context, http::response& response) const {
  std::string urn = request_urn(context.id);
  std::string internal;
  if (auto field = response.find(http::internal_detail_field); field != response.end()) {
    internal = std::string(field->value());
    response.erase(field);
  }
  // The body is a problem we rendered ("{...}\n"): the id goes in as its `instance` member.
  std::string& body = response.body();
  if (response[boost::beast::http::field::content_type] == "application/problem+json") {
    if (auto close = body.rfind('}'); close != std::string::npos && body.find("\"instance\"") == std::string::npos) {
      body.insert(close, ",\"instance\":\"" + urn + "\"");
      response.prepare_payload();
    }
  }
  std::string line = urn + " " + std::string(context.request.method_string()) + " " + std::string(context.path) +
                     " answered " + std::to_string(response.result_int());
  if (!internal.empty()) line += ": " + internal;
  log::error(line);
}

asio::awaitable<http::response> app::dispatch(request_context& context) {
  if (context.request.method() == http::verb::options) co_return preflight(context.request);
  // The detail is taken before the handler runs: handlers may consume the body.
  const bool audited = audit_ && audit::is_audited(context.request.method_string(), context.path);
  std::string detail;
  if (audited) detail = audit::redact_detail(context.request.body());
  http::response response = co_await route_request(context);
  if (response.result_int() >= 500) log_server_error(context, response);
  add_cors_headers(context.request, response);
  if (audited && context.route_index != static_cast<std::size_t>(-1))
    record_audit(context, response, std::move(detail));
  co_return response;
}

asio::awaitable<http::response> app::route_request(request_context& context) {
  const unsigned version = context.request.version();
  router::match found = router_.find(context.request.method(), context.path);
  if (found.found == nullptr) {
    if (found.status == 405) {
      http::response res = http::problem_response(problem::method_not_allowed(), version);
      res.set(boost::beast::http::field::allow, found.allow);
      co_return res;
    }
    co_return http::problem_response(problem::not_found("Not Found"), version);
  }
  context.route_index = found.index;
  const route& r = *found.found;

  // Who is calling: the local root peer needs no token; otherwise a Bearer token (exact prefix).
  bool local = context.peer.local_root() || (settings_.trust_loopback && context.peer.loopback);
  bool had_token = false;
  std::string_view authorization = context.request[boost::beast::http::field::authorization];
  if (authorization.starts_with("Bearer ")) {
    had_token = true;
    context.caller = auth_.validate_token(authorization.substr(7));
  }
  if (!context.caller && local) context.caller = principal{"", "", true, true, {}};
  // Grant-holding accounts are fenced in before any auth level is considered (fail closed).
  if (context.caller && !context.caller->grants.empty() &&
      !accounts::restricted_route_allowed(boost::beast::http::to_string(r.method), r.path, context.caller->grants)) {
    co_return http::problem_response(
        problem::forbidden("this account may only use network enrollment and object storage endpoints"), version);
  }

  auto unauthenticated = [&] {
    return http::problem_response(problem::unauthorized(had_token ? "invalid session" : "missing authorization token"),
                                  version);
  };
  switch (r.auth) {
    case auth_level::public_access:
      break;
    case auth_level::local_only:
      if (!local)
        co_return http::problem_response(problem::forbidden("only available to root on the local socket"), version);
      break;
    case auth_level::authenticated:
      if (!context.caller) co_return unauthenticated();
      break;
    case auth_level::admin:
      if (!context.caller) co_return unauthenticated();
      if (!context.caller->admin)
        co_return http::problem_response(problem::forbidden("admin access required"), version);
      break;
    case auth_level::bootstrap_or_admin:
      if (auth_.bootstrap_open()) break;
      if (!context.caller) co_return unauthenticated();
      if (!context.caller->admin)
        co_return http::problem_response(problem::forbidden("admin access required"), version);
      break;
  }

  // The handler runs under its route's deadline (capped by --max-handler-deadline) with the
  // connection's cancellation slot (server/connection.hpp); the sweep or shutdown cancels it.
  auto deadline = r.deadline;
  if (settings_.max_handler_deadline.count() > 0 &&
      (deadline == no_handler_deadline || deadline > settings_.max_handler_deadline)) {
    deadline = settings_.max_handler_deadline;
  }
  connection* owner = context.owner;
  if (owner != nullptr) {
    owner->cancelled = connection::cancel_reason::none;
    owner->handler_deadline =
        deadline == no_handler_deadline ? connection::clock::time_point::max() : connection::clock::now() + deadline;
    owner->in_handler = true;
  }
  std::optional<http::response> answered;
  std::optional<problem> failure;
  try {
    answered = co_await r.fn(context);
  } catch (const problem_exception& e) {
    failure = e.problem_;
  } catch (const std::exception& e) {
    failure = problem::internal_error(std::string(r.path) + ": " + e.what());
  }
  auto cancelled = connection::cancel_reason::none;
  if (owner != nullptr) {
    owner->in_handler = false;
    owner->handler_deadline = connection::clock::time_point::max();
    cancelled = owner->cancelled;
    owner->cancelled = connection::cancel_reason::none;
  }
  if (cancelled != connection::cancel_reason::none) {
    // The slot stays cancelled until reset; the response must still be written.
    co_await asio::this_coro::reset_cancellation_state();
    // Whatever the cancelled handler answered (a 503 from an interrupted child, an exception from
    // its next await), the client learns why it ended. Work it finished before stays done.
    if (cancelled == connection::cancel_reason::deadline) {
      failure = problem::gateway_timeout("the request did not finish within " + std::to_string(deadline.count()) +
                                         " ms and was cancelled");
      failure->internal =
          std::string(r.path) + ": handler deadline of " + std::to_string(deadline.count()) + " ms passed; cancelled";
    } else {
      failure = problem::unavailable("the server is stopping; the request was cancelled");
      failure->internal = std::string(r.path) + ": cancelled by shutdown";
    }
  } else if (answered) {
    answered->version(version);
    co_return std::move(*answered);
  }
  co_return http::problem_response(*failure, version);
}

}  // namespace sc::server
