#pragma once
// The HTTPS ingress's pure parts (issue 15): where a package's `http` port is reached, and the
// configuration of the reverse proxy (Caddy, server/ingress_service.hpp) that serves it.
//
// A package whose `http`-named port goes through the ingress (core/packages/plan.hpp,
// port_exposure::ingress) joins the podman network `town-os-ingress` at a fixed address of that
// network's subnet, chosen when it is planned and kept in its install record (an upgrade keeps it).
// The proxy runs on the host and dials that address: a container's address stays what the unit
// file says across restarts, so the proxy's configuration never goes stale behind the controller's
// back (podman would hand a restarted container the next free address).

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::ingress {

inline constexpr std::string_view network_name = "town-os-ingress";

struct ipv4_subnet {
  std::uint32_t network = 0;  // host byte order, host bits zero
  int prefix = 24;
};
// "10.89.255.0/24": an IPv4 network with a prefix of 16 to 28 whose host bits are zero; 400 otherwise.
result<ipv4_subnet> parse_subnet(std::string_view text);
std::string to_string(const ipv4_subnet& subnet);
// Whether `address` (dotted quad) is a host address of `subnet` that allocate_address can give.
bool assignable(const ipv4_subnet& subnet, std::string_view address);
// The lowest host address of `subnet` not in `used`, skipping the network address, the gateway
// (the first host, which podman takes) and the broadcast address. `keep` (an address the package
// had) wins when it is still assignable and free. 503 when every address is taken.
result<std::string> allocate_address(const ipv4_subnet& subnet, const std::set<std::string, std::less<>>& used,
                                     std::string_view keep = {});

// A listen address of the proxy: "ADDR:PORT", "[v6]:PORT" or ":PORT" (every address).
struct listen_address {
  std::string host;  // "" for every address; an IPv6 address without brackets
  unsigned short port = 0;
  std::string text() const;  // as Caddy takes it
};
result<listen_address> parse_listen(std::string_view text);

struct route {
  std::string host;              // the package's name, <effective name>.<repo>.<tld>
  std::string upstream;          // "10.89.255.2:3000"
  std::string certificate_file;  // the leaf and the CA, PEM
  std::string key_file;
};

// A static site (a page, core/pages.hpp): files served from `root` for `host`.
struct static_site {
  std::string host;  // the page's domain
  std::string root;  // absolute: the page's webroot link, pages-webroot/<name>
  std::string certificate_file;
  std::string key_file;
};

struct proxy_config {
  std::string admin_socket;  // Caddy's admin API (reloads), a Unix socket only root reaches
  std::string storage_directory;
  listen_address https;
  listen_address http;  // redirects to https
  std::vector<route> routes;
  std::vector<static_site> sites;  // after the routes: a package's name wins over a page's domain
};
// Caddy's native JSON configuration: one TLS server on `https` routing by Host to each upstream
// with the route's certificate (chosen by SNI), each static site's files (Caddy's file_server) for
// its host with its certificate, 404 for any other host, and a plain server on
// `http` that redirects every request to the same URL over https. No automatic HTTPS (no ACME, no
// internal CA of Caddy's), no config autosave.
std::string render_caddy_config(const proxy_config& config);

}  // namespace sc::ingress
