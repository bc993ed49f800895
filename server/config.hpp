#pragma once
// Run-time configuration: flags, then SC_* environment variables, then defaults. The same binary
// serves production and the sandbox host; only this differs.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "core/problem.hpp"
#include "core/vm_images.hpp"

namespace sc::server {

struct config {
  std::string listen = defaults::listen;            // TCP "host:port"; "" disables
  std::string socket_path = defaults::socket_path;  // "" disables
  std::string state_dir = "/var/lib/town-os";
  std::string database;        // default: <state_dir>/system.db
  std::string bus = "system";  // "system" or a D-Bus address (the sandbox's bus)
  std::string btrfs_root;      // default: <state_dir>/btrfs
  std::string unit_dir = "/etc/systemd/system";
  // "system" (PID 1's manager) or "user" (the sandbox host's `systemd --user`): decides the
  // package units' install target and whether podman is handed the bus address (SC_SYSTEMD_SCOPE).
  std::string systemd_scope = "system";
  // The system services the controller runs (server/system_services.hpp), comma-separated keys;
  // "none" runs none (test servers, which share one sandbox user manager). Known: dns, ingress, node-exporter,
  // prometheus.
  std::string system_services = "dns,ingress,node-exporter,prometheus";
  // Where the DNS server (knotd, town-os-system--dns) answers: "address:port" on loopback
  // ("[::1]:53" for IPv6). The sandbox uses an unprivileged port.
  std::string dns_listen = "127.0.0.2:53";
  // The HTTPS ingress (server/ingress_service.hpp): where Caddy serves https and the http
  // redirect, and the subnet of the podman network `town-os-ingress` (core/ingress.hpp).
  std::string ingress_https = ":443";
  std::string ingress_http = ":80";
  std::string ingress_subnet = "10.89.255.0/24";
  // Monitoring (server/monitoring_service.hpp): where Prometheus and the node exporter listen, on
  // loopback only (the controller's /monitoring/grafana/ proxy is the way in).
  std::string prometheus_listen = "127.0.0.1:9090";
  std::string node_exporter_listen = "127.0.0.1:9100";
  bool trust_loopback = false;  // treat loopback TCP peers as local root (opt-in; unsafe behind a proxy)
  // Extra host names whose browser origins CORS accepts (behavior-core.md §2.6 "AllowedHosts"),
  // besides localhost, the hostname, hostname.local and hostname.<dns_tld>. Exact names only.
  std::vector<std::string> allowed_hosts;

  std::size_t max_connections = 4096;
  std::size_t header_limit = std::size_t{16} * 1024;
  std::size_t body_limit = std::size_t{1024} * 1024;
  std::chrono::milliseconds header_timeout{10'000};  // first byte to end of header (slowloris)
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};  // in-flight requests get this long after SIGTERM
  // Caps every route's handler deadline (server/router.hpp); 0 keeps the route table's own. For
  // operators who want a tighter bound everywhere, and for tests of deadline expiry.
  std::chrono::milliseconds max_handler_deadline{0};
  std::size_t max_sse_subscribers = 20'000;
  // Bytes that concurrent argon2id hashes may use together (each takes 64 MiB at the default
  // parameters); the `password_hash_memory` setting overrides it when not 0.
  std::size_t password_hash_memory = std::size_t{128} * 1024 * 1024;
  // VM image downloads (POST /vm-images/upload): the whole transfer's deadline (the reference's
  // 30 minutes), and the test-only exceptions to the SSRF guard (`--vm-image-allow-address
  // ADDR[:PORT]`, repeatable; empty in production) so a test server on loopback can be reached.
  std::chrono::milliseconds vm_image_download_timeout{30 * 60 * 1000};
  std::vector<vm_images::allowed_endpoint> vm_image_allowed;
};

// Parses argv (`--listen ADDR`, `--socket PATH`, `--state-dir DIR`, `--db PATH`, `--bus ADDR`,
// `--btrfs-root DIR`, `--unit-dir DIR`, `--system-services KEYS`, `--dns-listen ADDR:PORT`, `--trust-loopback`,
// `--allowed-host NAME` (repeatable), `--max-connections N`, `--vm-image-allow-address ADDR[:PORT]` (repeatable),
// `--vm-image-download-timeout MS`,
// `--body-limit N`) over the environment (TOWN_OS_LISTEN, SC_LISTEN, SC_SOCKET, SC_STATE_DIR, SC_DB, SC_BUS_ADDRESS,
// SC_BTRFS_ROOT, SC_UNIT_DIR, SC_ALLOWED_HOSTS (comma-separated), SC_SYSTEM_SERVICES, SC_DNS_LISTEN). `--help` yields a
// problem whose detail is the usage text.
result<config> parse_config(int argc, const char* const* argv);
std::string usage();

}  // namespace sc::server
