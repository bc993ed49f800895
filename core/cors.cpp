#include "core/cors.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace sc::cors {

namespace {

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool valid_scheme(std::string_view scheme) noexcept {
  if (scheme.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(scheme.front())) return false;
  return std::all_of(scheme.begin(), scheme.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'; });
}

// "host[:port]" or "[v6][:port]" → host. A bare IPv6 literal (several colons, no brackets) is kept
// whole, as browsers never send it but the Host header of a hand-made request might.
std::string_view strip_port(std::string_view authority) noexcept {
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return {};
    return authority.substr(1, close - 1);
  }
  auto colon = authority.find(':');
  if (colon == std::string_view::npos) return authority;
  if (authority.find(':', colon + 1) != std::string_view::npos) return authority;  // bare IPv6
  return authority.substr(0, colon);
}

}  // namespace

std::string origin_host(std::string_view origin) {
  auto separator = origin.find("://");
  if (separator == std::string_view::npos || !valid_scheme(origin.substr(0, separator))) return {};
  std::string_view rest = origin.substr(separator + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  std::string_view host = strip_port(rest);
  for (unsigned char c : host) {
    if (c <= 0x20 || c == 0x7F) return {};
  }
  return lowered(host);
}

std::string host_header_host(std::string_view host) {
  return lowered(strip_port(host));
}

bool is_ip_literal(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  char text[INET6_ADDRSTRLEN] = {};
  std::copy(host.begin(), host.end(), text);
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, text, buffer) == 1 || ::inet_pton(AF_INET6, text, buffer) == 1;
}

std::vector<std::string> allowed_hosts(std::span<const std::string> configured, std::string_view hostname,
                                       std::string_view dns_tld) {
  std::vector<std::string> hosts;
  auto add = [&hosts](std::string host) {
    if (host.empty()) return;
    if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(std::move(host));
  };
  for (const auto& host : configured) add(lowered(host));
  add("localhost");
  if (!hostname.empty()) {
    std::string name = lowered(hostname);
    add(name);
    add(name + ".local");
    if (!dns_tld.empty()) add(name + "." + lowered(dns_tld));
  }
  return hosts;
}

bool origin_allowed(std::string_view origin, std::string_view host_header, std::span<const std::string> allowed,
                    bool allow_any_origin) {
  if (origin.empty()) return false;
  if (allow_any_origin) return true;
  std::string host = origin_host(origin);
  if (host.empty()) return false;
  auto listed = [&allowed](const std::string& name) {
    return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
  };
  if (listed(host)) return true;
  std::string self = host_header_host(host_header);
  if (self.empty() || self != host) return false;
  return is_ip_literal(self) || listed(self);
}

}  // namespace sc::cors
