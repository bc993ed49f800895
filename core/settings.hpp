#pragma once
// System settings (behavior-core.md §5.6): the defaults, the keys the controller knows, and the
// validation of a value before it is stored. Pure functions; the store caches and persists.
//
// Keys (issue 17: the original stores any key, and the dashboard keeps its own, e.g. `motd`):
//   * Known keys (below) are validated strictly; a bad value is a 422 naming the field `value`.
//   * Any other key is stored verbatim when it is 1..128 of [A-Za-z0-9._:-] starting with a
//     letter or digit, with a value of at most 64 KiB of text (TAB/LF/CR allowed, other control
//     characters not). Other keys are a 422 naming the field `key`. At most `max_stored_keys`
//     settings are stored (the handler refuses a new key beyond that).
//   * Numeric keys take non-negative decimal integers within the bounds below (byte-sized keys
//     also take human sizes such as `500GB` or `10MiB`, as the original did) and are stored as
//     canonical decimal text.
//
// Known keys and their rules:
//   default_quota          bytes, 0 .. 1 EiB; quota of a new volume that names none, 0: no quota
//                                                           (default 53687091200)
//   max_archive_size       bytes, 0 .. 1 EiB; largest upload body, 0: no limit
//                                                           (default 1073741824)
//   archive_unpack_timeout seconds, 1 .. 86400              (default 600)
//   vm_image_max_size      bytes, 0 .. 1 EiB; largest VM image download and the largest disk
//                          it may describe, 0: no limit     (default 68719476736)
//   locale                 one of supported_locale_codes()  (default en-US)
//   proton_image           container image reference: 1..512 bytes, no whitespace/control chars
//                                                           (default quay.io/town/proton:latest)
//   dns_tld                one DNS label: 1..63 of [a-z0-9-], no leading/trailing '-', not all
//                          digits; upper case is folded     (default home)
//   dns_resolution_mode    auto | recursive | forward       (default auto)
//   dns_local_forwarders   true | false (Go bool spellings accepted, stored as true/false)
//                                                           (default false)
//   peer_ttl               seconds, 60 .. 31536000          (default 7200)
//   gfeh_partition_quota   bytes, 0 (unlimited) .. 1 EiB    (default 0)
//   auto_update_enabled    1 | 0 (true/false accepted)      (default 1)
//   log_stream_max_viewers live log viewers at once, 0 .. 1000000 (default 20000)
//   password_hash_memory   bytes all password hashes together may use: 0 (the
//                          --password-hash-memory flag, 128 MiB) or 8 MiB .. 1 TiB (default 0)
//   audit_retention_days   audit rows older than this are pruned, 1 .. 36500 (default 90)
//   audit_max_rows         audit rows kept at most (oldest pruned first), 1000 .. 1000000000
//                                                           (default 1000000)
//   monitoring_backend     uplot | grafana                  (not seeded)
//   dns_host_address       IPv4/IPv6 address package names point at; "" detects the LAN
//                          address (not seeded)
//   dns_rbl_config, dns_dnsbl_config, dns_excluded_services, dismissed_upgrades_hash
//                          text ≤ 65536 bytes; TAB/LF/CR allowed, other control chars not
//                                                           (not seeded)

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::settings {

struct default_value {
  std::string_view key;
  std::string_view value;
};

// The seeded defaults, in a stable order. Seeding never overwrites a stored value.
std::span<const default_value> defaults() noexcept;
// The default of `key`, if it has one.
std::optional<std::string_view> default_of(std::string_view key) noexcept;

inline constexpr std::size_t max_key_length = 128;
inline constexpr std::size_t max_open_value_bytes = 65'536;
inline constexpr std::size_t max_stored_keys = 1'000;

// True for a key the controller knows (and validates strictly).
bool is_known_key(std::string_view key) noexcept;
// True for a known key or any other key of the open pattern above.
bool is_valid_key(std::string_view key) noexcept;

// Validates `value` for `key` and returns the text to store (canonical form). Problems:
//   empty key → 422 {key: "is required"}; a key outside the pattern → 422 {key: "invalid setting
//   key …"}; invalid value → 422 {value: "<why>"}.
result<std::string> validate(std::string_view key, std::string_view value);

// Human byte sizes: a decimal number (optionally with a fraction) and an optional unit,
// case-insensitive: B, K/KB (1000), Ki/KiB (1024), M/MB, Mi/MiB, G/GB, Gi/GiB, T/TB, Ti/TiB,
// P/PB, Pi/PiB, E/EB, Ei/EiB; spaces between number and unit allowed. nullopt when not parsable or
// beyond 2^63-1.
std::optional<std::uint64_t> parse_byte_size(std::string_view text) noexcept;

// A valid single DNS label for the local top-level domain (see dns_tld above), already lower-case.
bool is_valid_tld(std::string_view label) noexcept;

// Locale catalogue (behavior-core.md §5.7).
struct locale_info {
  std::string_view code;
  std::string_view native_name;
  std::string_view english_name;
};
// Codes with a translation catalogue: en-US first, then the rest sorted.
std::span<const std::string_view> populated_locales() noexcept;
// The 21 common languages and the country-locale list the UI offers.
std::span<const locale_info> common_languages() noexcept;
std::span<const locale_info> extended_locales() noexcept;
// `locale` accepts any code offered by the three lists above.
bool is_supported_locale(std::string_view code) noexcept;

}  // namespace sc::settings
