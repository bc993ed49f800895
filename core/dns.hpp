#pragma once
// The local DNS zone (behavior-ops.md §9, issue 15): record types, the rules every name and value
// obeys, and the zone file text the authoritative server loads. Pure functions: no I/O.
//
// The zone is the `dns_tld` setting's one label (core/settings.hpp). Owner names are kept relative
// to it ("printer", "web.default", "_sip._tcp"; "@" is the apex), so changing the TLD moves every
// record with it. A name given with the zone's suffix ("printer.home", "printer.home.") is folded
// to the relative form.
//
// Zone text is made only from values these rules accepted and rendered canonically (addresses via
// their binary form, names as lower-case labels of [a-z0-9_-], TXT as quoted, escaped strings), so
// no input can end a line, open a comment (';'), start a directive ('$ORIGIN', '$INCLUDE') or add
// a record: there is no character in an accepted name or non-TXT value that the zone syntax treats
// specially, and TXT escapes every byte outside printable ASCII and every quote and backslash.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::dns {

enum class record_type { a, aaaa, cname, mx, txt, srv, ptr };
// "A", "aaaa", ... (case-insensitive); else 422 naming the field "type".
result<record_type> parse_record_type(std::string_view text);
std::string_view to_string(record_type type) noexcept;

inline constexpr std::uint32_t min_ttl = 30;
inline constexpr std::uint32_t max_ttl = 604'800;  // one week
inline constexpr std::uint32_t default_ttl = 300;
inline constexpr std::size_t max_name_length = 253;  // presentation form without the final dot
inline constexpr std::size_t max_label_length = 63;
inline constexpr std::size_t max_txt_length = 4000;  // bytes of a TXT value (split in 255-byte strings)
inline constexpr std::size_t max_records = 10'000;   // manual records in the zone

struct record {
  std::string name;  // relative to the zone, canonical ("@" for the apex)
  record_type type = record_type::a;
  std::string value;  // canonical (see canonical_value)
  std::uint32_t ttl = default_ttl;
};

// A domain name of 1..127 labels of 1..63 bytes of [A-Za-z0-9_-], no label starting or ending with
// '-', at most 253 bytes, one optional final dot; returned lower-case without the final dot.
// 422 naming `field` otherwise.
result<std::string> canonical_domain(std::string_view text, std::string_view field);

// The owner name relative to `tld`: "@" or "" is the apex; a name ending in ".<tld>" (with or
// without the final dot) loses that suffix; the result obeys canonical_domain and, with the zone
// appended, the 253-byte bound. Wildcards ('*') are refused. 422 naming the field "name".
result<std::string> relative_owner(std::string_view name, std::string_view tld);

// The value of a record of `type` in canonical form, or 422 naming the field "value":
//   A      dotted-quad IPv4 ("10.0.0.5"), re-rendered from its binary form
//   AAAA   IPv6 ("fd00::5"), re-rendered in RFC 5952 form
//   CNAME  a domain name (canonical_domain), rendered absolute with a final dot
//   PTR    the same
//   MX     "<preference 0..65535> <domain>"
//   SRV    "<priority> <weight> <port> <domain>", each number 0..65535
//   TXT    1..4000 bytes, no control characters (valid UTF-8 or not: bytes are escaped)
result<std::string> canonical_value(record_type type, std::string_view value);

// TTL 0 (absent) is the default; otherwise min_ttl..max_ttl, else 422 naming "ttl".
result<std::uint32_t> check_ttl(std::int64_t ttl);

// A whole record from API input, every part canonical. `tld` is the current zone.
result<record> make_record(std::string_view name, std::string_view type, std::string_view value, std::int64_t ttl,
                           std::string_view tld);

// Whether `candidate` may join `existing` (records at every name): a CNAME cannot share its name
// with anything (RFC 1034 §3.6.2) nor sit at the apex; the same name, type and value twice is a
// duplicate. 409 otherwise.
result<void> check_coexistence(const std::vector<record>& existing, const record& candidate);

// The relative owner name of an installed package: "<effective name>.<repo>", each label folded
// to lower case; nullopt when either is not a DNS label (such a package gets no name).
std::optional<std::string> package_owner(std::string_view effective_name, std::string_view repo);

// An IPv4 or IPv6 address in canonical form (for the dns_host_address setting); nullopt otherwise.
std::optional<std::string> canonical_address(std::string_view text);

// TXT presentation: quoted strings of at most 255 bytes each, '"' and '\' escaped, every byte
// outside 0x20..0x7e as \DDD.
std::string quote_txt(std::string_view text);

struct zone {
  std::string tld;                 // one label (settings::is_valid_tld)
  std::uint32_t serial = 1;        // SOA serial; must grow with every change the server reloads
  std::string nameserver_address;  // A (or AAAA) of ns.<tld>: the server's own address
  std::vector<record> records;     // already canonical (make_record); rendered in this order
};
// The zone file text: $ORIGIN, $TTL, SOA, NS ns.<tld>., the nameserver's address, then every
// record. Records that are not canonical (a bug, or a row edited by hand) are left out, so the
// text never holds what the rules would refuse.
std::string render_zone(const zone& z);

}  // namespace sc::dns

namespace sc::dns {

// RBL/DNSBL configuration (stored; the authoritative server does not act on it, see README):
// an IPv4/IPv6 address or CIDR network ("192.0.2.0/24", "2001:db8::/32"), canonical, host bits
// zero. 422 naming `field` otherwise.
result<std::string> canonical_network(std::string_view text, std::string_view field);
// A DNSBL allowlist entry: a network (canonical_network) or a domain name (canonical_domain).
result<std::string> canonical_allowlist_entry(std::string_view text);
// Blocklist zones of an RBL/DNSBL configuration: at most 32 domain names, duplicates dropped.
result<std::vector<std::string>> canonical_blocklist_zones(const std::vector<std::string>& zones);
// "<repo>/<effective name>" of dns_excluded_services, both DNS labels; 422 naming `field`.
result<std::string> canonical_service_key(std::string_view text, std::string_view field);

}  // namespace sc::dns
