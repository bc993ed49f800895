#pragma once
// The audit log's rules (behavior-core.md §7, §5.9): which requests are recorded, the action name
// of a path, how a request body is reduced to a redacted `detail`, the `error` text format, and
// the normalisation of a log query. Pure functions; adapters/store/audit_store persists entries.
//
// What is recorded (this project's rule, documented in the issue): one entry per request that
//   * matched a route, and
//   * is mutating — any method but GET, HEAD and OPTIONS — and
//   * is not a read-only POST (the §7 exclusion list: /account, /settings/get, /audit/log, list
//     endpoints, …).
// Requests rejected by authentication or authorization are recorded too (success=false), so every
// authentication attempt (POST /account/authenticate) leaves exactly one entry. Reads (GET) are not
// recorded, which also keeps the dashboard's polling out of the log.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sc::audit {

struct entry {
  std::int64_t id = 0;
  std::string account;  // who, by session (empty for anonymous calls and login attempts)
  std::string action;   // en-US description of the path, "" for paths without one
  std::string path;     // URL path without the query
  std::string detail;   // redacted request body (see redact_detail)
  bool success = true;
  std::string error;       // "code=<status>, message=<detail>" when !success
  std::string created_at;  // RFC 3339 UTC, second precision
  // Attempts this row stands for: failed logins from one address are aggregated, one row per
  // address and window (failed_login_window) counting them; every other row is 1.
  std::int64_t count = 1;
};

// Failed anonymous logins (POST /account/authenticate) from one address within this window of
// the first one add to one row's count. A minute keeps brute force readable (a row a minute per
// address) and bounded; the row keeps the latest error.
inline constexpr std::int64_t failed_login_window_seconds = 60;

// The account name recorded for the local root peer on the Unix socket (no session). Parentheses
// and spaces are never valid in usernames, so it cannot be mistaken for an account.
inline constexpr std::string_view local_root_account = "(local root)";

// True when a request with `method` ("POST", …) on `path` is recorded (see the rule above).
bool is_audited(std::string_view method, std::string_view path) noexcept;

// The en-US action of a path ("create account" for /account/create), "" when unmapped.
std::string_view action_for(std::string_view path) noexcept;

// The detail of a request body: parsed as a JSON object (anything else — empty, invalid, array,
// scalar, null — gives ""), every key whose lower-cased name ends in `password`, `passwd`,
// `secret`, `token`, `credential(s)`, `passphrase`, `private_key`/`privatekey`, `api_key`/`apikey`
// or equals/ends in `_auth`/`auth` is left out at any depth (through arrays too; key and value, as
// the original does: its client's tests assert the key is absent), as is the key `responses` (install
// answers, whatever their names); every remaining string value goes through
// redact_secrets (so "note":"token=abc" cannot leak). Re-serialised compactly with keys sorted, at
// most `max_detail_bytes` (longer output is cut and ends in "…").
inline constexpr std::size_t max_detail_bytes = std::size_t{16} * 1024;
std::string redact_detail(std::string_view body);

// True when a JSON member name names a credential (the key rule of redact_detail).
bool is_secret_key(std::string_view key) noexcept;

// The `error` column for a failed request: "code=<status>, message=<detail>" (the UI parses this),
// the message passed through redact_secrets.
std::string format_error(int status, std::string_view detail);
// The `error` column for a failed request answered with `body`: format_error with the problem's
// `detail` (what the client saw), or with `reason` when the body is not a problem with one.
std::string error_of_response(int status, std::string_view reason, std::string_view body);

// POST /audit/log parameters after normalisation (behavior-core.md §5.9).
struct log_query {
  std::int64_t before_id = 0;  // > 0: only ids below it (keyset paging)
  std::size_t offset = 0;
  std::size_t limit = 50;  // ≤ 0 → 50, > 200 → 200
  std::string account;     // exact match when non-empty
  std::string sort_by = "id";
  bool ascending = false;  // default newest first
  std::string search;      // case-insensitive substring of account, action, path or detail
};
inline constexpr std::size_t default_limit = 50;
inline constexpr std::size_t max_limit = 200;

// Applies the §5.9 rules: limit default/max, sort_by from {id, account, action, path, detail,
// success, error, created_at} else id, sort_order "asc" (any case) ascending else descending,
// negative before_id/offset as 0.
log_query normalize_query(std::int64_t before_id, std::int64_t offset, std::int64_t limit, std::string account,
                          std::string_view sort_by, std::string_view sort_order, std::string search);

}  // namespace sc::audit
