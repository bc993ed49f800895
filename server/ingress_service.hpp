#pragma once
// The HTTPS ingress (issue 15): Caddy (Debian's `caddy`) as the system service
// town-os-system--ingress (server/system_services.hpp). It terminates TLS on the https listen
// address for every installed package that has an `http` port behind the ingress, choosing the
// package's leaf certificate from the local CA (adapters/crypto/local_ca.hpp) by SNI, and
// reverse-proxies to the container's fixed address on the podman network `town-os-ingress`
// (core/ingress.hpp). The http listen address redirects to https.
//
// Why the Debian binary on the host and not a container: the box has no Caddy image and must not
// pull one, apt keeps the binary patched, and on the host Caddy reaches the ingress network's
// addresses directly (the bridge is the host's).
//
// The controller writes Caddy's whole configuration (caddy.json, native JSON) and a leaf per name
// under <state>/ingress/certs (keys 0600). Every change (install, uninstall, upgrade, TLD change)
// rewrites them and has Caddy load them through its admin API on a Unix socket (`caddy reload`):
// a graceful config swap, so open connections are not dropped. Leaves are kept while they are
// this CA's, name the same host and have 30 days left; otherwise they are reissued.
//
// Without the system service (SC_SYSTEM_SERVICES without ingress), nothing is written. Loop
// thread only.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ingress.hpp"
#include "core/problem.hpp"
#include "server/system_services.hpp"

namespace sc::store {
class settings_store;
}
namespace sc::pool {
class work_queue;
}
namespace sc::crypto {
class local_ca;
}

namespace sc::server {

class lifecycle;

class ingress_service final : public system_service_provider {
 public:
  struct options {
    std::filesystem::path directory;  // <state dir>/ingress: caddy.json, certs/, data/, run/admin.sock
    ingress::listen_address https{"", 443};
    ingress::listen_address http{"", 80};
    std::string caddy = "/usr/bin/caddy";
    std::chrono::milliseconds reload_timeout{15'000};
    int renew_days = 30;  // a leaf with less validity left is reissued
  };
  // `ca` may be null (the CA could not be opened): then no route is served and status says why.
  ingress_service(store::settings_store& settings, const lifecycle& packages, const crypto::local_ca* ca,
                  pool::work_queue& files, options opts);
  ~ingress_service() override;

  // system_service_provider
  std::string_view key() const override { return "ingress"; }
  std::string_view display_name() const override { return "Ingress"; }
  result<system_service_definition> describe() const override;
  boost::asio::awaitable<result<void>> write_files() override;

  // The routes the installed packages make now: host, upstream (certificate paths filled in).
  std::vector<ingress::route> routes() const;
  // Rewrites the configuration and certificates and has Caddy load them (logged, not an error, when
  // Caddy does not answer: it reads the file when it starts).
  boost::asio::awaitable<result<void>> publish();
  // The lifecycle's hook and the TLD's: the routes may have changed.
  boost::asio::awaitable<void> packages_changed();
  // Where static sites come from (the pages, server/pages_service.hpp): host and root of each,
  // asked at every write. Certificates are issued for them as for packages.
  void set_static_sites(std::function<std::vector<ingress::static_site>()> source) {
    static_sites_ = std::move(source);
  }

 private:
  std::filesystem::path config_path() const { return options_.directory / "caddy.json"; }
  std::filesystem::path admin_socket() const { return options_.directory / "run" / "admin.sock"; }
  std::string tld() const;
  boost::asio::awaitable<result<void>> write(bool reload);

  store::settings_store& settings_;
  const lifecycle& packages_;
  const crypto::local_ca* ca_;
  pool::work_queue& files_;
  options options_;
  std::function<std::vector<ingress::static_site>()> static_sites_;
};

}  // namespace sc::server
