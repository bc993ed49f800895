// systemcontroller: the Town OS control daemon. Parses configuration, opens the app, serves until
// SIGTERM or SIGINT, then shuts down gracefully and exits 0.
#include "core/log.hpp"
#include "server/app.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>

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
  // Signals are caught before serving, so a SIGTERM right after READY=1 is a graceful stop.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) application.request_stop();
  });
  application.on_stopped([&] { signals.cancel(); });
  if (auto served = application.serve(); !served) {
    sc::log::error("cannot serve: " + served.error().internal + served.error().detail);
    return 1;
  }
  io.run();
  sc::log::info("stopped");
  return 0;
}
