#pragma once
// CORS and Private Network Access (behavior-core.md §2.6): the origin predicate that defeats DNS
// rebinding, and the header values. Pure; the dispatcher (server/app_requests.cpp) applies them.
//
// An origin is allowed when
//   1. it is non-empty (with `allow_any_origin`, any non-empty origin is allowed — a debug switch);
//   2. it parses as scheme://host[:port] with a non-empty host ("null", "://", "http://" fail);
//   3. its host equals (ASCII case-insensitive) one of the allowed hosts; or
//   4. its host equals the Host header's host (port stripped) AND that host is an IP literal or an
//      allowed host.
// Exact matches only: no suffix rules (`townos.evil.test` is not `townos`). A DNS name pointed at
// the box (Origin and Host both `box.evil.example`) is therefore rejected: a rebinding page cannot
// read responses, while the box's own IP literal on another port (the UI on :80, the API on :5309)
// works.

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sc::cors {

inline constexpr std::string_view allow_methods = "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS";
inline constexpr std::string_view allow_headers = "Content-Type,Authorization,Accept";
inline constexpr std::string_view expose_headers = "Content-Type";
inline constexpr std::string_view max_age = "3600";

// The host of an Origin value ("http://[::1]:80" → "::1"), lower-cased; "" when it has none.
std::string origin_host(std::string_view origin);
// The host of a Host header ("192.168.1.10:5309" → "192.168.1.10", "[::1]:5309" and "::1" → "::1"),
// lower-cased.
std::string host_header_host(std::string_view host);
// True for an IPv4 or IPv6 literal (brackets allowed).
bool is_ip_literal(std::string_view host) noexcept;

// The allowed hosts: `configured` + "localhost" + `hostname`, `hostname`.local and
// `hostname`.`dns_tld` (the last three only when `hostname` is non-empty; the last only when
// `dns_tld` is non-empty), lower-cased, without duplicates.
std::vector<std::string> allowed_hosts(std::span<const std::string> configured, std::string_view hostname,
                                       std::string_view dns_tld);

// The predicate above. `allowed` must be lower-case (as allowed_hosts returns).
bool origin_allowed(std::string_view origin, std::string_view host_header, std::span<const std::string> allowed,
                    bool allow_any_origin = false);

}  // namespace sc::cors
