#include "core/ingress.hpp"

#include <arpa/inet.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

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
  namespace json = boost::json;
  json::array routes;
  json::array certificates;
  for (const auto& r : config.routes) {
    json::object upstream{{"dial", r.upstream}};
    json::object proxy{{"handler", "reverse_proxy"}, {"upstreams", json::array{upstream}}};
    json::object match{{"host", json::array{json::value(r.host)}}};
    routes.push_back(json::object{{"match", json::array{match}}, {"handle", json::array{proxy}}, {"terminal", true}});
    certificates.push_back(json::object{{"certificate", r.certificate_file}, {"key", r.key_file}});
  }
  for (const auto& site : config.sites) {
    json::object files{{"handler", "file_server"}, {"root", site.root}};
    json::object match{{"host", json::array{json::value(site.host)}}};
    routes.push_back(json::object{{"match", json::array{match}}, {"handle", json::array{files}}, {"terminal", true}});
    certificates.push_back(json::object{{"certificate", site.certificate_file}, {"key", site.key_file}});
  }
  // Any other Host gets a 404 rather than an empty 200.
  routes.push_back(json::object{
      {"handle",
       json::array{json::object{{"handler", "static_response"}, {"status_code", 404}, {"body", "no such site\n"}}}}});

  const std::string port_suffix = config.https.port == 443 ? "" : ":" + std::to_string(config.https.port);
  json::object redirect{
      {"handler", "static_response"},
      {"status_code", 308},
      {"headers", json::object{{"Location", json::array{json::value("https://{http.request.host}" + port_suffix +
                                                                    "{http.request.uri}")}}}}};
  json::object no_auto{{"disable", true}};
  json::object servers{
      {"ingress", json::object{{"listen", json::array{json::value(config.https.text())}},
                               {"automatic_https", no_auto},
                               {"tls_connection_policies", json::array{json::object{}}},
                               {"routes", std::move(routes)}}},
      {"redirect", json::object{{"listen", json::array{json::value(config.http.text())}},
                                {"automatic_https", no_auto},
                                {"routes", json::array{json::object{{"handle", json::array{redirect}}}}}}},
  };
  json::object http{
      {"http_port", config.http.port}, {"https_port", config.https.port}, {"servers", std::move(servers)}};
  json::object apps{{"http", std::move(http)}};
  if (!certificates.empty()) {
    apps["tls"] = json::object{{"certificates", json::object{{"load_files", std::move(certificates)}}}};
  }
  json::object root{
      {"admin", json::object{{"listen", "unix/" + config.admin_socket}, {"config", json::object{{"persist", false}}}}},
      {"storage", json::object{{"module", "file_system"}, {"root", config.storage_directory}}},
      {"apps", std::move(apps)},
  };
  return json::serialize(root) + "\n";
}

}  // namespace sc::ingress
