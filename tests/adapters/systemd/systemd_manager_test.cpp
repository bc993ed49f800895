// systemd_manager and bus_connection against the sandbox's real systemd --user manager.

#include "adapters/systemd/systemd_manager.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/asio/completion.hpp"
#include "adapters/systemd/bus.hpp"
#include "tests/support/loop.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/test_units.hpp"

namespace sc::systemd {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sc::test::run_to_completion;
using sc::test::sandbox_env;

class systemd_manager_test : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = sandbox_env("SC_BUS_ADDRESS");
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    ASSERT_FALSE(address_.empty());
    ASSERT_FALSE(unit_dir_.empty());
    auto bus = connect_bus(io_, address_);
    ASSERT_TRUE(bus.has_value()) << bus.error().internal;
    bus_ = std::move(*bus);
    auto manager = run(systemd_manager::open(*bus_));
    ASSERT_TRUE(manager.has_value()) << manager.error().internal;
    manager_ = std::move(*manager);
  }

  void TearDown() override {
    if (manager_) {
      for (const auto& unit : units_) {
        (void)run(manager_->stop_unit(unit->name()));
        (void)run(manager_->reset_failed_unit(unit->name()));
      }
    }
    bool had_units = !units_.empty();
    units_.clear();  // removes the files
    if (manager_ && had_units) (void)run(manager_->reload());
    manager_.reset();
    bus_.reset();
  }

  // Writes a unit file and reloads the manager; returns the unit name.
  std::string add_unit(std::string_view tag, const std::string& content) {
    auto name = sc::test::unique_unit_name(tag);
    units_.push_back(std::make_unique<sc::test::test_unit_file>(unit_dir_, name, content));
    auto reloaded = run(manager_->reload());
    EXPECT_TRUE(reloaded.has_value()) << reloaded.error().internal;
    return name;
  }

  template <class T>
  T run(asio::awaitable<T> coroutine) {
    return run_to_completion(io_, std::move(coroutine), 60s);
  }

  asio::io_context io_;
  std::string address_;
  std::string unit_dir_;
  std::unique_ptr<bus_connection> bus_;
  std::unique_ptr<systemd_manager> manager_;
  std::vector<std::unique_ptr<sc::test::test_unit_file>> units_;
};

std::optional<unit_status> find_unit(const std::vector<unit_status>& units, const std::string& name) {
  auto it = std::find_if(units.begin(), units.end(), [&](const unit_status& u) { return u.name == name; });
  if (it == units.end()) return std::nullopt;
  return *it;
}

// A bus name on the sandbox bus whose owner never reads its socket: calls to it never get a reply.
struct silent_peer {
  explicit silent_peer(const std::string& address)
      : connection(sdbus::createSessionBusConnectionWithAddress(address)),
        name("org.sctest.silent.p" + std::to_string(::getpid()) + "_" + sc::test::random_token()) {
    connection->requestName(name);
  }
  std::unique_ptr<sdbus::IConnection> connection;
  std::string name;
};

TEST_F(systemd_manager_test, connected_and_ping) {
  EXPECT_TRUE(bus_->connected());
  EXPECT_TRUE(manager_->connected());
  auto pong = run(manager_->ping());
  EXPECT_TRUE(pong.has_value()) << pong.error().internal;
}

TEST_F(systemd_manager_test, list_units_returns_units) {
  auto units = run(manager_->list_units());
  ASSERT_TRUE(units.has_value()) << units.error().internal;
  ASSERT_FALSE(units->empty());
  auto target = std::find_if(units->begin(), units->end(), [](const unit_status& u) {
    return u.name.ends_with(".target") && u.load_state == "loaded";
  });
  ASSERT_NE(target, units->end());
  EXPECT_FALSE(target->active_state.empty());
  EXPECT_FALSE(target->sub_state.empty());
  EXPECT_TRUE(target->object_path.starts_with("/org/freedesktop/systemd1/unit/"));
}

TEST_F(systemd_manager_test, list_units_by_patterns_filters) {
  auto units = run(manager_->list_units_by_patterns({}, {"*.target"}));
  ASSERT_TRUE(units.has_value()) << units.error().internal;
  ASSERT_FALSE(units->empty());
  for (const auto& u : *units) EXPECT_TRUE(u.name.ends_with(".target")) << u.name;

  auto none = run(manager_->list_units_by_patterns({"active"}, {"sc-test-never-matches-*.service"}));
  ASSERT_TRUE(none.has_value()) << none.error().internal;
  EXPECT_TRUE(none->empty());

  auto bad = run(manager_->list_units_by_patterns({}, {"bad\npattern"}));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().status, 422);
}

TEST_F(systemd_manager_test, start_awaits_job_then_stop) {
  auto token = sc::test::random_token();
  auto name = add_unit("simple",
                       "[Unit]\nDescription=sc test simple\n[Service]\nType=simple\n"
                       "ExecStart=/bin/sh -c 'echo marker-" +
                           token + "; exec sleep 30'\n");

  auto started = run(manager_->start_unit(name));
  ASSERT_TRUE(started.has_value()) << started.error().internal;
  EXPECT_EQ(*started, "done");

  auto units = run(manager_->list_units());
  ASSERT_TRUE(units.has_value()) << units.error().internal;
  auto mine = find_unit(*units, name);
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->load_state, "loaded");
  EXPECT_EQ(mine->active_state, "active");
  EXPECT_EQ(mine->sub_state, "running");
  EXPECT_EQ(mine->description, "sc test simple");

  auto active = run(manager_->list_units_by_patterns({"active"}, {name}));
  ASSERT_TRUE(active.has_value()) << active.error().internal;
  ASSERT_EQ(active->size(), 1u);

  auto state = run(manager_->get_unit_property(name, "ActiveState"));
  ASSERT_TRUE(state.has_value()) << state.error().internal;
  EXPECT_EQ(*state, "active");
  auto pid = run(manager_->get_unit_property(name, "MainPID", "org.freedesktop.systemd1.Service"));
  ASSERT_TRUE(pid.has_value()) << pid.error().internal;
  EXPECT_NE(*pid, "0");

  auto stopped = run(manager_->stop_unit(name));
  ASSERT_TRUE(stopped.has_value()) << stopped.error().internal;
  EXPECT_EQ(*stopped, "done");
  auto after = run(manager_->list_units_by_patterns({}, {name}));
  ASSERT_TRUE(after.has_value()) << after.error().internal;
  for (const auto& u : *after) EXPECT_NE(u.active_state, "active");
}

TEST_F(systemd_manager_test, restart_replaces_the_process) {
  auto name = add_unit("restart", "[Service]\nType=simple\nExecStart=/bin/sleep 30\n");
  auto started = run(manager_->start_unit(name));
  ASSERT_TRUE(started.has_value()) << started.error().internal;
  ASSERT_EQ(*started, "done");
  auto first_pid = run(manager_->get_unit_property(name, "MainPID", "org.freedesktop.systemd1.Service"));
  ASSERT_TRUE(first_pid.has_value()) << first_pid.error().internal;

  auto restarted = run(manager_->restart_unit(name));
  ASSERT_TRUE(restarted.has_value()) << restarted.error().internal;
  EXPECT_EQ(*restarted, "done");
  auto second_pid = run(manager_->get_unit_property(name, "MainPID", "org.freedesktop.systemd1.Service"));
  ASSERT_TRUE(second_pid.has_value()) << second_pid.error().internal;
  EXPECT_NE(*first_pid, *second_pid);
  EXPECT_NE(*second_pid, "0");
}

TEST_F(systemd_manager_test, oneshot_start_returns_after_it_ran) {
  auto name = add_unit("oneshot", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n");
  auto started = run(manager_->start_unit(name));
  ASSERT_TRUE(started.has_value()) << started.error().internal;
  EXPECT_EQ(*started, "done");
  auto sub = run(manager_->get_unit_property(name, "SubState"));
  ASSERT_TRUE(sub.has_value()) << sub.error().internal;
  EXPECT_EQ(*sub, "exited");  // the job finished only after ExecStart had run
}

TEST_F(systemd_manager_test, failing_exec_start_reports_failed) {
  auto name = add_unit("fails", "[Service]\nType=oneshot\nExecStart=/bin/false\n");
  auto started = run(manager_->start_unit(name));
  ASSERT_TRUE(started.has_value()) << started.error().internal;
  EXPECT_EQ(*started, "failed");
  auto state = run(manager_->get_unit_property(name, "ActiveState"));
  ASSERT_TRUE(state.has_value()) << state.error().internal;
  EXPECT_EQ(*state, "failed");
  auto reset = run(manager_->reset_failed_unit(name));
  EXPECT_TRUE(reset.has_value()) << reset.error().internal;
}

TEST_F(systemd_manager_test, unknown_unit_is_not_found) {
  auto name = sc::test::unique_unit_name("missing");
  auto started = run(manager_->start_unit(name));
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().status, 404);
  EXPECT_NE(started.error().internal.find("org.freedesktop.systemd1.NoSuchUnit"), std::string::npos)
      << started.error().internal;

  auto stopped = run(manager_->stop_unit(name));
  ASSERT_FALSE(stopped.has_value());
  EXPECT_EQ(stopped.error().status, 404);

  auto property = run(manager_->get_unit_property(name, "ActiveState"));
  ASSERT_FALSE(property.has_value());
  EXPECT_EQ(property.error().status, 404);
}

TEST_F(systemd_manager_test, enable_and_disable_runtime) {
  auto name = add_unit("enable", "[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=default.target\n");
  auto enabled = run(manager_->enable_unit_files({name}, /*runtime=*/true));
  ASSERT_TRUE(enabled.has_value()) << enabled.error().internal;
  EXPECT_TRUE(enabled->carries_install_info);
  ASSERT_FALSE(enabled->changes.empty());
  EXPECT_EQ(enabled->changes.front().type, "symlink");
  EXPECT_NE(enabled->changes.front().file.find("default.target.wants"), std::string::npos);

  auto disabled = run(manager_->disable_unit_files({name}, /*runtime=*/true));
  ASSERT_TRUE(disabled.has_value()) << disabled.error().internal;
  ASSERT_FALSE(disabled->empty());
  EXPECT_EQ(disabled->front().type, "unlink");

  auto missing = run(manager_->enable_unit_files({sc::test::unique_unit_name("nofile")}, true));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().status, 404) << missing.error().internal;
}

// A manager on a peer that never answers: anything that reached D-Bus would hang for 20 s, so a
// prompt 422 proves validation happened first.
TEST_F(systemd_manager_test, invalid_names_rejected_before_any_call) {
  silent_peer peer(address_);
  manager_options options;
  options.destination = peer.name;
  options.subscribe = false;
  options.call_timeout = 20s;
  auto silent = run(systemd_manager::open(*bus_, options));
  ASSERT_TRUE(silent.has_value()) << silent.error().internal;

  auto begin = std::chrono::steady_clock::now();
  for (std::string bad : {"../../etc/passwd", "x.service\nExecStart=/bin/sh", "-x.service", "x", "a b.service", ""}) {
    auto started = run((*silent)->start_unit(bad));
    ASSERT_FALSE(started.has_value()) << bad;
    EXPECT_EQ(started.error().status, 422) << bad;
  }
  auto mode = run((*silent)->start_unit("ok.service", "bogus"));
  ASSERT_FALSE(mode.has_value());
  EXPECT_EQ(mode.error().status, 422);
  auto enable = run((*silent)->enable_unit_files({"ok.service", "../bad.service"}));
  ASSERT_FALSE(enable.has_value());
  EXPECT_EQ(enable.error().status, 422);
  auto property = run((*silent)->get_unit_property("../x.service", "ActiveState"));
  ASSERT_FALSE(property.has_value());
  EXPECT_EQ(property.error().status, 422);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
}

TEST_F(systemd_manager_test, short_method_timeout_fires) {
  silent_peer peer(address_);
  manager_options options;
  options.destination = peer.name;
  options.call_timeout = 300ms;

  auto begin = std::chrono::steady_clock::now();
  auto opened = run(systemd_manager::open(*bus_, options));  // Subscribe goes unanswered
  auto elapsed = std::chrono::steady_clock::now() - begin;
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().status, 504) << opened.error().internal;
  EXPECT_NE(opened.error().internal.find("NoReply"), std::string::npos) << opened.error().internal;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);  // sd-bus's own timeout, not the 2 s safety net

  options.subscribe = false;
  auto manager = run(systemd_manager::open(*bus_, options));
  ASSERT_TRUE(manager.has_value()) << manager.error().internal;
  begin = std::chrono::steady_clock::now();
  auto units = run((*manager)->list_units());
  elapsed = std::chrono::steady_clock::now() - begin;
  ASSERT_FALSE(units.has_value());
  EXPECT_EQ(units.error().status, 504);
  EXPECT_LT(elapsed, 2s);
  EXPECT_TRUE(bus_->connected());
}

asio::awaitable<void> store_ping(systemd_manager* manager, std::optional<result<void>>* out,
                                 asio::steady_timer* latch) {
  auto pong = co_await manager->ping();
  out->emplace(std::move(pong));
  latch->cancel();
}

// `manager` is owned by the test body, which outlives this coroutine.
asio::awaitable<std::optional<result<void>>> close_while_pinging(std::unique_ptr<systemd_manager>* manager) {
  auto executor = co_await asio::this_coro::executor;
  std::optional<result<void>> out;
  asio::steady_timer latch(executor, 10s);
  asio::co_spawn(executor, store_ping(manager->get(), &out, &latch), asio::detached);
  co_await asio::post(executor, asio::use_awaitable);  // the ping is now sent and awaited
  EXPECT_FALSE(out.has_value());
  manager->reset();
  if (!out) co_await latch.async_wait(io_result);
  co_return out;
}

TEST_F(systemd_manager_test, destroying_the_manager_completes_calls_in_flight) {
  silent_peer peer(address_);
  manager_options options;
  options.destination = peer.name;
  options.subscribe = false;
  options.call_timeout = 20s;
  auto opened = run(systemd_manager::open(*bus_, options));
  ASSERT_TRUE(opened.has_value()) << opened.error().internal;
  auto manager = std::move(*opened);

  auto begin = std::chrono::steady_clock::now();
  auto out = run(close_while_pinging(&manager));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->has_value());
  EXPECT_EQ(out->error().status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
}

// A private dbus-daemon that the test can kill, to see the connection die under a call in flight.
class private_bus {
 public:
  private_bus() {
    dir_ = sc::test::make_temp_dir("sc-private-bus");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2 failed";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 3);  // dup2 clears close-on-exec
    std::string listen = "--address=unix:path=" + dir_ + "/bus";
    std::vector<std::string> args = {"dbus-daemon", "--config-file=/usr/share/dbus-1/session.conf", "--nofork",
                                     "--print-address=3", listen};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int spawned = ::posix_spawnp(&pid_, "dbus-daemon", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (spawned != 0) {
      ::close(fds[0]);
      ADD_FAILURE() << "cannot spawn dbus-daemon";
      pid_ = -1;
      return;
    }
    // The daemon prints its address once it listens: a real readiness event, no polling.
    char buffer[512];
    ssize_t n = 0;
    while (address_.find('\n') == std::string::npos && (n = ::read(fds[0], buffer, sizeof buffer)) > 0) {
      address_.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    while (!address_.empty() && (address_.back() == '\n')) address_.pop_back();
    if (address_.empty()) ADD_FAILURE() << "dbus-daemon printed no address";
  }
  ~private_bus() {
    kill();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  private_bus(const private_bus&) = delete;
  private_bus& operator=(const private_bus&) = delete;

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  const std::string& address() const { return address_; }

 private:
  std::string dir_;
  std::string address_;
  pid_t pid_ = -1;
};

struct disconnect_outcome {
  std::optional<result<void>> in_flight;
  bool connected_after = true;
  bool callback_ran = false;
  std::optional<result<void>> afterwards;
};

void note_callback(bool* ran) {
  *ran = true;
}

// `bus`, `manager` and `daemon` belong to the test body, which outlives this coroutine.
asio::awaitable<disconnect_outcome> kill_bus_while_pinging(bus_connection* bus, systemd_manager* manager,
                                                           private_bus* daemon) {
  auto executor = co_await asio::this_coro::executor;
  disconnect_outcome out;
  bus->on_disconnect([ran = &out.callback_ran] { note_callback(ran); });
  asio::steady_timer latch(executor, 10s);
  asio::co_spawn(executor, store_ping(manager, &out.in_flight, &latch), asio::detached);
  co_await asio::post(executor, asio::use_awaitable);
  daemon->kill();
  if (!out.in_flight) co_await latch.async_wait(io_result);
  co_await asio::post(executor, asio::use_awaitable);  // the posted disconnect callbacks run
  out.connected_after = bus->connected();
  out.afterwards = co_await manager->ping();
  co_return out;
}

TEST_F(systemd_manager_test, a_dead_bus_fails_calls_in_flight_and_reports_disconnected) {
  private_bus daemon;
  ASSERT_FALSE(daemon.address().empty());
  auto bus = connect_bus(io_, daemon.address());
  ASSERT_TRUE(bus.has_value()) << bus.error().internal;
  silent_peer peer(daemon.address());
  manager_options options;
  options.destination = peer.name;
  options.subscribe = false;
  options.call_timeout = 20s;
  auto manager = run(systemd_manager::open(**bus, options));
  ASSERT_TRUE(manager.has_value()) << manager.error().internal;
  EXPECT_TRUE((*bus)->connected());

  auto begin = std::chrono::steady_clock::now();
  auto out = run(kill_bus_while_pinging(bus->get(), manager->get(), &daemon));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  ASSERT_TRUE(out.in_flight.has_value());
  ASSERT_FALSE(out.in_flight->has_value());
  EXPECT_EQ(out.in_flight->error().status, 503) << out.in_flight->error().internal;
  EXPECT_FALSE(out.connected_after);
  EXPECT_TRUE(out.callback_ran);
  ASSERT_TRUE(out.afterwards.has_value());
  ASSERT_FALSE(out.afterwards->has_value());
  EXPECT_EQ(out.afterwards->error().status, 503);
  EXPECT_FALSE((*manager)->connected());
  manager->reset();
}

asio::awaitable<void> list_once(systemd_manager* manager, int* succeeded, int* remaining, asio::steady_timer* latch) {
  auto units = co_await manager->list_units();
  if (units && !units->empty()) ++*succeeded;
  if (--*remaining == 0) latch->cancel();
}

asio::awaitable<int> list_concurrently(systemd_manager* manager, int count) {
  auto executor = co_await asio::this_coro::executor;
  int succeeded = 0;
  int remaining = count;
  asio::steady_timer latch(executor, 30s);
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(executor, list_once(manager, &succeeded, &remaining, &latch), asio::detached);
  }
  while (remaining > 0) {
    auto [ec] = co_await latch.async_wait(io_result);
    if (!ec) break;  // deadline
  }
  co_return succeeded;
}

TEST_F(systemd_manager_test, fifty_concurrent_list_units_complete) {
  EXPECT_EQ(run(list_concurrently(manager_.get(), 50)), 50);
}

struct throughput {
  int calls = 0;
  int failures = 0;
  std::chrono::steady_clock::duration elapsed{};
};

asio::awaitable<throughput> list_units_sequentially(systemd_manager* manager, int calls) {
  throughput t;
  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) {
    auto units = co_await manager->list_units();
    if (!units) ++t.failures;
    ++t.calls;
  }
  t.elapsed = std::chrono::steady_clock::now() - begin;
  co_return t;
}

TEST_F(systemd_manager_test, list_units_throughput_from_one_coroutine) {
  auto t = run(list_units_sequentially(manager_.get(), 500));
  EXPECT_EQ(t.failures, 0);
  double seconds = std::chrono::duration<double>(t.elapsed).count();
  double per_second = t.calls / seconds;
  std::cout << "[ measure  ] ListUnits from one coroutine: " << t.calls << " calls in " << seconds * 1000.0
            << " ms = " << static_cast<int>(per_second) << " calls/s\n";
  RecordProperty("list_units_per_second", static_cast<int>(per_second));
  EXPECT_GT(per_second, 50.0);
}

}  // namespace
}  // namespace sc::systemd
