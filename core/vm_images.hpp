#pragma once
// VM image downloads (behavior-ops.md §9, issue 16): the pure rules, no I/O.
//
//   - which URLs may be fetched (http and https only, no credentials, no numeric host that is not
//     a canonical dotted quad, so `http://2130706433/` and `http://0177.0.0.1/` never reach a
//     resolver that would read them as 127.0.0.1);
//   - which addresses may be dialled (the SSRF guard): never loopback, private, link-local,
//     multicast, unspecified, CGNAT, documentation or reserved space, nor an IPv6 form that embeds
//     such an IPv4 address (mapped, compatible, NAT64, 6to4). The caller checks every address a
//     name resolves to and connects only to those, for the first URL and every redirect;
//   - a test-only allow-list of exact addresses (and ports) that the guard lets through;
//   - the image's file names, and what `qemu-img info` must say before a convert.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::vm_images {

// An IPv4 or IPv6 address in network byte order (IPv4 in the first four bytes).
struct ip_address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  static ip_address v4_of(std::uint32_t host_order) noexcept;
  std::string to_string() const;
  friend bool operator==(const ip_address&, const ip_address&) = default;
};

// A strict literal: a canonical dotted quad (four decimal parts 0..255, no leading zeros) or an
// IPv6 address (inet_pton's grammar, with or without brackets). Nothing else.
std::optional<ip_address> parse_ip_literal(std::string_view text) noexcept;

// Why `address` must never be dialled ("loopback", "private", "link-local", ...), or nullopt
// when it is a public unicast address.
std::optional<std::string_view> refusal_reason(const ip_address& address) noexcept;

// One entry of the test-only allow-list (`--vm-image-allow-address`): an exact address, and the
// one port it is admitted on (nullopt: any port). "127.0.0.1", "127.0.0.1:8080", "[::1]:8080".
struct allowed_endpoint {
  ip_address address;
  std::optional<std::uint16_t> port;
};
std::optional<allowed_endpoint> parse_allowed_endpoint(std::string_view text) noexcept;

// The guard: nothing when `address`:`port` may be dialled, else a 422 naming `url` and why.
result<void> check_dial(const ip_address& address, std::uint16_t port, std::span<const allowed_endpoint> allowed);

// A URL that may be fetched, taken apart for the client.
struct fetch_target {
  bool https = false;
  std::string host;                   // a DNS name (lower case), or the address text of a literal (no brackets)
  std::optional<ip_address> literal;  // set when the host is an IP literal
  std::uint16_t port = 0;             // explicit or the scheme's default
  std::string target;                 // origin-form request target: "/path?query", never empty
  std::string host_header;            // "host[:port]" as the Host header carries it
  std::string filename;               // the last path segment, percent-decoded ("" if none)
  std::string text;                   // the normalised URL, for logs and for resolving redirects
};

inline constexpr std::size_t max_url_length = 8192;

// Parses an absolute URL the client sent (or a redirect's Location resolved against `base`).
// 422 naming `url` for anything but http(s), userinfo, an empty or percent-encoded host, a numeric
// host in any form but a canonical dotted quad, port 0, or a URL over max_url_length.
result<fetch_target> parse_fetch_url(std::string_view url);
result<fetch_target> resolve_redirect(const fetch_target& base, std::string_view location);

// The stored image's name: the basename of `requested` (or of the URL's filename when empty) with
// its last extension replaced by ".raw" ("debian-12.qcow2" → "debian-12.raw"). The result is a
// single name of [A-Za-z0-9._-], not starting with '.' or '-', with room for ".download". 422
// naming `name` otherwise.
result<std::string> image_name(std::string_view requested, std::string_view url_filename);
// A name given to delete: reduced to its basename, then the same character rules (no ".raw"
// is added). 422 naming `name`.
result<std::string> existing_image_name(std::string_view requested);
// Whether a file in the vm-images subvolume is a finished image (listed), not a download or a
// conversion in progress.
bool is_listed_image(std::string_view file_name) noexcept;

// What `qemu-img info --output=json` said about a download, once checked: the format to convert
// from (given to convert with -f, never probed twice) and the virtual size. 422 naming `url` for
// an unsupported format, a backing or external data file (which would make qemu-img read other
// files of this host into the image), an image marked corrupt, or a virtual size over `max_size`
// (0: no limit).
struct image_facts {
  std::string format;
  std::uint64_t virtual_size = 0;
};
result<image_facts> check_image_info(std::string_view info_json, std::uint64_t max_size);

}  // namespace sc::vm_images
