// D-Bus restarted and the user manager re-executed under the running server (issue 11 §4).
// The sandbox's bus is the user manager's socket-activated dbus.service: stopping dbus.socket and
// dbus.service takes the bus away (the socket file stays, connections are refused), starting
// dbus.socket brings it back, and the user manager re-registers org.freedesktop.systemd1 once
// dbus.service runs again.
//
// These tests break the sandbox host for everyone using it, so this suite runs alone (RUN_SERIAL)
// and always leaves the bus up again.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

using clock = std::chrono::steady_clock;

// Polls `condition` every 50 ms until it holds or `deadline` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  const auto until = clock::now() + deadline;
  for (;;) {
    if (condition()) return true;
    if (clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::size_t open_fds(int pid) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++count;
  }
  return count;
}

// The fd count once the sockets of requests just answered are closed too (the server closes its
// end when it reads the client's EOF): the same count three times, 100 ms apart.
std::size_t settled_fds(int pid) {
  std::size_t last = open_fds(pid);
  int same = 0;
  for (int i = 0; i < 50 && same < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::size_t now = open_fds(pid);
    same = now == last ? same + 1 : 0;
    last = now;
  }
  return last;
}

bool systemd_on_bus() {
  return shell(
             "busctl --user --timeout=2 call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus "
             "NameHasOwner s org.freedesktop.systemd1 2>/dev/null") == "b true\n";
}

class bus_faults : public ::testing::Test {
 protected:
  void SetUp() override {
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    ASSERT_FALSE(unit_dir_.empty()) << "the sandbox host is not up (tools/sandbox up)";
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("XDG_RUNTIME_DIR", sandbox_env("XDG_RUNTIME_DIR").c_str(), 1);
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("DBUS_SESSION_BUS_ADDRESS", sandbox_env("SC_BUS_ADDRESS").c_str(), 1);
    // A system service: GET /systemd/units lists a package unit only with its install record.
    unit_ = "town-os-system--scfault" + std::to_string(::getpid()) + "-dbus.service";
    std::ofstream(unit_dir_ + "/" + unit_)
        << "[Unit]\nDescription=sc fault test\n[Service]\nExecStart=/bin/sleep 600\n";
    ASSERT_EQ(std::system("systemctl --user daemon-reload"), 0);
    server_ = std::make_unique<server_process>();
    ASSERT_TRUE(server_->started()) << server_->log();
  }
  void TearDown() override {
    // Whatever happened, the bus comes back for the tests that follow.
    (void)std::system("systemctl --user start dbus.socket dbus.service >/dev/null 2>&1");
    EXPECT_TRUE(eventually(systemd_on_bus, std::chrono::seconds(20))) << "the sandbox bus did not come back";
    (void)std::system(("systemctl --user stop " + unit_ + " >/dev/null 2>&1").c_str());
    std::filesystem::remove(unit_dir_ + "/" + unit_);
    (void)std::system("systemctl --user daemon-reload >/dev/null 2>&1");
    server_.reset();
  }

  http_reply act(const std::string& action) {
    return request_unix(server_->socket_path(), "POST", "/systemd/status",
                        R"({"name":")" + unit_ + R"(","action":")" + action + R"("})");
  }
  // The /ready answer's verdict on D-Bus: "ok", or the reason it is down.
  std::string dbus_readiness() {
    auto reply = request_unix(server_->socket_path(), "GET", "/ready");
    if (reply.status == 200) return "ok";
    auto at = reply.body.find(R"("field":"dbus")");
    return at == std::string::npos ? "ok-but-" + reply.body : reply.body;
  }

  std::string unit_dir_;
  std::string unit_;
  std::unique_ptr<server_process> server_;
};

TEST_F(bus_faults, reconnects_with_backoff_reports_down_meanwhile_and_controls_units_again) {
  ASSERT_TRUE(eventually([&] { return dbus_readiness() == "ok"; }, std::chrono::seconds(10))) << dbus_readiness();
  ASSERT_EQ(act("start").status, 200);
  ASSERT_EQ(act("stop").status, 200);
  const std::size_t fds_before = settled_fds(server_->pid());

  ASSERT_EQ(std::system("systemctl --user stop dbus.socket dbus.service"), 0);
  std::string down;
  ASSERT_TRUE(eventually(
      [&] {
        down = dbus_readiness();
        return down != "ok";
      },
      std::chrono::seconds(10)))
      << "/ready never noticed the bus going away";
  EXPECT_NE(down.find("dbus"), std::string::npos) << down;
  auto refused = act("start");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.header("content-type"), "application/problem+json");

  // The bus stays away long enough for several reconnect attempts (250 ms, 500 ms, 1 s, 2 s).
  // None may leak: the lost connection is released and failed attempts cost nothing lasting.
  const auto outage_end = clock::now() + std::chrono::seconds(4);
  while (clock::now() < outage_end) {
    EXPECT_NE(dbus_readiness(), "ok");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // The lost connection's fds (its socket and sdbus-c++'s eventfds) are closed.
  EXPECT_LT(settled_fds(server_->pid()), fds_before) << "the lost connection's fds should be closed";

  ASSERT_EQ(std::system("systemctl --user start dbus.socket"), 0);
  // Within the longest backoff (8 s) plus the user manager's own reconnect.
  EXPECT_TRUE(eventually([&] { return dbus_readiness() == "ok"; }, std::chrono::seconds(20))) << dbus_readiness();
  http_reply started;
  EXPECT_TRUE(eventually(
      [&] {
        started = act("start");
        return started.status == 200;
      },
      std::chrono::seconds(20)))
      << started.status << " " << started.body;
  EXPECT_EQ(shell("systemctl --user is-active " + unit_), "active\n");
  EXPECT_EQ(act("stop").status, 200);
  EXPECT_EQ(settled_fds(server_->pid()), fds_before);
  EXPECT_NE(server_->log().find("D-Bus: connected"), std::string::npos);
}

TEST_F(bus_faults, user_manager_reexecuted_unit_listing_and_control_recover) {
  ASSERT_TRUE(eventually([&] { return dbus_readiness() == "ok"; }, std::chrono::seconds(10))) << dbus_readiness();
  ASSERT_EQ(act("start").status, 200);
  ASSERT_EQ(std::system("systemctl --user daemon-reexec"), 0);
  // The manager leaves the bus and comes back under the same name; the unit keeps running.
  http_reply listed;
  EXPECT_TRUE(eventually(
      [&] {
        listed = request_unix(server_->socket_path(), "GET", "/systemd/units?limit=1000");
        return listed.status == 200 && listed.body.find(unit_) != std::string::npos;
      },
      std::chrono::seconds(20)))
      << listed.status << " " << listed.body;
  http_reply stopped;
  EXPECT_TRUE(eventually(
      [&] {
        stopped = act("stop");
        return stopped.status == 200;
      },
      std::chrono::seconds(20)))
      << stopped.status << " " << stopped.body;
  EXPECT_NE(shell("systemctl --user is-active " + unit_), "active\n");
  EXPECT_EQ(act("start").status, 200);
  EXPECT_EQ(shell("systemctl --user is-active " + unit_), "active\n");
}

}  // namespace
}  // namespace sc::test
