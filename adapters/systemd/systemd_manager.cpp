#include "adapters/systemd/systemd_manager.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <deque>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "adapters/asio/completion.hpp"
#include "adapters/systemd/bus.hpp"
#include "core/names.hpp"

namespace sc::systemd {

namespace asio = boost::asio;

namespace {

constexpr const char* manager_path = "/org/freedesktop/systemd1";
constexpr const char* manager_interface = "org.freedesktop.systemd1.Manager";
constexpr const char* properties_interface = "org.freedesktop.DBus.Properties";
constexpr const char* peer_interface = "org.freedesktop.DBus.Peer";

// sd-bus fails a call with NoReply at its own timeout; our timer waits a little longer so that the
// normal path is sd-bus's error, and the timer only catches a reply callback that never runs.
constexpr std::chrono::seconds completion_grace{2};

// JobRemoved signals for jobs nobody awaits (yet): kept so that a signal processed before its
// waiter registered is not lost. Other clients' jobs pass through here too, hence the cap.
constexpr std::size_t finished_jobs_kept = 256;

// Unit object proxies for property reads; idle ones are dropped beyond this many.
constexpr std::size_t unit_proxies_kept = 64;

constexpr std::size_t max_names_per_call = 1024;

// a(ssssssouso)
using raw_unit = sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::string,
                               sdbus::ObjectPath, std::uint32_t, std::string, sdbus::ObjectPath>;
// a(sss)
using raw_change = sdbus::Struct<std::string, std::string, std::string>;

// One awaited D-Bus operation. The sdbus callback fills it and cancels `wake_`; the awaiting
// coroutine sleeps on `wake_` (expiry = deadline) and so always resumes from the loop, never
// inside processPendingRequest(). Shared by the callback (copyable std::function) and the
// coroutine frame.
struct waiter {
  explicit waiter(asio::io_context& io) : wake_(io) {}
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;
  virtual ~waiter() = default;

  void fail(problem p) {
    if (done_) return;
    failure_ = std::move(p);
    finish();
  }
  void finish() {
    done_ = true;
    wake_.cancel();
  }

  asio::steady_timer wake_;
  bool done_ = false;
  std::optional<problem> failure_;
  sdbus::PendingAsyncCall pending_;
};

template <class T>
struct reply_waiter : waiter {
  using waiter::waiter;
  void succeed(T v) {
    if (done_) return;
    value_ = std::move(v);
    finish();
  }
  std::optional<T> value_;
};

struct job_waiter : waiter {
  using waiter::waiter;
  std::string job_path_;
  std::string job_result_;
};

bool contains_ci(std::string_view text, std::string_view word) {
  return std::search(text.begin(), text.end(), word.begin(), word.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         }) != text.end();
}

// `subject` names what the call was about ("unit x.service") for the client-facing detail.
problem from_dbus_error(const sdbus::Error& e, std::string_view subject) {
  const std::string& name = e.getName();
  problem p;
  if (name == "org.freedesktop.systemd1.NoSuchUnit" || name == "org.freedesktop.DBus.Error.FileNotFound") {
    p = problem::not_found(std::string(subject) + " not found");
  } else if (name == "org.freedesktop.systemd1.UnitMasked") {
    p = problem::conflict(std::string(subject) + " is masked");
  } else if ((name == "org.freedesktop.DBus.Error.NoReply" && contains_ci(e.getMessage(), "terminated")) ||
             name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
             name == "org.freedesktop.DBus.Error.NameHasNoOwner" || name == "org.freedesktop.DBus.Error.Disconnected" ||
             name == "org.sdbus-cpp.Error") {
    p = problem::unavailable("systemd is not reachable");
  } else if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout" ||
             name == "org.freedesktop.DBus.Error.TimedOut") {
    p = problem::gateway_timeout("systemd did not answer in time");
  } else {
    p = problem::internal_error({});
  }
  p.internal = name + ": " + e.getMessage();
  return p;
}

unit_status to_unit_status(raw_unit& raw) {
  unit_status u;
  u.name = std::move(std::get<0>(raw));
  u.description = std::move(std::get<1>(raw));
  u.load_state = std::move(std::get<2>(raw));
  u.active_state = std::move(std::get<3>(raw));
  u.sub_state = std::move(std::get<4>(raw));
  u.following = std::move(std::get<5>(raw));
  u.object_path = std::move(std::get<6>(raw));
  u.job_id = std::get<7>(raw);
  u.job_type = std::move(std::get<8>(raw));
  u.job_path = std::move(std::get<9>(raw));
  return u;
}

std::vector<unit_status> to_unit_statuses(std::vector<raw_unit>& raw) {
  std::vector<unit_status> out;
  out.reserve(raw.size());
  for (auto& r : raw) out.push_back(to_unit_status(r));
  return out;
}

std::vector<unit_file_change> to_changes(std::vector<raw_change>& raw) {
  std::vector<unit_file_change> out;
  out.reserve(raw.size());
  for (auto& r : raw) {
    out.push_back({std::move(std::get<0>(r)), std::move(std::get<1>(r)), std::move(std::get<2>(r))});
  }
  return out;
}

template <class T>
std::string decimal(const sdbus::Variant& v) {
  return std::to_string(v.get<T>());
}

result<std::string> render_variant(const sdbus::Variant& v) {
  try {
    std::string type = v.peekValueType();
    if (type == "s") return v.get<std::string>();
    if (type == "o") return std::string(v.get<sdbus::ObjectPath>());
    if (type == "b") return std::string(v.get<bool>() ? "yes" : "no");
    if (type == "y") return std::to_string(static_cast<unsigned>(v.get<std::uint8_t>()));
    if (type == "n") return decimal<std::int16_t>(v);
    if (type == "q") return decimal<std::uint16_t>(v);
    if (type == "i") return decimal<std::int32_t>(v);
    if (type == "u") return decimal<std::uint32_t>(v);
    if (type == "x") return decimal<std::int64_t>(v);
    if (type == "t") return decimal<std::uint64_t>(v);
    if (type == "d") return decimal<double>(v);
    if (type == "as") {
      std::string joined;
      for (const auto& item : v.get<std::vector<std::string>>()) {
        if (!joined.empty()) joined += ' ';
        joined += item;
      }
      return joined;
    }
    return problem::internal_error("unit property has unsupported D-Bus type " + type);
  } catch (const sdbus::Error& e) {
    return from_dbus_error(e, "property");
  }
}

bool valid_job_mode(std::string_view mode) {
  static constexpr std::array<std::string_view, 6> modes = {
      "replace", "fail", "isolate", "ignore-dependencies", "ignore-requirements", "replace-irreversibly"};
  return std::find(modes.begin(), modes.end(), mode) != modes.end();
}

result<void> validate_unit_names(const std::vector<std::string>& names) {
  if (names.empty()) return problem::unprocessable("names", "at least one unit name is required");
  if (names.size() > max_names_per_call) return problem::unprocessable("names", "too many unit names");
  for (const auto& n : names) {
    if (auto ok = validate_unit_name(n); !ok) return ok.error();
  }
  return {};
}

// Globs and state names go to systemd as data, never into a path or argv; bound them anyway.
result<void> validate_filters(const std::vector<std::string>& values, const char* field) {
  if (values.size() > max_names_per_call) return problem::unprocessable(field, "too many values");
  for (const auto& v : values) {
    if (v.empty() || v.size() > 255 || has_control_characters(v)) {
      return problem::unprocessable(field, "values must be 1 to 255 printable bytes");
    }
  }
  return {};
}

}  // namespace

struct systemd_manager::state {
  state(bus_connection& bus, manager_options options) : bus_(bus), options_(std::move(options)) {}

  asio::io_context& io() { return bus_.context(); }

  std::chrono::steady_clock::duration call_limit() const { return options_.call_timeout + completion_grace; }

  // Runs inside processPendingRequest(): only record and wake, never resume anything inline.
  void on_job_removed(std::string job_path, std::string job_result) {
    if (auto it = jobs_.find(job_path); it != jobs_.end()) {
      auto w = std::move(it->second);
      jobs_.erase(it);
      w->job_result_ = std::move(job_result);
      w->finish();
      return;
    }
    finished_jobs_.emplace_back(std::move(job_path), std::move(job_result));
    if (finished_jobs_.size() > finished_jobs_kept) finished_jobs_.pop_front();
  }

  // The reply to StartUnit & co. Registering the waiter here, before sd-bus processes the next
  // message, means a JobRemoved right behind the reply finds it.
  void on_job_queued(const std::shared_ptr<job_waiter>& w, const sdbus::Error* e, std::string job_path,
                     const std::string& unit) {
    if (w->done_) return;
    if (e != nullptr) {
      w->fail(from_dbus_error(*e, "unit " + unit));
      return;
    }
    w->job_path_ = job_path;
    auto it = std::find_if(finished_jobs_.begin(), finished_jobs_.end(),
                           [&](const auto& entry) { return entry.first == job_path; });
    if (it != finished_jobs_.end()) {
      w->job_result_ = std::move(it->second);
      finished_jobs_.erase(it);
      w->finish();
      return;
    }
    jobs_[std::move(job_path)] = w;
  }

  // The bus died: replies were failed by sd-bus, but jobs already queued will never see their
  // JobRemoved. Fail everything still waiting rather than let it run into job_timeout.
  void on_bus_lost() {
    for (const auto& w : in_flight_) w->fail(problem::unavailable("systemd is not reachable (D-Bus disconnected)"));
    jobs_.clear();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    // Proxies first: their pending reply callbacks and signal handlers are dropped (and so never
    // run against a dying state); the waiters they would have woken are failed below instead.
    unit_proxies_.clear();
    proxy_.reset();
    for (const auto& w : in_flight_) w->fail(problem::unavailable("the systemd manager was closed"));
    jobs_.clear();
    bus_.kick();  // RemoveMatch messages were queued by the proxy's destruction
  }

  bus_connection& bus_;
  manager_options options_;
  std::unique_ptr<sdbus::IProxy> proxy_;
  struct unit_proxy {
    std::unique_ptr<sdbus::IProxy> proxy;
    int in_flight = 0;
  };
  std::unordered_map<std::string, unit_proxy> unit_proxies_;
  std::unordered_set<std::shared_ptr<waiter>> in_flight_;
  std::unordered_map<std::string, std::shared_ptr<job_waiter>> jobs_;
  std::deque<std::pair<std::string, std::string>> finished_jobs_;
  bool closed_ = false;
};

namespace {

using state_ptr = std::shared_ptr<systemd_manager::state>;

// Sends a call through `send` (which returns the PendingAsyncCall) and tracks the waiter.
template <class Send>
result<void> issue(systemd_manager::state& s, const std::shared_ptr<waiter>& w, Send&& send) {
  if (s.closed_ || !s.proxy_) return problem::unavailable("the systemd manager was closed");
  if (!s.bus_.connected()) return problem::unavailable("systemd is not reachable (D-Bus disconnected)");
  try {
    w->pending_ = send();
  } catch (const sdbus::Error& e) {
    s.bus_.kick();
    return from_dbus_error(e, "call");
  }
  s.in_flight_.insert(w);
  // sd-bus armed a reply timeout that the fd will never signal: re-read the poll data now.
  s.bus_.kick();
  return {};
}

// Waits until the waiter is done, its deadline passes, or the awaiting coroutine is cancelled.
std::atomic<std::uint64_t> waited_nanoseconds{0};

// Adds the time from its construction to its destruction to waited_nanoseconds.
struct wait_clock {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  wait_clock() = default;
  wait_clock(const wait_clock&) = delete;
  wait_clock& operator=(const wait_clock&) = delete;
  ~wait_clock() {
    waited_nanoseconds.fetch_add(
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count()),
        std::memory_order_relaxed);
  }
};

asio::awaitable<result<void>> await_done(state_ptr s, std::shared_ptr<waiter> w,
                                         std::chrono::steady_clock::duration limit, std::string what) {
  wait_clock clock;
  w->wake_.expires_after(limit);
  while (!w->done_) {
    // Checked before every wait: once cancelled, Asio would throw from the next initiation, and the
    // abandoned call must be dropped (its callback holds the waiter, not this frame).
    auto cancel_state = co_await asio::this_coro::cancellation_state;
    if (cancel_state.cancelled() != asio::cancellation_type::none) {
      w->pending_.cancel();
      w->fail(problem::unavailable(what + " was cancelled"));
      break;
    }
    auto [ec] = co_await w->wake_.async_wait(io_result);
    if (w->done_) break;
    if (!ec) {
      w->pending_.cancel();
      w->fail(problem::gateway_timeout(what + " did not complete in time"));
      break;
    }
  }
  s->in_flight_.erase(w);
  if (w->failure_) co_return *w->failure_;
  co_return result<void>{};
}

asio::awaitable<result<void>> call_no_reply_values(state_ptr s, std::string interface, std::string method) {
  auto w = std::make_shared<reply_waiter<bool>>(s->io());
  auto issued = issue(*s, w, [&] {
    return s->proxy_->callMethodAsync(method)
        .onInterface(interface)
        .withTimeout(s->options_.call_timeout)
        .uponReplyInvoke([w, method](const sdbus::Error* e) {
          if (e != nullptr) {
            w->fail(from_dbus_error(*e, method));
          } else {
            w->succeed(true);
          }
        });
  });
  if (!issued) co_return issued.error();
  co_return co_await await_done(s, w, s->call_limit(), method);
}

asio::awaitable<result<void>> call_reset_failed(state_ptr s, std::string name) {
  if (auto ok = validate_unit_name(name); !ok) co_return ok.error();
  auto w = std::make_shared<reply_waiter<bool>>(s->io());
  auto issued = issue(*s, w, [&] {
    return s->proxy_->callMethodAsync("ResetFailedUnit")
        .onInterface(manager_interface)
        .withTimeout(s->options_.call_timeout)
        .withArguments(name)
        .uponReplyInvoke([w, name](const sdbus::Error* e) {
          if (e != nullptr) {
            w->fail(from_dbus_error(*e, "unit " + name));
          } else {
            w->succeed(true);
          }
        });
  });
  if (!issued) co_return issued.error();
  co_return co_await await_done(s, w, s->call_limit(), "ResetFailedUnit");
}

asio::awaitable<result<std::vector<unit_status>>> call_list(state_ptr s, std::string method,
                                                            std::vector<std::string> states,
                                                            std::vector<std::string> patterns) {
  if (auto ok = validate_filters(states, "states"); !ok) co_return ok.error();
  if (auto ok = validate_filters(patterns, "patterns"); !ok) co_return ok.error();
  auto w = std::make_shared<reply_waiter<std::vector<unit_status>>>(s->io());
  auto on_reply = [w, method](const sdbus::Error* e, std::vector<raw_unit> raw) {
    if (e != nullptr) {
      w->fail(from_dbus_error(*e, method));
    } else {
      w->succeed(to_unit_statuses(raw));
    }
  };
  auto issued = issue(*s, w, [&] {
    auto invoker = s->proxy_->callMethodAsync(method);
    invoker.onInterface(manager_interface).withTimeout(s->options_.call_timeout);
    if (method == "ListUnitsByPatterns") invoker.withArguments(states, patterns);
    return invoker.uponReplyInvoke(on_reply);
  });
  if (!issued) co_return issued.error();
  auto done = co_await await_done(s, w, s->call_limit(), method);
  if (!done) co_return done.error();
  co_return std::move(*w->value_);
}

asio::awaitable<result<std::vector<unit_file_state>>> call_list_unit_files(state_ptr s, std::vector<std::string> states,
                                                                           std::vector<std::string> patterns) {
  if (auto ok = validate_filters(states, "states"); !ok) co_return ok.error();
  if (auto ok = validate_filters(patterns, "patterns"); !ok) co_return ok.error();
  auto w = std::make_shared<reply_waiter<std::vector<unit_file_state>>>(s->io());
  auto on_reply = [w](const sdbus::Error* e, std::vector<sdbus::Struct<std::string, std::string>> raw) {
    if (e != nullptr) {
      w->fail(from_dbus_error(*e, "ListUnitFilesByPatterns"));
      return;
    }
    std::vector<unit_file_state> files;
    files.reserve(raw.size());
    for (auto& entry : raw) {
      // The manager reports each file by its path; units are named by its last component.
      std::string path = std::move(entry.get<0>());
      auto slash = path.rfind('/');
      files.push_back({slash == std::string::npos ? path : path.substr(slash + 1), std::move(entry.get<1>())});
    }
    w->succeed(std::move(files));
  };
  auto issued = issue(*s, w, [&] {
    return s->proxy_->callMethodAsync("ListUnitFilesByPatterns")
        .onInterface(manager_interface)
        .withTimeout(s->options_.call_timeout)
        .withArguments(states, patterns)
        .uponReplyInvoke(on_reply);
  });
  if (!issued) co_return issued.error();
  auto done = co_await await_done(s, w, s->call_limit(), "ListUnitFilesByPatterns");
  if (!done) co_return done.error();
  co_return std::move(*w->value_);
}

asio::awaitable<result<void>> no_subscription() {
  co_return result<void>{};
}

asio::awaitable<result<std::string>> run_job(state_ptr s, std::string method, std::string name, std::string mode) {
  if (auto ok = validate_unit_name(name); !ok) co_return ok.error();
  if (!valid_job_mode(mode)) co_return problem::unprocessable("mode", "unknown job mode");
  auto w = std::make_shared<job_waiter>(s->io());
  systemd_manager::state* raw_state = s.get();  // the proxy holding this callback dies first (close())
  auto issued = issue(*s, w, [&] {
    return s->proxy_->callMethodAsync(method)
        .onInterface(manager_interface)
        .withTimeout(s->options_.call_timeout)
        .withArguments(name, mode)
        .uponReplyInvoke([raw_state, w, name](const sdbus::Error* e, sdbus::ObjectPath job) {
          raw_state->on_job_queued(w, e, std::move(job), name);
        });
  });
  if (!issued) co_return issued.error();
  auto limit = std::max<std::chrono::steady_clock::duration>(s->options_.job_timeout, s->call_limit());
  auto done = co_await await_done(s, w, limit, method + " " + name);
  if (!w->job_path_.empty()) {
    // Timed out or cancelled after the job was queued: stop listening for it.
    if (auto it = s->jobs_.find(w->job_path_); it != s->jobs_.end() && it->second == w) s->jobs_.erase(it);
  }
  if (!done) co_return done.error();
  co_return w->job_result_;
}

asio::awaitable<result<std::string>> call_get_unit(state_ptr s, std::string name) {
  auto w = std::make_shared<reply_waiter<std::string>>(s->io());
  auto issued = issue(*s, w, [&] {
    return s->proxy_->callMethodAsync("GetUnit")
        .onInterface(manager_interface)
        .withTimeout(s->options_.call_timeout)
        .withArguments(name)
        .uponReplyInvoke([w, name](const sdbus::Error* e, sdbus::ObjectPath path) {
          if (e != nullptr) {
            w->fail(from_dbus_error(*e, "unit " + name));
          } else {
            w->succeed(std::move(path));
          }
        });
  });
  if (!issued) co_return issued.error();
  auto done = co_await await_done(s, w, s->call_limit(), "GetUnit");
  if (!done) co_return done.error();
  co_return std::move(*w->value_);
}

result<sdbus::IProxy*> unit_proxy_for(systemd_manager::state& s, const std::string& path) {
  if (auto it = s.unit_proxies_.find(path); it != s.unit_proxies_.end()) return it->second.proxy.get();
  if (s.unit_proxies_.size() >= unit_proxies_kept) {
    // Only idle proxies may go: destroying one with a call in flight would drop its callback.
    std::erase_if(s.unit_proxies_, [](const auto& entry) { return entry.second.in_flight == 0; });
  }
  try {
    auto proxy = sdbus::createProxy(s.bus_.sdbus(), s.options_.destination, path);
    auto* raw = proxy.get();
    s.unit_proxies_[path].proxy = std::move(proxy);
    return raw;
  } catch (const sdbus::Error& e) {
    return from_dbus_error(e, "unit");
  }
}

asio::awaitable<result<std::string>> read_unit_property(state_ptr s, std::string name, std::string property,
                                                        std::string interface) {
  if (auto ok = validate_unit_name(name); !ok) co_return ok.error();
  if (property.empty() || property.size() > 255 || has_control_characters(property)) {
    co_return problem::unprocessable("property", "invalid property name");
  }
  if (interface.empty() || interface.size() > 255 || has_control_characters(interface)) {
    co_return problem::unprocessable("interface", "invalid interface name");
  }
  auto path = co_await call_get_unit(s, name);
  if (!path) co_return path.error();
  if (s->closed_) co_return problem::unavailable("the systemd manager was closed");
  auto proxy = unit_proxy_for(*s, *path);
  if (!proxy) co_return proxy.error();
  auto w = std::make_shared<reply_waiter<std::string>>(s->io());
  auto issued = issue(*s, w, [&] {
    return (*proxy)
        ->callMethodAsync("Get")
        .onInterface(properties_interface)
        .withTimeout(s->options_.call_timeout)
        .withArguments(interface, property)
        .uponReplyInvoke([w, property](const sdbus::Error* e, const sdbus::Variant& value) {
          if (e != nullptr) {
            w->fail(from_dbus_error(*e, "property " + property));
            return;
          }
          auto rendered = render_variant(value);
          if (rendered) {
            w->succeed(std::move(*rendered));
          } else {
            w->fail(rendered.error());
          }
        });
  });
  if (!issued) co_return issued.error();
  ++s->unit_proxies_[*path].in_flight;
  auto done = co_await await_done(s, w, s->call_limit(), "Get " + property);
  if (auto it = s->unit_proxies_.find(*path); it != s->unit_proxies_.end()) --it->second.in_flight;
  if (!done) co_return done.error();
  co_return std::move(*w->value_);
}

asio::awaitable<result<enable_result>> call_enable(state_ptr s, std::vector<std::string> names, bool runtime,
                                                   bool force) {
  if (auto ok = validate_unit_names(names); !ok) co_return ok.error();
  auto w = std::make_shared<reply_waiter<enable_result>>(s->io());
  auto issued = issue(*s, w, [&] {
    return s->proxy_->callMethodAsync("EnableUnitFiles")
        .onInterface(manager_interface)
        .withTimeout(s->options_.call_timeout)
        .withArguments(names, runtime, force)
        .uponReplyInvoke([w](const sdbus::Error* e, bool carries_install_info, std::vector<raw_change> raw) {
          if (e != nullptr) {
            w->fail(from_dbus_error(*e, "unit file"));
          } else {
            w->succeed(enable_result{carries_install_info, to_changes(raw)});
          }
        });
  });
  if (!issued) co_return issued.error();
  auto done = co_await await_done(s, w, s->call_limit(), "EnableUnitFiles");
  if (!done) co_return done.error();
  co_return std::move(*w->value_);
}

asio::awaitable<result<std::vector<unit_file_change>>> call_disable(state_ptr s, std::vector<std::string> names,
                                                                    bool runtime) {
  if (auto ok = validate_unit_names(names); !ok) co_return ok.error();
  auto w = std::make_shared<reply_waiter<std::vector<unit_file_change>>>(s->io());
  auto issued = issue(*s, w, [&] {
    return s->proxy_->callMethodAsync("DisableUnitFiles")
        .onInterface(manager_interface)
        .withTimeout(s->options_.call_timeout)
        .withArguments(names, runtime)
        .uponReplyInvoke([w](const sdbus::Error* e, std::vector<raw_change> raw) {
          if (e != nullptr) {
            w->fail(from_dbus_error(*e, "unit file"));
          } else {
            w->succeed(to_changes(raw));
          }
        });
  });
  if (!issued) co_return issued.error();
  auto done = co_await await_done(s, w, s->call_limit(), "DisableUnitFiles");
  if (!done) co_return done.error();
  co_return std::move(*w->value_);
}

}  // namespace

asio::awaitable<result<std::unique_ptr<systemd_manager>>> systemd_manager::open(bus_connection& bus) {
  // A plain function, not a coroutine: the options are moved into the coroutine frame it returns.
  return open(bus, manager_options{});
}

asio::awaitable<result<std::unique_ptr<systemd_manager>>> systemd_manager::open(bus_connection& bus,
                                                                                manager_options options) {
  auto created = create(bus, std::move(options));
  if (!created) co_return created.error();
  auto manager = std::move(*created);
  if (auto subscribed = co_await manager->subscribe(); !subscribed) co_return subscribed.error();
  co_return manager;
}

result<std::unique_ptr<systemd_manager>> systemd_manager::create(bus_connection& bus, manager_options options) {
  auto s = std::make_shared<state>(bus, std::move(options));
  try {
    s->proxy_ = sdbus::createProxy(bus.sdbus(), s->options_.destination, manager_path);
    state* raw_state = s.get();  // the proxy, and so this handler, is destroyed before the state
    s->proxy_->uponSignal("JobRemoved")
        .onInterface(manager_interface)
        .call(
            [raw_state](std::uint32_t /*id*/, sdbus::ObjectPath job, const std::string& /*unit*/,
                        std::string job_result) { raw_state->on_job_removed(std::move(job), std::move(job_result)); });
    s->proxy_->finishRegistration();  // synchronous AddMatch: startup only
  } catch (const sdbus::Error& e) {
    s->proxy_.reset();
    bus.kick();
    return from_dbus_error(e, "systemd manager");
  }
  bus.kick();
  bus.on_disconnect([weak = std::weak_ptr<state>(s)] {
    if (auto locked = weak.lock()) locked->on_bus_lost();
  });
  return std::make_unique<systemd_manager>(s);
}

asio::awaitable<result<void>> systemd_manager::subscribe() {
  if (!state_->options_.subscribe) return no_subscription();
  return call_no_reply_values(state_, manager_interface, "Subscribe");
}

asio::awaitable<result<std::vector<unit_file_state>>> systemd_manager::list_unit_files_by_patterns(
    std::vector<std::string> states, std::vector<std::string> patterns) {
  return call_list_unit_files(state_, std::move(states), std::move(patterns));
}

systemd_manager::systemd_manager(std::shared_ptr<state> s) : state_(std::move(s)) {}

systemd_manager::~systemd_manager() {
  state_->close();
}

asio::awaitable<result<std::vector<unit_status>>> systemd_manager::list_units() {
  return call_list(state_, "ListUnits", {}, {});
}

asio::awaitable<result<std::vector<unit_status>>> systemd_manager::list_units_by_patterns(
    std::vector<std::string> states, std::vector<std::string> patterns) {
  return call_list(state_, "ListUnitsByPatterns", std::move(states), std::move(patterns));
}

asio::awaitable<result<std::string>> systemd_manager::start_unit(std::string name, std::string mode) {
  return run_job(state_, "StartUnit", std::move(name), std::move(mode));
}

asio::awaitable<result<std::string>> systemd_manager::stop_unit(std::string name, std::string mode) {
  return run_job(state_, "StopUnit", std::move(name), std::move(mode));
}

asio::awaitable<result<std::string>> systemd_manager::restart_unit(std::string name, std::string mode) {
  return run_job(state_, "RestartUnit", std::move(name), std::move(mode));
}

asio::awaitable<result<enable_result>> systemd_manager::enable_unit_files(std::vector<std::string> names, bool runtime,
                                                                          bool force) {
  return call_enable(state_, std::move(names), runtime, force);
}

asio::awaitable<result<std::vector<unit_file_change>>> systemd_manager::disable_unit_files(
    std::vector<std::string> names, bool runtime) {
  return call_disable(state_, std::move(names), runtime);
}

asio::awaitable<result<void>> systemd_manager::reload() {
  return call_no_reply_values(state_, manager_interface, "Reload");
}

asio::awaitable<result<void>> systemd_manager::reset_failed_unit(std::string name) {
  return call_reset_failed(state_, std::move(name));
}

asio::awaitable<result<std::string>> systemd_manager::get_unit_property(std::string name, std::string property,
                                                                        std::string interface) {
  return read_unit_property(state_, std::move(name), std::move(property), std::move(interface));
}

asio::awaitable<result<void>> systemd_manager::ping() {
  return call_no_reply_values(state_, peer_interface, "Ping");
}

std::uint64_t manager_wait_nanoseconds() noexcept {
  return waited_nanoseconds.load(std::memory_order_relaxed);
}

bool systemd_manager::connected() const noexcept {
  return !state_->closed_ && state_->bus_.connected();
}

}  // namespace sc::systemd
