#pragma once
// Sessions and login throttling: token format, expiry arithmetic and the throttle policy. Pure;
// every function takes "now" (Unix seconds) from the caller, so tests inject time.
//
// Tokens (DESIGN.md): 256 random bits, sent as 64 lower-case hex characters, returned once at
// login. Only their SHA-256 (hex) is stored; lookups go from the digest of the presented token.
// Expiry: a session dies after `idle` without use (sliding, 7 days) or `absolute` after creation,
// whichever comes first (`absolute` 0 = no absolute limit). `last_used` is kept in memory on every
// use and written to the store at most once per `persist_interval`.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sc::sessions {

inline constexpr std::size_t token_length = 64;  // hex characters (256 bits)

struct policy {
  std::int64_t idle = std::int64_t{7} * 24 * 3600;       // seconds without use
  std::int64_t absolute = std::int64_t{30} * 24 * 3600;  // seconds since creation; 0 = unlimited
  std::int64_t persist_interval = 60;                    // seconds between last_used writes per session
};

struct session {
  std::string id;            // public identifier (UUID), what /account/sessions lists and revoke takes
  std::string token_sha256;  // hex digest of the token; never leaves the server
  std::string username;
  std::int64_t created_at = 0;  // Unix seconds
  std::int64_t last_used = 0;
  std::int64_t persisted_last_used = 0;  // the value the store holds
};

// 64 lower-case hex characters. Anything else cannot be a token we issued (cheap early reject).
bool is_well_formed_token(std::string_view token) noexcept;

bool is_expired(const session& s, std::int64_t now, const policy& p) noexcept;
// True when `last_used` moved far enough past what the store holds to be worth a write.
bool should_persist(const session& s, std::int64_t now, const policy& p) noexcept;

// RFC 3339 UTC with second precision ("2025-05-01T12:00:00Z").
std::string format_timestamp(std::int64_t unix_seconds);
// Parses the form above (a fraction and "+00:00" are tolerated); nullopt when malformed.
std::optional<std::int64_t> parse_timestamp(std::string_view text) noexcept;

// Per-source login throttle (DESIGN.md: 429 with Retry-After). A source that failed `max_failures`
// times within `window` seconds is refused until its oldest counted failure leaves the window.
// Refused attempts are not counted (they never reach the hash). A success clears the source.
// Memory is bounded: at most `max_sources` sources are tracked; beyond that, entries whose
// failures all left the window are swept, and if none can be, the oldest source is dropped.
class login_throttle {
 public:
  struct limits {
    std::size_t max_failures = 10;
    std::int64_t window = 60;  // seconds
    std::size_t max_sources = 10'000;
  };
  login_throttle() = default;
  explicit login_throttle(limits l) : limits_(l) {}

  // nullopt: go ahead. Otherwise the number of seconds to wait (≥ 1).
  std::optional<std::uint32_t> retry_after(std::string_view source, std::int64_t now) const;
  void record_failure(std::string_view source, std::int64_t now);
  void record_success(std::string_view source);
  std::size_t tracked_sources() const noexcept { return failures_.size(); }

 private:
  void sweep(std::int64_t now);
  limits limits_;
  std::unordered_map<std::string, std::vector<std::int64_t>> failures_;  // source → failure times, ascending
};

}  // namespace sc::sessions
