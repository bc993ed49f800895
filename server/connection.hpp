#pragma once
// One HTTP/1.1 connection (TCP or Unix): read a request within limits, hand it to the app's
// dispatcher, write the response, decide keep-alive. No business logic here.

#include "server/http.hpp"

#include <functional>

namespace sc::server {

class app;

struct connection {
  enum class phase { idle, busy, streaming };
  http::stream* stream = nullptr;
  phase state = phase::idle;
  // Set by a handler that streams (SSE): ends the stream cleanly on shutdown.
  std::function<void()> stop_stream;
};

// Serves requests on `socket` until the peer closes, a limit is hit, or the app stops.
// Completes on the socket's executor; never throws (errors close the connection).
boost::asio::awaitable<void> serve_connection(app& application, boost::asio::generic::stream_protocol::socket socket,
                                              http::peer_info peer);

}  // namespace sc::server
