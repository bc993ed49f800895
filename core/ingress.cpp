#include "core/ingress.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "core/json_writer.hpp"

namespace sc::ingress {

namespace {

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  // inet_pton takes only the dotted-quad form: no octal, hex or shortened forms.
  if (text.empty() || text.size() > 15) return std::nullopt;
  std::string copy(text);
  in_addr address{};
  if (::inet_pton(AF_INET, copy.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

std::string format_ipv4(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::uint32_t host_mask(int prefix) {
  return prefix >= 32 ? 0 : (std::uint32_t{0xffffffff} >> prefix);
}

}  // namespace

result<ipv4_subnet> parse_subnet(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return problem::bad_request("ingress subnet: expected ADDRESS/PREFIX");
  auto address = parse_ipv4(text.substr(0, slash));
  if (!address) return problem::bad_request("ingress subnet: not an IPv4 address");
  std::string_view prefix_text = text.substr(slash + 1);
  int prefix = 0;
  auto [end, ec] = std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
  if (ec != std::errc() || end != prefix_text.data() + prefix_text.size() || prefix < 16 || prefix > 28)
    return problem::bad_request("ingress subnet: the prefix must be 16 to 28");
  if ((*address & host_mask(prefix)) != 0) return problem::bad_request("ingress subnet: host bits are set");
  return ipv4_subnet{*address, prefix};
}

std::string to_string(const ipv4_subnet& subnet) {
  return format_ipv4(subnet.network) + "/" + std::to_string(subnet.prefix);
}

bool assignable(const ipv4_subnet& subnet, std::string_view address) {
  auto parsed = parse_ipv4(address);
  if (!parsed) return false;
  const std::uint32_t mask = host_mask(subnet.prefix);
  if ((*parsed & ~mask) != subnet.network) return false;
  const std::uint32_t host = *parsed & mask;
  return host >= 2 && host < mask;  // not the network, the gateway (.1) or the broadcast address
}

result<std::string> allocate_address(const ipv4_subnet& subnet, const std::set<std::string, std::less<>>& used,
                                     std::string_view keep) {
  if (!keep.empty() && assignable(subnet, keep) && !used.contains(keep)) return std::string(keep);
  const std::uint32_t mask = host_mask(subnet.prefix);
  for (std::uint32_t host = 2; host < mask; ++host) {
    std::string candidate = format_ipv4(subnet.network | host);
    if (!used.contains(candidate)) return candidate;
  }
  return problem::unavailable("every address of the ingress network " + to_string(subnet) +
                              " is taken: uninstall a web app or give the ingress a larger subnet");
}

std::string listen_address::text() const {
  if (host.empty()) return ":" + std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

result<listen_address> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return problem::bad_request("ingress listen address: expected ADDRESS:PORT");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return problem::bad_request("ingress listen address: bad port");
  listen_address out;
  out.port = static_cast<unsigned short>(port);
  if (host.empty()) return out;
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  std::string copy(host);
  unsigned char buffer[sizeof(in6_addr)] = {};
  const int family = bracketed ? AF_INET6 : AF_INET;
  if (copy.size() > 45 || ::inet_pton(family, copy.c_str(), buffer) != 1)
    return problem::bad_request("ingress listen address: not an IP address");
  out.host = std::move(copy);
  return out;
}

std::string render_caddy_config(const proxy_config& config) {
  auto route = [](json_writer& w, std::string_view host, auto&& write_handler) {
    w.begin_object().key("match").begin_array().begin_object().key("host").begin_array().value(host).end_array();
    w.end_object().end_array();
    w.key("handle").begin_array();
    write_handler(w);
    w.end_array().key("terminal").value(true).end_object();
  };
  auto disable_automatic_https = [](json_writer& w) {
    w.key("automatic_https").begin_object().key("disable").value(true).end_object();
  };
  const std::string port_suffix = config.https.port == 443 ? "" : ":" + std::to_string(config.https.port);
  std::string out = json_string([&](json_writer& w) {
    w.begin_object();
    w.key("admin").begin_object().key("listen").value("unix/" + config.admin_socket);
    w.key("config").begin_object().key("persist").value(false).end_object().end_object();
    w.key("storage").begin_object().key("module").value("file_system").key("root").value(config.storage_directory);
    w.end_object();
    w.key("apps").begin_object();
    w.key("http").begin_object().key("http_port").value(config.http.port).key("https_port").value(config.https.port);
    w.key("servers").begin_object();
    w.key("ingress").begin_object().key("listen").begin_array().value(config.https.text()).end_array();
    disable_automatic_https(w);
    w.key("tls_connection_policies").begin_array().begin_object().end_object().end_array();
    w.key("routes").begin_array();
    for (const auto& r : config.routes) {
      route(w, r.host, [&](json_writer& h) {
        h.begin_object().key("handler").value("reverse_proxy");
        h.key("upstreams").begin_array().begin_object().key("dial").value(r.upstream).end_object().end_array();
        h.end_object();
      });
    }
    for (const auto& site : config.sites) {
      route(w, site.host, [&](json_writer& h) {
        h.begin_object().key("handler").value("file_server").key("root").value(site.root).end_object();
      });
    }
    // Any other Host gets a 404 rather than an empty 200.
    w.begin_object().key("handle").begin_array();
    w.begin_object().key("handler").value("static_response").key("status_code").value(404);
    w.key("body").value("no such site\n").end_object();
    w.end_array().end_object();
    w.end_array().end_object();  // routes, ingress
    w.key("redirect").begin_object().key("listen").begin_array().value(config.http.text()).end_array();
    disable_automatic_https(w);
    w.key("routes").begin_array().begin_object().key("handle").begin_array();
    w.begin_object().key("handler").value("static_response").key("status_code").value(308);
    w.key("headers").begin_object().key("Location").begin_array();
    w.value("https://{http.request.host}" + port_suffix + "{http.request.uri}");
    w.end_array().end_object().end_object();
    w.end_array().end_object().end_array().end_object();  // handle, route, routes, redirect
    w.end_object().end_object();                          // servers, http
    if (!config.routes.empty() || !config.sites.empty()) {
      w.key("tls").begin_object().key("certificates").begin_object().key("load_files").begin_array();
      for (const auto& r : config.routes) {
        w.begin_object().key("certificate").value(r.certificate_file).key("key").value(r.key_file).end_object();
      }
      for (const auto& site : config.sites) {
        w.begin_object().key("certificate").value(site.certificate_file).key("key").value(site.key_file).end_object();
      }
      w.end_array().end_object().end_object();
    }
    w.end_object().end_object();  // apps, root
  });
  out.push_back('\n');
  return out;
}

}  // namespace sc::ingress
