#include "core/vm_images.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>

#include "core/json_reader.hpp"

namespace sc::vm_images {

namespace {

problem bad_url(std::string detail) {
  return problem::unprocessable("url", std::move(detail));
}

std::uint32_t v4_bits(const ip_address& a) noexcept {
  return (std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) | (std::uint32_t{a.bytes[2]} << 8) |
         std::uint32_t{a.bytes[3]};
}

bool in_v4(std::uint32_t address, std::uint32_t network, int prefix) noexcept {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (address & mask) == (network & mask);
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) noexcept {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

std::optional<std::string_view> v4_refusal(std::uint32_t a) noexcept {
  struct range {
    std::uint32_t network;
    int prefix;
    std::string_view why;
  };
  // RFC 6890 and the IANA special-purpose registry: nothing here is a public server.
  static constexpr std::array<range, 16> ranges = {{
      {v4(0, 0, 0, 0), 8, "unspecified (0.0.0.0/8)"},
      {v4(10, 0, 0, 0), 8, "private (10.0.0.0/8)"},
      {v4(100, 64, 0, 0), 10, "shared CGNAT (100.64.0.0/10)"},
      {v4(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"},
      {v4(169, 254, 0, 0), 16, "link-local (169.254.0.0/16)"},
      {v4(172, 16, 0, 0), 12, "private (172.16.0.0/12)"},
      {v4(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0.0/24)"},
      {v4(192, 0, 2, 0), 24, "documentation (192.0.2.0/24)"},
      {v4(192, 88, 99, 0), 24, "6to4 relay anycast (192.88.99.0/24)"},
      {v4(192, 168, 0, 0), 16, "private (192.168.0.0/16)"},
      {v4(198, 18, 0, 0), 15, "benchmarking (198.18.0.0/15)"},
      {v4(198, 51, 100, 0), 24, "documentation (198.51.100.0/24)"},
      {v4(203, 0, 113, 0), 24, "documentation (203.0.113.0/24)"},
      {v4(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"},
      {v4(240, 0, 0, 0), 4, "reserved (240.0.0.0/4)"},
      {v4(255, 255, 255, 255), 32, "broadcast"},
  }};
  for (const auto& r : ranges) {
    if (in_v4(a, r.network, r.prefix)) return r.why;
  }
  return std::nullopt;
}

bool prefix_is(const ip_address& a, std::initializer_list<std::uint8_t> head) noexcept {
  return std::equal(head.begin(), head.end(), a.bytes.begin());
}

std::uint32_t embedded_v4(const ip_address& a, std::size_t at) noexcept {
  return (std::uint32_t{a.bytes[at]} << 24) | (std::uint32_t{a.bytes[at + 1]} << 16) |
         (std::uint32_t{a.bytes[at + 2]} << 8) | std::uint32_t{a.bytes[at + 3]};
}

std::optional<std::string_view> v6_refusal(const ip_address& a) noexcept {
  const auto& b = a.bytes;
  const bool first_80_zero = std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; });
  if (first_80_zero && b[10] == 0 && b[11] == 0) {
    // ::/96: the unspecified address, loopback and the deprecated IPv4-compatible form; none is a
    // public server, and a stack may route the compatible form to its IPv4 address.
    if (std::all_of(b.begin() + 12, b.end(), [](std::uint8_t x) { return x == 0; })) return "unspecified (::)";
    if (embedded_v4(a, 12) == 1) return "loopback (::1)";
    return "IPv4-compatible IPv6 (::/96)";
  }
  if (first_80_zero && b[10] == 0xff && b[11] == 0xff) {
    // ::ffff:a.b.c.d reaches a.b.c.d through a dual-stack socket.
    if (auto why = v4_refusal(embedded_v4(a, 12))) return why;
    return std::nullopt;
  }
  if (prefix_is(a, {0x00, 0x64, 0xff, 0x9b})) {  // NAT64 64:ff9b::/96 (and the local-use /48)
    if (auto why = v4_refusal(embedded_v4(a, 12))) return why;
    if (b[4] == 0 && b[5] == 1) return "local-use NAT64 (64:ff9b:1::/48)";
    return std::nullopt;
  }
  if (prefix_is(a, {0x20, 0x02})) {  // 6to4 2002:a.b.c.d::/48
    if (auto why = v4_refusal(embedded_v4(a, 2))) return why;
    return std::nullopt;
  }
  if ((b[0] & 0xfe) == 0xfc) return "unique local (fc00::/7)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local (fe80::/10)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local (fec0::/10)";
  if (b[0] == 0xff) return "multicast (ff00::/8)";
  if (prefix_is(a, {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})) return "discard-only (100::/64)";
  if (prefix_is(a, {0x20, 0x01, 0x0d, 0xb8})) return "documentation (2001:db8::/32)";
  if (prefix_is(a, {0x20, 0x01, 0x00, 0x00})) return "Teredo (2001::/32)";
  if (prefix_is(a, {0x20, 0x01, 0x00}) && (b[3] & 0xf0) == 0x10) return "ORCHIDv2 (2001:10::/28)";
  if (prefix_is(a, {0x3f, 0xff}) && (b[2] & 0xf0) == 0x00) return "documentation (3fff::/20)";
  return std::nullopt;
}

// A host Boost.URL read as a registered name, but which a resolver (inet_aton) or a browser (the
// WHATWG URL standard) would read as an IPv4 number: the last label is all digits, or 0x hex.
bool looks_numeric(std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) return true;
  return std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool valid_dns_name(std::string_view host) noexcept {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return true;
}

result<fetch_target> from_url(const boost::urls::url_view& u) {
  fetch_target out;
  if (u.scheme_id() == boost::urls::scheme::https) {
    out.https = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    return bad_url("only http and https URLs can be downloaded");
  }
  if (u.has_userinfo()) return bad_url("a URL with credentials (user@host) is not accepted");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4: {
      auto bytes = u.host_ipv4_address().to_bytes();
      ip_address a;
      std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
      out.literal = a;
      out.host = a.to_string();
      // Boost.URL reads only canonical dotted quads as IPv4; make sure the text is that one.
      if (std::string(u.encoded_host()) != out.host) return bad_url("a numeric host must be a canonical dotted quad");
      break;
    }
    case boost::urls::host_type::ipv6: {
      auto bytes = u.host_ipv6_address().to_bytes();
      ip_address a;
      a.v6 = true;
      std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
      out.literal = a;
      out.host = a.to_string();
      break;
    }
    case boost::urls::host_type::name: {
      std::string_view encoded = u.encoded_host();
      if (encoded.find('%') != std::string_view::npos) return bad_url("a percent-encoded host is not accepted");
      std::string host(encoded);
      std::transform(host.begin(), host.end(), host.begin(),
                     [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
      if (looks_numeric(host)) {
        return bad_url("a numeric host must be a canonical dotted quad (no decimal, octal or hex forms)");
      }
      if (!valid_dns_name(host)) return bad_url("the host is not a valid DNS name");
      out.host = std::move(host);
      break;
    }
    default:
      return bad_url("the URL has no usable host");
  }
  if (u.has_port()) {
    if (u.port().empty()) return bad_url("the URL has an empty port");
    unsigned port = 0;
    auto text = u.port();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc{} || end != text.data() + text.size() || port == 0 || port > 65535) {
      return bad_url("the URL's port must be 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  } else {
    out.port = out.https ? 443 : 80;
  }
  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (out.target.front() != '/') return bad_url("the URL's path must be absolute");
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad_url("the URL holds a space or control character");
  }
  std::string shown_host = out.literal && out.literal->v6 ? "[" + out.host + "]" : out.host;
  const bool default_port = out.port == (out.https ? 443 : 80);
  out.host_header = default_port ? shown_host : shown_host + ":" + std::to_string(out.port);
  out.text = std::string(out.https ? "https://" : "http://") + out.host_header + out.target;
  auto segments = u.segments();
  if (!segments.empty()) out.filename = segments.back();
  return out;
}

bool name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

std::string_view basename_of(std::string_view text) noexcept {
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  auto slash = text.rfind('/');
  return slash == std::string_view::npos ? text : text.substr(slash + 1);
}

// Room for ".download" and ".converting" after the name, within NAME_MAX.
constexpr std::size_t max_name_length = 200;

result<void> check_name_chars(std::string_view name) {
  if (name.empty()) return problem::unprocessable("name", "the image name is empty");
  if (name.size() > max_name_length) return problem::unprocessable("name", "the image name is too long");
  if (name.front() == '.' || name.front() == '-') {
    return problem::unprocessable("name", "the image name must not start with '.' or '-'");
  }
  if (!std::all_of(name.begin(), name.end(), name_char)) {
    return problem::unprocessable("name", "the image name may hold only letters, digits, '.', '_' and '-'");
  }
  return {};
}

}  // namespace

ip_address ip_address::v4_of(std::uint32_t host_order) noexcept {
  ip_address a;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

std::string ip_address::to_string() const {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text.data(), text.size()) == nullptr) return {};
  return text.data();
}

std::optional<ip_address> parse_ip_literal(std::string_view text) noexcept {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  std::copy(text.begin(), text.end(), buffer.begin());
  ip_address a;
  if (text.find(':') != std::string_view::npos) {
    a.v6 = true;
    if (::inet_pton(AF_INET6, buffer.data(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  // Four decimal parts without leading zeros; inet_pton's IPv4 grammar is the same, but say it.
  std::uint32_t value = 0;
  int parts = 0;
  std::size_t at = 0;
  while (at <= text.size()) {
    auto dot = text.find('.', at);
    std::string_view part = text.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at);
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0')) return std::nullopt;
    unsigned n = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (ec != std::errc{} || end != part.data() + part.size() || n > 255) return std::nullopt;
    value = (value << 8) | n;
    if (++parts > 4) return std::nullopt;
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  if (parts != 4) return std::nullopt;
  return ip_address::v4_of(value);
}

std::optional<std::string_view> refusal_reason(const ip_address& address) noexcept {
  return address.v6 ? v6_refusal(address) : v4_refusal(v4_bits(address));
}

std::optional<allowed_endpoint> parse_allowed_endpoint(std::string_view text) noexcept {
  allowed_endpoint out;
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(0, close + 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto address = parse_ip_literal(host);
  if (!address) return std::nullopt;
  out.address = *address;
  if (!port.empty() || (host.size() != text.size())) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || n == 0 || n > 65535) {
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(n);
  }
  return out;
}

result<void> check_dial(const ip_address& address, std::uint16_t port, std::span<const allowed_endpoint> allowed) {
  for (const auto& entry : allowed) {
    if (entry.address == address && (!entry.port || *entry.port == port)) return {};
  }
  if (auto why = refusal_reason(address)) {
    return bad_url("the address " + address.to_string() + " is not allowed: " + std::string(*why));
  }
  return {};
}

result<fetch_target> parse_fetch_url(std::string_view url) {
  if (url.empty()) return bad_url("the URL is empty");
  if (url.size() > max_url_length) return bad_url("the URL is too long");
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return bad_url("the URL does not parse");
  return from_url(*parsed);
}

result<fetch_target> resolve_redirect(const fetch_target& base, std::string_view location) {
  if (location.empty()) return bad_url("a redirect without a Location");
  if (location.size() > max_url_length) return bad_url("a redirect's Location is too long");
  auto reference = boost::urls::parse_uri_reference(location);
  if (!reference) return bad_url("a redirect's Location does not parse");
  auto base_url = boost::urls::parse_absolute_uri(base.text);
  if (!base_url) return bad_url("the URL does not parse");
  boost::urls::url resolved;
  if (auto r = boost::urls::resolve(*base_url, *reference, resolved); !r) {
    return bad_url("a redirect's Location does not resolve");
  }
  resolved.remove_fragment();
  if (resolved.buffer().size() > max_url_length) return bad_url("a redirect's Location is too long");
  return from_url(resolved);
}

result<std::string> image_name(std::string_view requested, std::string_view url_filename) {
  std::string_view base = basename_of(requested.empty() ? url_filename : requested);
  if (base.empty()) {
    return problem::unprocessable("name",
                                  requested.empty() ? "the URL names no file: give a name" : "the name is empty");
  }
  auto dot = base.rfind('.');
  std::string stem(dot == std::string_view::npos || dot == 0 ? base : base.substr(0, dot));
  std::string name = stem + ".raw";
  if (auto ok = check_name_chars(name); !ok) return ok.error();
  return name;
}

result<std::string> existing_image_name(std::string_view requested) {
  std::string name(basename_of(requested));
  if (auto ok = check_name_chars(name); !ok) return ok.error();
  return name;
}

bool is_listed_image(std::string_view file_name) noexcept {
  return file_name.size() > 4 && file_name.ends_with(".raw") && !file_name.starts_with('.');
}

result<image_facts> check_image_info(std::string_view info_json, std::uint64_t max_size) {
  auto bad = [](std::string why) { return problem::unprocessable("url", std::move(why)); };
  simdjson::dom::object info;
  if (json::parse(info_json).get(info) != simdjson::SUCCESS) return bad("qemu-img could not describe the image");
  image_facts facts;
  std::string_view format;
  if (info["format"].get(format) != simdjson::SUCCESS) return bad("qemu-img could not tell the image's format");
  facts.format = std::string(format);
  // Formats a cloud image comes in; anything else (and the protocol-like ones) is refused.
  static constexpr std::array<std::string_view, 6> accepted = {"raw", "qcow2", "vmdk", "vdi", "vhdx", "vpc"};
  if (std::find(accepted.begin(), accepted.end(), facts.format) == accepted.end()) {
    return bad("unsupported image format " + facts.format.substr(0, 32));
  }
  auto has = [](simdjson::dom::object o, std::string_view key) { return o[key].error() == simdjson::SUCCESS; };
  for (std::string_view key : {"backing-filename", "full-backing-filename", "backing-filename-format"}) {
    if (has(info, key)) return bad("an image with a backing file is not accepted");
  }
  if (simdjson::dom::object d; info.at_pointer("/format-specific/data").get(d) == simdjson::SUCCESS) {
    if (has(d, "data-file") || has(d, "data-file-raw"))
      return bad("an image with an external data file is not accepted");
    if (bool corrupt = false; d["corrupt"].get(corrupt) == simdjson::SUCCESS && corrupt) {
      return bad("the image is marked corrupt");
    }
    if (simdjson::dom::array extents; d["extents"].get(extents) == simdjson::SUCCESS) {
      // A vmdk descriptor names its extents as files; only a monolithic image has just itself.
      std::string_view own;
      const bool named = info["filename"].get(own) == simdjson::SUCCESS;
      for (simdjson::dom::element extent : extents) {
        std::string_view file;
        if (!named || extent["filename"].get(file) != simdjson::SUCCESS || file != own) {
          return bad("a vmdk image whose extents are other files is not accepted");
        }
      }
    }
  }
  simdjson::dom::element size;
  if (info["virtual-size"].get(size) != simdjson::SUCCESS) return bad("qemu-img could not tell the image's size");
  if (std::uint64_t n = 0; size.get(n) == simdjson::SUCCESS) {
    facts.virtual_size = n;
  } else {
    return bad("qemu-img could not tell the image's size");
  }
  if (max_size != 0 && facts.virtual_size > max_size) {
    problem p(413, "the image's disk is " + std::to_string(facts.virtual_size) + " bytes, over vm_image_max_size (" +
                       std::to_string(max_size) + ")");
    return p;
  }
  return facts;
}

}  // namespace sc::vm_images
