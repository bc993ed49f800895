// systemcontroller: the Town OS control daemon. Parses configuration, opens the app, serves until
// SIGTERM or SIGINT, then shuts down gracefully and exits 0.
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/log.hpp"
#include "server/app.hpp"

namespace {

// Re-arms itself: every SIGTERM/SIGINT asks for a graceful stop (idempotent).
struct on_signal {
  boost::asio::signal_set& signals;
  sc::server::app& application;
  void operator()(boost::system::error_code ec, int number) const {
    if (ec) return;  // cancelled once the app has stopped
    if (application.stopping()) sc::log::info("signal " + std::to_string(number) + " again: already stopping");
    application.request_stop();
    // The stop may have completed inside request_stop (nothing in flight): re-arming then would
    // leave a wait that nothing cancels, and io.run() would never return.
    if (!application.stopped()) signals.async_wait(*this);
  }
};

// Test-only: blocks the loop thread for good, as a deadlocked handler would. Armed only when
// SC_TEST_HANG_ON_SIGUSR2=1 is in the environment (no shipped unit sets it), so that
// tests/integration/systemd_activation_test.cpp can watch systemd's watchdog kill a hung loop.
void hang_loop_thread(boost::system::error_code ec, int) {
  if (ec) return;
  sc::log::warning("test hook: SIGUSR2 received, hanging the loop thread until the watchdog fires");
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

bool test_hooks_enabled() {
  const char* value = std::getenv("SC_TEST_HANG_ON_SIGUSR2");
  return value != nullptr && std::string_view(value) == "1";
}

}  // namespace

int main(int argc, char** argv) {
  auto settings = sc::server::parse_config(argc, argv);
  if (!settings) {
    std::fputs(settings.error().detail.c_str(), stderr);
    return settings.error().detail == sc::server::usage() ? 0 : 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  boost::asio::io_context io(1);
  sc::server::app application(io, std::move(*settings));
  if (auto opened = application.open(); !opened) {
    sc::log::error("cannot start: " + opened.error().internal + opened.error().detail);
    return 1;
  }
  // Signals are caught before serving, so a SIGTERM right after READY=1 is a graceful stop; a
  // repeated one during the stop changes nothing (the grace period already bounds it).
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  on_signal handler{signals, application};
  signals.async_wait(handler);
  std::optional<boost::asio::signal_set> hang_signal;
  if (test_hooks_enabled()) {
    hang_signal.emplace(io, SIGUSR2);
    hang_signal->async_wait(hang_loop_thread);
  }
  application.on_stopped([&] {
    signals.cancel();
    if (hang_signal) hang_signal->cancel();
  });
  if (auto served = application.serve(); !served) {
    sc::log::error("cannot serve: " + served.error().internal + served.error().detail);
    return 1;
  }
  io.run();
  // Past this point the signal set restores the default action; a late SIGTERM must not turn a
  // clean exit into a kill, so the signals are blocked (and dropped) until the process ends.
  sigset_t late;
  sigemptyset(&late);
  sigaddset(&late, SIGTERM);
  sigaddset(&late, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &late, nullptr);
  sc::log::info("stopped");
  return 0;
}
