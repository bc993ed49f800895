#pragma once
// One HTTP/1.1 connection (TCP or Unix): read a request within limits, hand it to the app's
// dispatcher, write the response, decide keep-alive. No business logic here.

#include <chrono>
#include <functional>

#include "server/http.hpp"

namespace boost::asio {
class cancellation_signal;
}

namespace sc::server {

class app;

struct connection {
  enum class phase { idle, busy, streaming };
  using clock = std::chrono::steady_clock;
  http::stream* stream = nullptr;
  phase state = phase::idle;
  // When the operation being awaited must have finished. Set right before each await; the app's
  // deadline sweep closes the socket once it passes, which completes that await with an error.
  // A store instead of a timer per operation: arming and cancelling timers was 13% of a request.
  clock::time_point deadline = clock::time_point::max();
  void expires_after(std::chrono::milliseconds timeout) { deadline = clock::now() + timeout; }
  void expires_never() { deadline = clock::time_point::max(); }
  // Set by a handler that streams (SSE): ends the stream cleanly on shutdown.
  std::function<void()> stop_stream;

  // The handler's cancellation slot. The connection's coroutine is bound to `cancel`, so emitting
  // it cancels whatever the handler awaits (terminal: children are killed and reaped, D-Bus and
  // journal waits end). The dispatcher arms `handler_deadline` from the route; the app's sweep
  // cancels a handler past it, and hard shutdown cancels every handler. Emitted only while a
  // handler runs (never during reads or writes, which the socket deadline above bounds).
  enum class cancel_reason { none, deadline, shutdown };
  boost::asio::cancellation_signal* cancel = nullptr;
  clock::time_point handler_deadline = clock::time_point::max();
  cancel_reason cancelled = cancel_reason::none;
  bool in_handler = false;
  // Cancels the running handler once (a no-op outside a handler or when already cancelled).
  void cancel_handler(cancel_reason reason);
};

// Serves requests on `socket` until the peer closes, a limit is hit, or the app stops.
// Completes on the socket's executor; never throws (errors close the connection). The caller
// co_spawns it bound to `cancel`'s slot and keeps `cancel` alive until the completion handler has
// run (server/app_listeners.cpp, accept_loop).
boost::asio::awaitable<void> serve_connection(app& application, http::stream socket, http::peer_info peer,
                                              boost::asio::cancellation_signal* cancel);

}  // namespace sc::server
