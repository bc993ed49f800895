#pragma once
// Monitoring (issue 15; behavior-core.md §5.8): Prometheus and its node exporter from Debian
// (`prometheus`, `prometheus-node-exporter`), as the system services town-os-system--prometheus
// and town-os-system--node-exporter (server/system_services.hpp), both on loopback only.
//
// The Debian binaries rather than containers, as for DNS and the ingress: no image to pull, apt
// keeps them patched, and the node exporter must see the host anyway.
//
// The controller writes Prometheus's configuration (core/monitoring.hpp): node-exporter and the
// controller's own /metrics every 15 s, 30 days of retention, the data in the btrfs subvolume
// `monitoring`. Prometheus reaches /metrics with the metrics credential, a random token made once
// (<state>/monitoring/metrics.token, 0600) that opens GET /metrics and nothing else
// (auth_level::admin_or_metrics): never an administrator's session.
//
// GET /monitoring/status reads the units' states and Prometheus's own target list; the public
// /monitoring/grafana/ proxy (server/handlers/monitoring.cpp) passes requests to Prometheus's UI
// and API, whose external URL is that prefix. With the default backend (`uplot`) the UI is
// Prometheus's own; Grafana is not in Debian, so `grafana` reports it as not running.
// Loop thread only.

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/ingress.hpp"
#include "core/problem.hpp"
#include "server/system_services.hpp"

namespace sc::store {
class settings_store;
}
namespace sc::btrfs {
class volumes;
}

namespace sc::server {

class monitoring_service {
 public:
  struct options {
    std::filesystem::path directory;  // <state dir>/monitoring: prometheus.yml, metrics.token
    std::string data_subvolume = "monitoring";
    ingress::listen_address prometheus{"127.0.0.1", 9090};
    ingress::listen_address node_exporter{"127.0.0.1", 9100};
    // "127.0.0.1:PORT": where Prometheus scrapes the controller (its TCP listener, as bound).
    std::function<std::string()> controller_target;
    std::string prometheus_program = "/usr/bin/prometheus";
    std::string node_exporter_program = "/usr/bin/prometheus-node-exporter";
    bool prometheus_served = false;
    bool node_exporter_served = false;
  };
  // "127.0.0.1:9090": a loopback address and a port (the proxy is the public face); 400 otherwise.
  static result<ingress::listen_address> parse_loopback_listen(std::string_view text);

  monitoring_service(store::settings_store& settings, btrfs::volumes& volumes, options opts);
  ~monitoring_service();
  monitoring_service(const monitoring_service&) = delete;
  monitoring_service& operator=(const monitoring_service&) = delete;

  // The metrics credential: read, or made once. 500 when the directory is unusable.
  result<void> open();
  bool configured() const noexcept { return options_.prometheus_served; }
  // Whether `token` is the metrics credential (constant time).
  bool is_metrics_credential(std::string_view token) const;
  const ingress::listen_address& prometheus_address() const noexcept { return options_.prometheus; }

  system_service_provider& prometheus() noexcept { return prometheus_; }
  system_service_provider& node_exporter() noexcept { return node_exporter_; }

  // GET /monitoring/status: {"status":"disabled"} when Prometheus is not one of the system services.
  boost::asio::awaitable<std::string> status(system_services& services);

 private:
  class prometheus_provider final : public system_service_provider {
   public:
    explicit prometheus_provider(monitoring_service& owner) : owner_(owner) {}
    std::string_view key() const override { return "prometheus"; }
    std::string_view display_name() const override { return "Prometheus"; }
    result<system_service_definition> describe() const override;
    boost::asio::awaitable<result<void>> write_files() override;

   private:
    monitoring_service& owner_;
  };
  class node_exporter_provider final : public system_service_provider {
   public:
    explicit node_exporter_provider(monitoring_service& owner) : owner_(owner) {}
    std::string_view key() const override { return "node-exporter"; }
    std::string_view display_name() const override { return "Node Exporter"; }
    result<system_service_definition> describe() const override;
    boost::asio::awaitable<result<void>> write_files() override { co_return result<void>{}; }

   private:
    monitoring_service& owner_;
  };

  std::string render_config() const;
  std::filesystem::path config_path() const { return options_.directory / "prometheus.yml"; }
  std::filesystem::path credential_path() const { return options_.directory / "metrics.token"; }

  store::settings_store& settings_;
  btrfs::volumes& volumes_;
  options options_;
  std::string credential_;
  prometheus_provider prometheus_{*this};
  node_exporter_provider node_exporter_{*this};
};

}  // namespace sc::server
