// The route table: every endpoint of the controller, its auth level and its handler, in one place.
#include "server/handlers/handlers.hpp"
#include "server/router.hpp"

namespace sc::server {

std::vector<route> build_routes() {
  using enum auth_level;
  using v = http::verb;
  return {
      {v::get, "/health", public_access, handlers::health, "Liveness and uptime"},
      {v::get, "/ready", public_access, handlers::ready, "Readiness of the database, D-Bus and btrfs"},
      {v::get, "/metrics", local_or_admin, handlers::metrics_text, "Prometheus text metrics"},
      {v::get, "/openapi.json", public_access, handlers::openapi, "This API, as OpenAPI 3.1"},
      {v::get, "/status/ping", public_access, handlers::status_ping, "Health check and dashboard overview"},
  };
}

}  // namespace sc::server
