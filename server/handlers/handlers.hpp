#pragma once
// Handlers: decode the request, call core and adapters, encode the response. Nothing else.
// Each is a coroutine taking the request context; the route table (server/routes.cpp) names them.
// Build response JSON in a `boost::json::monotonic_resource` local to the handler: with the default
// resource every key and string is its own allocation (a dozen per small object).

#include "server/router.hpp"

namespace sc::server::handlers {

using reply = boost::asio::awaitable<http::response>;

// server/handlers/status.cpp
reply health(request_context& context);
reply ready(request_context& context);
reply metrics_text(request_context& context);
reply openapi(request_context& context);
reply status_ping(request_context& context);

}  // namespace sc::server::handlers
