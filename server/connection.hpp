#pragma once
// One HTTP/1.1 connection (TCP or Unix): read a request within limits, hand it to the app's
// dispatcher, write the response, decide keep-alive. No business logic here.

#include <chrono>
#include <functional>

#include "server/http.hpp"

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
};

// Serves requests on `socket` until the peer closes, a limit is hit, or the app stops.
// Completes on the socket's executor; never throws (errors close the connection).
boost::asio::awaitable<void> serve_connection(app& application, http::stream socket, http::peer_info peer);

}  // namespace sc::server
