#include "server/config.hpp"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace sc::server {

std::string usage() {
  return "usage: systemcontroller [options]\n"
         "  --listen HOST:PORT     TCP listen address (default 0.0.0.0:5309; 'none' disables)\n"
         "  --socket PATH          Unix socket (default /run/town-os/systemcontroller.sock; 'none' disables)\n"
         "  --state-dir DIR        state directory (default /var/lib/town-os)\n"
         "  --db PATH              SQLite database (default STATE/system.db)\n"
         "  --bus ADDRESS          'system' or a D-Bus address (default system)\n"
         "  --btrfs-root DIR       btrfs root (default STATE/btrfs)\n"
         "  --unit-dir DIR         where unit files are written (default /etc/systemd/system)\n"
         "  --trust-loopback       loopback TCP peers count as local root (unsafe behind a proxy)\n"
         "  --allowed-host NAME    a host name whose browser origin CORS accepts (repeatable)\n"
         "  --max-connections N    concurrent connections (default 4096)\n"
         "  --body-limit BYTES     JSON request body limit (default 1048576)\n"
         "  --header-limit BYTES   request header limit (default 16384)\n"
         "  --header-timeout MS    first byte to end of headers (default 10000)\n"
         "  --idle-timeout MS      keep-alive wait for the next request (default 60000)\n"
         "  --shutdown-grace MS    time in-flight requests get after SIGTERM (default 10000)\n"
         "  --max-handler-deadline MS  caps every route's handler deadline (default: the route's own)\n"
         "  --password-hash-memory BYTES  memory all password hashes together may use (default 134217728;\n"
         "                         the password_hash_memory setting, when not 0, overrides it)\n"
         "  --system-services KEYS system services to run, comma-separated, or none\n"
         "                         (default dns,ingress,node-exporter,prometheus)\n"
         "  --dns-listen ADDR:PORT where the DNS server answers, on loopback (default 127.0.0.2:53)\n"
         "  --ingress-https ADDR:PORT  where the ingress serves HTTPS (default :443, every address)\n"
         "  --ingress-http ADDR:PORT   where it redirects HTTP to HTTPS (default :80)\n"
         "  --ingress-subnet CIDR  subnet of the podman network town-os-ingress (default 10.89.255.0/24)\n"
         "  --prometheus-listen ADDR:PORT     Prometheus, on loopback (default 127.0.0.1:9090)\n"
         "  --node-exporter-listen ADDR:PORT  the node exporter, on loopback (default 127.0.0.1:9100)\n"
         "  --vm-image-download-timeout MS  deadline of a VM image download (default 1800000)\n"
         "  --vm-image-allow-address ADDR[:PORT]  TESTS ONLY: let VM image downloads reach this exact\n"
         "                         address (and port), which the SSRF guard refuses (repeatable)\n"
         "Environment: TOWN_OS_LISTEN, SC_LISTEN, SC_SOCKET, SC_STATE_DIR, SC_DB, SC_BUS_ADDRESS,\n"
         "SC_BTRFS_ROOT, SC_UNIT_DIR, SC_ALLOWED_HOSTS (comma-separated), SC_SYSTEM_SERVICES, SC_DNS_LISTEN, "
         "SC_INGRESS_HTTPS, SC_INGRESS_HTTP, SC_INGRESS_SUBNET, SC_PROMETHEUS_LISTEN, SC_NODE_EXPORTER_LISTEN. Systemd "
         "socket activation (LISTEN_FDS) "
         "replaces both listeners.\n";
}

namespace {

void from_env(std::string& target, const char* name) {
  if (const char* v = std::getenv(name); v != nullptr && *v != '\0') target = v;
}

result<std::size_t> parse_size(std::string_view flag, std::string_view text) {
  std::size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value == 0) {
    return problem::bad_request(std::string(flag) + ": expected a positive integer, got '" + std::string(text) + "'");
  }
  return value;
}

}  // namespace

result<config> parse_config(int argc, const char* const* argv) {
  config c;
  from_env(c.listen, "TOWN_OS_LISTEN");
  from_env(c.listen, "SC_LISTEN");
  from_env(c.socket_path, "SC_SOCKET");
  from_env(c.state_dir, "SC_STATE_DIR");
  from_env(c.database, "SC_DB");
  from_env(c.bus, "SC_BUS_ADDRESS");
  from_env(c.btrfs_root, "SC_BTRFS_ROOT");
  from_env(c.unit_dir, "SC_UNIT_DIR");
  from_env(c.systemd_scope, "SC_SYSTEMD_SCOPE");
  from_env(c.system_services, "SC_SYSTEM_SERVICES");
  from_env(c.dns_listen, "SC_DNS_LISTEN");
  from_env(c.ingress_https, "SC_INGRESS_HTTPS");
  from_env(c.ingress_http, "SC_INGRESS_HTTP");
  from_env(c.ingress_subnet, "SC_INGRESS_SUBNET");
  from_env(c.prometheus_listen, "SC_PROMETHEUS_LISTEN");
  from_env(c.node_exporter_listen, "SC_NODE_EXPORTER_LISTEN");
  if (const char* hosts = std::getenv("SC_ALLOWED_HOSTS"); hosts != nullptr) {
    std::string_view rest = hosts;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      if (!name.empty()) c.allowed_hosts.emplace_back(name);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }

  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") return problem::bad_request(usage());
    if (flag == "--trust-loopback") {
      c.trust_loopback = true;
      continue;
    }
    if (i + 1 >= argc) return problem::bad_request(std::string(flag) + ": missing value\n" + usage());
    std::string value = argv[++i];
    if (flag == "--listen") {
      c.listen = value;
    } else if (flag == "--socket") {
      c.socket_path = value;
    } else if (flag == "--state-dir") {
      c.state_dir = value;
    } else if (flag == "--db") {
      c.database = value;
    } else if (flag == "--bus") {
      c.bus = value;
    } else if (flag == "--btrfs-root") {
      c.btrfs_root = value;
    } else if (flag == "--unit-dir") {
      c.unit_dir = value;
    } else if (flag == "--system-services") {
      c.system_services = value;
    } else if (flag == "--dns-listen") {
      c.dns_listen = value;
    } else if (flag == "--ingress-https") {
      c.ingress_https = value;
    } else if (flag == "--ingress-http") {
      c.ingress_http = value;
    } else if (flag == "--ingress-subnet") {
      c.ingress_subnet = value;
    } else if (flag == "--prometheus-listen") {
      c.prometheus_listen = value;
    } else if (flag == "--node-exporter-listen") {
      c.node_exporter_listen = value;
    } else if (flag == "--allowed-host") {
      c.allowed_hosts.push_back(value);
    } else if (flag == "--vm-image-allow-address") {
      auto endpoint = vm_images::parse_allowed_endpoint(value);
      if (!endpoint) return problem::bad_request(std::string(flag) + ": expected ADDRESS or ADDRESS:PORT\n" + usage());
      c.vm_image_allowed.push_back(*endpoint);
    } else if (flag == "--max-connections") {
      auto n = parse_size(flag, value);
      if (!n) return n.error();
      c.max_connections = *n;
    } else if (flag == "--body-limit") {
      auto n = parse_size(flag, value);
      if (!n) return n.error();
      c.body_limit = *n;
    } else if (flag == "--header-limit") {
      auto n = parse_size(flag, value);
      if (!n) return n.error();
      c.header_limit = *n;
    } else if (flag == "--password-hash-memory") {
      auto n = parse_size(flag, value);
      if (!n) return n.error();
      c.password_hash_memory = *n;
    } else if (flag == "--header-timeout" || flag == "--idle-timeout" || flag == "--shutdown-grace" ||
               flag == "--max-handler-deadline" || flag == "--vm-image-download-timeout") {
      auto n = parse_size(flag, value);
      if (!n) return n.error();
      auto& target = flag == "--header-timeout"         ? c.header_timeout
                     : flag == "--idle-timeout"         ? c.idle_timeout
                     : flag == "--shutdown-grace"       ? c.shutdown_grace
                     : flag == "--max-handler-deadline" ? c.max_handler_deadline
                                                        : c.vm_image_download_timeout;
      target = std::chrono::milliseconds(*n);
    } else {
      return problem::bad_request("unknown option " + std::string(flag) + "\n" + usage());
    }
  }
  if (c.listen == "none") c.listen.clear();
  if (c.socket_path == "none") c.socket_path.clear();
  if (c.database.empty()) c.database = c.state_dir + "/system.db";
  if (c.btrfs_root.empty()) c.btrfs_root = c.state_dir + "/btrfs";
  return c;
}

}  // namespace sc::server
