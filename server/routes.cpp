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

      // Accounts and sessions (behavior-core.md §5.4, §5.5). Self-only rules for /account/update and
      // /account/session/revoke are enforced in the handlers.
      {v::post, "/account/authenticate", public_access, handlers::account_authenticate, "Log in: a session token and the account"},
      {v::post, "/account/create", bootstrap_or_admin, handlers::account_create, "Create an account (public until an enabled admin exists)"},
      {v::post, "/account", authenticated, handlers::account_get, "One account by username"},
      {v::get, "/account", authenticated, handlers::account_list, "Accounts, paged, searchable and sortable"},
      {v::post, "/account/update", authenticated, handlers::account_update, "Update an account (non-admins: only their own)"},
      {v::get, "/account/me", authenticated, handlers::account_me, "The caller's username"},
      {v::get, "/account/sessions", authenticated, handlers::account_sessions, "The caller's sessions, most recent first"},
      {v::post, "/account/session/revoke", authenticated, handlers::account_session_revoke, "Revoke a session (non-admins: only their own)"},
      {v::post, "/account/disable", admin, handlers::account_disable, "Disable an account and end its sessions"},
      {v::post, "/account/enable", admin, handlers::account_enable, "Enable an account (old sessions stay dead)"},

      // Settings, locales, audit log (behavior-core.md §5.6, §5.7, §5.9).
      {v::get, "/settings", admin, handlers::settings_all, "All settings as a key-value object"},
      {v::post, "/settings/get", admin, handlers::settings_get, "One setting by key"},
      {v::post, "/settings/set", admin, handlers::settings_set, "Validate and store one setting"},
      {v::get, "/locales", authenticated, handlers::locales, "Current locale and the locales offered"},
      {v::post, "/audit/log", local_or_admin, handlers::audit_log, "Audit log page, newest first (keyset by before_id)"},

      // Systemd units and the journal (behavior-ops.md §8, issue 4).
      {v::get, "/systemd/units", local_or_authenticated, handlers::systemd_units, "Managed units with their state, paged"},
      {v::post, "/systemd/status", admin, handlers::systemd_status, "Start, stop, restart, enable or disable a managed unit"},
      {v::get, "/systemd/logs/tail", local_or_authenticated, handlers::systemd_logs_tail, "Journal entries by cursor, filtered"},
      {v::get, "/systemd/logs", local_or_authenticated, handlers::systemd_logs, "Live journal stream (SSE), resumable by Last-Event-ID"},
  };
}

}  // namespace sc::server
