#include "core/dns.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sc::dns {

namespace {

constexpr std::string_view type_names[] = {"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR"};

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool label_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Why `label` is not one DNS label, or empty when it is.
std::string label_problem(std::string_view label) {
  if (label.empty()) return "has an empty label";
  if (label.size() > max_label_length) return "has a label longer than 63 bytes";
  if (!std::all_of(label.begin(), label.end(), label_char))
    return "may hold only letters, digits, '-' and '_' in its labels";
  if (label.front() == '-' || label.back() == '-') return "has a label starting or ending with '-'";
  return {};
}

std::optional<std::uint16_t> parse_u16(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Splits on single spaces; runs of spaces or tabs count as one separator.
std::vector<std::string_view> fields_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    std::size_t end = at;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end;
  }
  return out;
}

problem value_error(std::string message) {
  return problem::unprocessable("value", std::move(message));
}

}  // namespace

result<record_type> parse_record_type(std::string_view text) {
  for (std::size_t i = 0; i < std::size(type_names); ++i) {
    std::string_view name = type_names[i];
    if (name.size() == text.size() &&
        std::equal(name.begin(), name.end(), text.begin(), [](char a, char b) { return lower(a) == lower(b); }))
      return static_cast<record_type>(i);
  }
  return problem::unprocessable("type", "must be one of A, AAAA, CNAME, MX, TXT, SRV, PTR");
}

std::string_view to_string(record_type type) noexcept {
  return type_names[static_cast<std::size_t>(type)];
}

result<std::string> canonical_domain(std::string_view text, std::string_view field) {
  std::string_view name = text;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return problem::unprocessable(std::string(field), "must be a domain name");
  if (name.size() > max_name_length) return problem::unprocessable(std::string(field), "is longer than 253 bytes");
  std::string out;
  out.reserve(name.size());
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (auto why = label_problem(label); !why.empty()) return problem::unprocessable(std::string(field), why);
    for (char c : label) out.push_back(lower(c));
    if (dot == std::string_view::npos) break;
    out.push_back('.');
    start = dot + 1;
  }
  return out;
}

result<std::string> relative_owner(std::string_view name, std::string_view tld) {
  if (name.empty() || name == "@") return std::string("@");
  if (name.find('*') != std::string_view::npos) return problem::unprocessable("name", "wildcards are not supported");
  auto canonical = canonical_domain(name, "name");
  if (!canonical) return canonical.error();
  std::string full = std::move(*canonical);
  std::string suffix = "." + std::string(tld);
  if (full == tld) return std::string("@");
  if (full.size() > suffix.size() && full.ends_with(suffix)) full.resize(full.size() - suffix.size());
  if (full.size() + suffix.size() > max_name_length)
    return problem::unprocessable("name", "is longer than 253 bytes with the zone");
  return full;
}

std::optional<std::string> canonical_address(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string copy(text);
  char out[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  if (::inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    if (::inet_ntop(AF_INET, &v4, out, sizeof out) == nullptr) return std::nullopt;
    return std::string(out);
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
    if (::inet_ntop(AF_INET6, &v6, out, sizeof out) == nullptr) return std::nullopt;
    return std::string(out);
  }
  return std::nullopt;
}

result<std::string> canonical_value(record_type type, std::string_view value) {
  switch (type) {
    case record_type::a: {
      in_addr v4{};
      std::string copy(value.substr(0, 16));
      char out[INET_ADDRSTRLEN] = {};
      if (value.size() > 15 || ::inet_pton(AF_INET, copy.c_str(), &v4) != 1 ||
          ::inet_ntop(AF_INET, &v4, out, sizeof out) == nullptr)
        return value_error("must be an IPv4 address like 192.168.1.10");
      return std::string(out);
    }
    case record_type::aaaa: {
      in6_addr v6{};
      std::string copy(value.substr(0, INET6_ADDRSTRLEN));
      char out[INET6_ADDRSTRLEN] = {};
      if (value.size() >= INET6_ADDRSTRLEN || value.find('.') != std::string_view::npos ||
          ::inet_pton(AF_INET6, copy.c_str(), &v6) != 1 || ::inet_ntop(AF_INET6, &v6, out, sizeof out) == nullptr)
        return value_error("must be an IPv6 address like fd00::10");
      // inet_ntop writes IPv4-mapped and -compatible addresses ("::1:1") with a dotted tail, which
      // is not the form accepted here: those are not addresses an AAAA record means anyway.
      if (std::string_view(out).find('.') != std::string_view::npos)
        return value_error("must be an IPv6 address like fd00::10, not an IPv4-mapped or -compatible one");
      return std::string(out);
    }
    case record_type::cname:
    case record_type::ptr: {
      auto target = canonical_domain(value, "value");
      if (!target) return target.error();
      return *target + ".";
    }
    case record_type::mx: {
      auto parts = fields_of(value);
      if (parts.size() != 2) return value_error("must be \"<preference> <mail server>\", e.g. \"10 mail.example.com\"");
      auto preference = parse_u16(parts[0]);
      if (!preference) return value_error("preference must be a number from 0 to 65535");
      auto target = canonical_domain(parts[1], "value");
      if (!target) return target.error();
      return std::to_string(*preference) + " " + *target + ".";
    }
    case record_type::srv: {
      auto parts = fields_of(value);
      if (parts.size() != 4)
        return value_error("must be \"<priority> <weight> <port> <target>\", e.g. \"10 5 5060 sip.example.com\"");
      std::string out;
      for (std::size_t i = 0; i < 3; ++i) {
        auto number = parse_u16(parts[i]);
        if (!number) return value_error("priority, weight and port must be numbers from 0 to 65535");
        out += std::to_string(*number) + " ";
      }
      if (parts[3] == ".") return out + ".";  // "no service here" (RFC 2782)
      auto target = canonical_domain(parts[3], "value");
      if (!target) return target.error();
      return out + *target + ".";
    }
    case record_type::txt: {
      if (value.empty()) return value_error("must not be empty");
      if (value.size() > max_txt_length) return value_error("is longer than 4000 bytes");
      for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) return value_error("must not hold control characters");
      }
      return std::string(value);
    }
  }
  return value_error("unknown type");
}

result<std::uint32_t> check_ttl(std::int64_t ttl) {
  if (ttl == 0) return default_ttl;
  if (ttl < min_ttl || ttl > max_ttl)
    return problem::unprocessable("ttl", "must be from " + std::to_string(min_ttl) + " to " + std::to_string(max_ttl) +
                                             " seconds (0: " + std::to_string(default_ttl) + ")");
  return static_cast<std::uint32_t>(ttl);
}

result<record> make_record(std::string_view name, std::string_view type, std::string_view value, std::int64_t ttl,
                           std::string_view tld) {
  auto parsed_type = parse_record_type(type);
  if (!parsed_type) return parsed_type.error();
  auto owner = relative_owner(name, tld);
  if (!owner) return owner.error();
  if (*owner == "ns") return problem::conflict("ns." + std::string(tld) + " is the DNS server's own name");
  auto canonical = canonical_value(*parsed_type, value);
  if (!canonical) return canonical.error();
  auto checked_ttl = check_ttl(ttl);
  if (!checked_ttl) return checked_ttl.error();
  return record{std::move(*owner), *parsed_type, std::move(*canonical), *checked_ttl};
}

result<void> check_coexistence(const std::vector<record>& existing, const record& candidate) {
  if (candidate.type == record_type::cname && candidate.name == "@")
    return problem::conflict("a CNAME cannot be at the zone's apex");
  for (const auto& r : existing) {
    if (r.name != candidate.name) continue;
    if (r.type == candidate.type && r.value == candidate.value)
      return problem::conflict("the record " + r.name + " " + std::string(to_string(r.type)) + " " + r.value +
                               " exists");
    if (r.type == record_type::cname || candidate.type == record_type::cname)
      return problem::conflict("a CNAME cannot share its name with another record (" + r.name + ")");
  }
  return {};
}

std::optional<std::string> package_owner(std::string_view effective_name, std::string_view repo) {
  auto name = canonical_domain(effective_name, "name");
  auto repository = canonical_domain(repo, "repo");
  if (!name || !repository) return std::nullopt;
  if (name->find('.') != std::string::npos || repository->find('.') != std::string::npos) return std::nullopt;
  if (name->size() + repository->size() + 1 + 64 > max_name_length) return std::nullopt;
  return *name + "." + *repository;
}

std::string quote_txt(std::string_view text) {
  constexpr std::size_t chunk = 255;
  std::string out;
  for (std::size_t at = 0; at < text.size() || at == 0; at += chunk) {
    if (!out.empty()) out.push_back(' ');
    out.push_back('"');
    for (char ch : text.substr(at, chunk)) {
      auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(ch);
      } else if (c < 0x20 || c > 0x7e) {
        char digits[5] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                          static_cast<char>('0' + c % 10), 0};
        out += digits;
      } else {
        out.push_back(ch);
      }
    }
    out.push_back('"');
    if (text.empty()) break;
  }
  return out;
}

std::string render_zone(const zone& z) {
  std::string origin = z.tld + ".";
  std::string out;
  out += "; Generated by systemcontroller; regenerated on every change, never edited.\n";
  out += "$ORIGIN " + origin + "\n";
  out += "$TTL " + std::to_string(default_ttl) + "\n";
  out +=
      "@ 3600 IN SOA ns." + origin + " hostmaster." + origin + " " + std::to_string(z.serial) + " 3600 600 604800 60\n";
  out += "@ 3600 IN NS ns." + origin + "\n";
  if (auto ns = canonical_address(z.nameserver_address)) {
    out += std::string("ns 3600 IN ") + (ns->find(':') == std::string::npos ? "A " : "AAAA ") + *ns + "\n";
  }
  for (const auto& r : z.records) {
    // Rendered only when it is exactly what the rules make of it: nothing else reaches the file.
    // (The owner is checked as a name, not folded again: "web.home" in zone "home" is a name of
    // its own, web.home.home.)
    bool owner_ok = r.name == "@";
    if (!owner_ok) {
      auto owner = canonical_domain(r.name, "name");
      owner_ok = owner && *owner == r.name && r.name.size() + 1 + z.tld.size() <= max_name_length;
    }
    auto value = canonical_value(r.type, r.value);
    if (!owner_ok || !value || *value != r.value || r.ttl < min_ttl || r.ttl > max_ttl) continue;
    if (r.name == "ns") continue;  // the server's own name
    out += r.name + " " + std::to_string(r.ttl) + " IN " + std::string(to_string(r.type)) + " ";
    out += r.type == record_type::txt ? quote_txt(r.value) : r.value;
    out += "\n";
  }
  return out;
}

}  // namespace sc::dns

namespace sc::dns {

result<std::string> canonical_network(std::string_view text, std::string_view field) {
  const std::string message = "must be an IP address or a network like 192.0.2.0/24";
  auto slash = text.find('/');
  std::string_view address = text.substr(0, slash);
  if (address.empty() || address.size() >= INET6_ADDRSTRLEN) return problem::unprocessable(std::string(field), message);
  std::string copy(address);
  unsigned char bytes[16] = {};
  int family = AF_INET;
  std::size_t length = 4;
  if (::inet_pton(AF_INET, copy.c_str(), bytes) != 1) {
    family = AF_INET6;
    length = 16;
    if (::inet_pton(AF_INET6, copy.c_str(), bytes) != 1) return problem::unprocessable(std::string(field), message);
  }
  unsigned prefix = static_cast<unsigned>(length * 8);
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    unsigned parsed = 0;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), parsed);
    if (bits.empty() || bits.size() > 3 || ec != std::errc() || end != bits.data() + bits.size() || parsed > prefix)
      return problem::unprocessable(std::string(field), "has a prefix length out of range");
    prefix = parsed;
  }
  for (std::size_t bit = prefix; bit < length * 8; ++bit) {
    if ((bytes[bit / 8] & (0x80u >> (bit % 8))) != 0)
      return problem::unprocessable(std::string(field), "has bits set beyond its prefix length");
  }
  char out[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, bytes, out, sizeof out) == nullptr)
    return problem::unprocessable(std::string(field), message);
  std::string canonical = out;
  if (slash != std::string_view::npos) canonical += "/" + std::to_string(prefix);
  return canonical;
}

result<std::string> canonical_allowlist_entry(std::string_view text) {
  if (auto network = canonical_network(text, "entry")) return network;
  auto domain = canonical_domain(text, "entry");
  if (!domain) return problem::unprocessable("entry", "must be an IP address, a network or a domain name");
  return domain;
}

result<std::vector<std::string>> canonical_blocklist_zones(const std::vector<std::string>& zones) {
  if (zones.size() > 32) return problem::unprocessable("zones", "at most 32 zones");
  std::vector<std::string> out;
  for (const auto& z : zones) {
    auto domain = canonical_domain(z, "zones");
    if (!domain) return domain.error();
    if (std::find(out.begin(), out.end(), *domain) == out.end()) out.push_back(std::move(*domain));
  }
  return out;
}

result<std::string> canonical_service_key(std::string_view text, std::string_view field) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return problem::unprocessable(std::string(field), "must be \"<repo>/<name>\" of an installed package");
  auto owner = package_owner(text.substr(slash + 1), text.substr(0, slash));
  if (!owner) return problem::unprocessable(std::string(field), "names a package that cannot have a DNS name");
  auto dot = owner->find('.');
  return owner->substr(dot + 1) + "/" + owner->substr(0, dot);
}

}  // namespace sc::dns
