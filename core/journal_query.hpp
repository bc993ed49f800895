#pragma once
// The journal part of the domain (behavior-ops.md §8.4, §8.5): the query parameters of
// GET /systemd/logs/tail and GET /systemd/logs, journal cursors as they come from outside, the
// filters applied to entries, and the timestamp format of an entry. The unit policy is in
// core/units.hpp.
// Pure functions: no journal, no D-Bus.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/problem.hpp"
#include "core/query.hpp"

namespace sc::journal_query {

// ---- cursors ----

// A journal cursor as sd_journal_get_cursor() writes it:
// "s=<32 hex>;i=<hex>;b=<32 hex>;m=<hex>;t=<hex>;x=<hex>". Its sequence number orders entries of
// one journal (same seqnum_id); used to drop duplicates where a replay meets a live stream.
struct cursor_position {
  std::string seqnum_id;
  std::uint64_t seqnum = 0;
};
inline constexpr std::size_t max_cursor_length = 256;
// Strict: exactly those six fields, each once, hex of bounded length, nothing else. Anything else
// is a 422 naming `field` (so "before", "after" or "Last-Event-ID" is what the client reads).
result<cursor_position> parse_cursor(std::string_view text, std::string_view field);
// True when `position` comes strictly after `last` in one journal; positions from different
// journals (seqnum ids) are never ordered, so they count as "after" (deliver rather than lose).
bool comes_after(const cursor_position& position, const cursor_position& last) noexcept;

// ---- query parameters ----

// The unit filter: "" or "__system__" mean the whole journal; anything else is a valid unit name
// (422 "unit"). Returns the unit name or "" for system-wide.
result<std::string> parse_unit_filter(const query_params& query);

inline constexpr std::size_t default_tail_lines = 100;
inline constexpr std::size_t max_tail_lines = 10'000;

struct tail_query {
  std::string unit;  // "" = system-wide
  std::size_t lines = default_tail_lines;
  std::string before;                 // cursor, exclusive
  std::string after;                  // cursor, exclusive
  std::string grep;                   // lowered; "" = no filter
  std::optional<std::int64_t> since;  // unix seconds
  std::optional<std::int64_t> until;  // unix seconds
  int priority = 0;                   // 0 = no filter, else 1..7: PRIORITY <= priority
  enum class mode { tail, since, after, before } how = mode::tail;
};
// Every parameter of GET /systemd/logs/tail (behavior-ops.md §8.4). Bad values are 422 problems
// naming the parameter (the original answered 500): non-integer or negative `lines` (0 means the
// default; larger than max_tail_lines is capped), `since`/`until` outside 0..2^40, `priority`
// outside 0..7, an invalid cursor, `grep` longer than 1024 bytes, both `before` and `after`.
result<tail_query> parse_tail_query(const query_params& query);

struct stream_query {
  std::string unit;                  // "" = system-wide
  std::optional<std::size_t> lines;  // replay at most the newest N; none = the whole history
  std::string last_event_id;         // resume strictly after this cursor; "" = none
};
inline constexpr std::size_t max_stream_replay_lines = 10'000;  // the journal reader's per-call cap
// GET /systemd/logs: `unit`, `lines` and the Last-Event-ID (header value, or the `last_event_id`
// query parameter for clients that cannot set headers). Last-Event-ID wins over `lines`.
result<stream_query> parse_stream_query(const query_params& query, std::string_view last_event_id_header);

// ---- entries ----

// The post-filters of a tail: `grep` (already lowered) is a case-insensitive substring of the
// message; `priority` 1..7 keeps entries whose PRIORITY is a number <= it.
bool entry_matches(std::string_view message, std::string_view priority_text, std::string_view grep_lowered,
                   int priority) noexcept;

// Go's time.RFC3339Nano of a µs timestamp at the given UTC offset: trailing zeros of the fraction
// dropped (no '.' when it is zero), "Z" for offset 0, else "+hh:mm".
std::string format_rfc3339_nano(std::uint64_t realtime_usec, long utc_offset_seconds);

// Journal messages are bytes; JSON must be UTF-8. `to_valid_utf8` replaces every invalid sequence
// by U+FFFD, as Go's encoding/json does; check `is_valid_utf8` first to skip the copy.
bool is_valid_utf8(std::string_view text) noexcept;
std::string to_valid_utf8(std::string_view text);

}  // namespace sc::journal_query
