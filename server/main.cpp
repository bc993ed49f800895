// systemcontroller: the Town OS control daemon. Parses configuration, opens the app, serves until
// SIGTERM or SIGINT, then shuts down gracefully and exits 0.
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <string>

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
  application.on_stopped([&] { signals.cancel(); });
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
  ::sigprocmask(SIG_BLOCK, &late, nullptr);
  sc::log::info("stopped");
  return 0;
}
