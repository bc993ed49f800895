// The controller as systemd runs it (issue 11 §6): started by the sandbox user manager through a
// `.socket` unit and a `Type=notify` service with `WatchdogSec`. The first request activates it,
// READY=1 is what makes the service active, the watchdog pings arrive while it serves, and a hung
// loop thread (the SC_TEST_HANG_ON_SIGUSR2 test hook of server/main.cpp) gets it killed by the
// watchdog. Everything is observed through the manager (`systemctl --user show`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int watchdog_seconds = 3;

class systemd_activation : public ::testing::Test {
 protected:
  void SetUp() override {
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    ASSERT_FALSE(unit_dir_.empty()) << "the sandbox host is not up (tools/sandbox up)";
    systemctl_ = "XDG_RUNTIME_DIR=" + sandbox_env("XDG_RUNTIME_DIR") +
                 " DBUS_SESSION_BUS_ADDRESS=" + sandbox_env("SC_BUS_ADDRESS") + " systemctl --user ";
    dir_ = make_temp_dir("sc-activation");
    socket_path_ = dir_ + "/api.sock";
    base_ = "sc-activation-" + std::to_string(::getpid());
    write_unit(base_ + ".socket",
               "[Unit]\nDescription=systemcontroller activation test\n"
               "[Socket]\nListenStream=" +
                   socket_path_ + "\nSocketMode=0600\n");
    std::string binary = controller_binary();
    ASSERT_TRUE(fs::exists(binary)) << binary;
    // No leak report on the watchdog's SIGABRT (the process is killed mid-flight on purpose), and
    // no core file; otherwise the service runs as the integration tests' servers do.
    write_unit(base_ + ".service",
               "[Unit]\nDescription=systemcontroller activation test\n"
               "[Service]\nType=notify\nNotifyAccess=main\nWatchdogSec=" +
                   std::to_string(watchdog_seconds) +
                   "\nTimeoutAbortSec=5\nLimitCORE=0\n"
                   "Environment=SC_TEST_HANG_ON_SIGUSR2=1 SC_DEFAULT_REPOSITORY= ASAN_OPTIONS=detect_leaks=0\n"
                   "ExecStart=" +
                   binary + " --listen \"\" --socket \"\" --state-dir " + dir_ + "/state --bus " +
                   sandbox_env("SC_BUS_ADDRESS") + " --btrfs-root " + sandbox_env("SC_BTRFS_ROOT") + "\n");
    ASSERT_EQ(shell(systemctl_ + "daemon-reload && echo ok"), "ok\n");
  }

  void TearDown() override {
    shell(systemctl_ + "stop " + base_ + ".socket " + base_ + ".service >/dev/null 2>&1; " + systemctl_ +
          "reset-failed " + base_ + ".socket " + base_ + ".service >/dev/null 2>&1");
    std::error_code ignored;
    fs::remove(unit_dir_ + "/" + base_ + ".socket", ignored);
    fs::remove(unit_dir_ + "/" + base_ + ".service", ignored);
    shell(systemctl_ + "daemon-reload");
    fs::remove_all(dir_, ignored);
  }

  void write_unit(const std::string& name, const std::string& content) {
    std::ofstream out(unit_dir_ + "/" + name);
    out << content;
    out.close();
    ASSERT_TRUE(out) << "cannot write " << name;
  }

  // The service's properties as the manager reports them.
  std::map<std::string, std::string> service() {
    std::map<std::string, std::string> out;
    std::istringstream lines(shell(systemctl_ + "show " + base_ + ".service -p ActiveState -p SubState -p Result -p " +
                                   "MainPID -p StatusText -p WatchdogTimestampMonotonic -p NRestarts"));
    for (std::string line; std::getline(lines, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
  }

  // Polls the service until `done` holds, for at most `deadline`; returns the last properties.
  template <class Predicate>
  std::map<std::string, std::string> wait_for(Predicate done, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    auto state = service();
    while (!done(state) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(100ms);
      state = service();
    }
    return state;
  }

  std::string unit_dir_;
  std::string systemctl_;
  std::string dir_;
  std::string socket_path_;
  std::string base_;
};

TEST_F(systemd_activation, first_request_activates_ready_watchdog_pings_and_a_hung_loop_is_killed) {
  ASSERT_EQ(shell(systemctl_ + "start " + base_ + ".socket && echo ok"), "ok\n");
  EXPECT_EQ(shell(systemctl_ + "is-active " + base_ + ".socket"), "active\n");
  // Listening, but nothing started yet: the socket unit holds the listener.
  EXPECT_EQ(service()["ActiveState"], "inactive");
  ASSERT_TRUE(fs::exists(socket_path_));

  // The first request starts the service, which answers it on the inherited listener.
  http_reply reply = request_unix(socket_path_, "GET", "/health");
  ASSERT_EQ(reply.status, 200) << reply.body;

  // Type=notify: "active" and the STATUS text exist only once READY=1 has arrived.
  auto state = wait_for([](auto& s) { return s["ActiveState"] == "active"; }, 10s);
  ASSERT_EQ(state["ActiveState"], "active");
  EXPECT_EQ(state["SubState"], "running");
  EXPECT_EQ(state["StatusText"], "serving");
  const std::string pid = state["MainPID"];
  ASSERT_NE(pid, "0");

  // Watchdog pings arrive: the manager's timestamp of the last one moves on, more than once,
  // and the service outlives several watchdog periods while it serves.
  std::string first_ping = state["WatchdogTimestampMonotonic"];
  ASSERT_NE(first_ping, "");
  std::string seen = first_ping;
  int pings = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4 * watchdog_seconds);
  while (pings < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(200ms);
    state = service();
    if (state["WatchdogTimestampMonotonic"] != seen) {
      seen = state["WatchdogTimestampMonotonic"];
      ++pings;
    }
  }
  EXPECT_GE(pings, 3) << "watchdog timestamp stayed at " << seen;
  EXPECT_EQ(state["ActiveState"], "active");
  EXPECT_EQ(state["MainPID"], pid);
  EXPECT_EQ(request_unix(socket_path_, "GET", "/health").status, 200);

  // A hung loop thread stops the pings: the manager kills the process for it (Result=watchdog).
  ASSERT_EQ(::kill(std::stoi(pid), SIGUSR2), 0);
  // Result=watchdog is set when the manager starts killing (state "deactivating", MainPID still the
  // old process); wait until the process is gone too.
  state = wait_for([&](auto& s) { return s["Result"] == "watchdog" && s["MainPID"] != pid; },
                   std::chrono::seconds(watchdog_seconds + 5 + 10));
  EXPECT_EQ(state["Result"], "watchdog");
  EXPECT_NE(state["ActiveState"], "active");
  EXPECT_NE(state["MainPID"], pid);

  // The socket unit still holds the listener: the next request activates a fresh process.
  reply = request_unix(socket_path_, "GET", "/health");
  EXPECT_EQ(reply.status, 200) << reply.body;
  state = wait_for([&](auto& s) { return s["ActiveState"] == "active" && s["MainPID"] != pid; }, 10s);
  EXPECT_EQ(state["ActiveState"], "active");
  EXPECT_NE(state["MainPID"], pid);
}

}  // namespace
}  // namespace sc::test
