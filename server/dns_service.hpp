#pragma once
// The local DNS zone (behavior-ops.md §9, issue 15) and the authoritative server that answers for
// it: Knot DNS (`knotd`, Debian's `knot`), run by the unit town-os-system--dns.service as a system
// service (server/system_services.hpp).
//
// The controller owns the zone: it renders the zone file from the records added through the API
// (adapters/store/dns_store.hpp) and a name `<name>.<repo>.<tld>` per installed package pointing
// at the host's address (the dns_host_address setting, else the first non-loopback IPv4 address),
// minus the packages in dns_excluded_services. Every change writes the file atomically (a new SOA
// serial each time) and asks knotd to load it with `knotc zone-reload` (`reload` when its
// configuration changed, as a TLD change does): knotd keeps answering from the old zone until the
// new one is loaded, so no query is dropped. Calls return once knotd has loaded the zone (`knotc
// -b`, bounded), so an answer a client sees is already served.
//
// knotd drops root for the `knot` account once it has bound its port (knot.conf `user:`); the
// controller gives that account the run and database directories and nothing else.
//
// Without the system service (SC_SYSTEM_SERVICES without dns), the zone is still kept and written;
// nothing serves it. Loop thread only.

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dns.hpp"
#include "core/problem.hpp"
#include "server/system_services.hpp"

namespace sc::store {
class database;
class dns_store;
class settings_store;
}  // namespace sc::store
namespace sc::pool {
class work_queue;
}

namespace sc::server {

class lifecycle;

class dns_service final : public system_service_provider {
 public:
  struct options {
    std::filesystem::path directory;  // <state dir>/dns: knot.conf, zones/, run/ (control socket), db/
    std::string listen_address = "127.0.0.2";
    unsigned short port = 53;
    std::string knotd = "/usr/sbin/knotd";
    std::string knotc = "/usr/sbin/knotc";
    bool served = false;  // knotd runs as a system service (else only the files are kept)
    // The account knotd drops to once it has bound its port (Debian's package creates it). Used
    // when it exists and can reach the DNS directory; otherwise knotd stays root (logged).
    std::string user = "knot";
    std::chrono::milliseconds reload_timeout{10'000};
  };
  // "127.0.0.2:53", "[::1]:5353": a loopback address and a port; 400 otherwise.
  static result<std::pair<std::string, unsigned short>> parse_listen(std::string_view text);

  dns_service(store::database& db, store::settings_store& settings, const lifecycle& packages, pool::work_queue& files,
              options opts);
  ~dns_service() override;
  // Loads the records (500 when the store cannot be read; 500 when the directory is unusable).
  result<void> open();

  // system_service_provider
  std::string_view key() const override { return "dns"; }
  std::string_view display_name() const override { return "DNS"; }
  result<system_service_definition> describe() const override;
  boost::asio::awaitable<result<void>> write_files() override;

  std::string tld() const;
  std::string listen() const;  // "address:port"
  bool served() const noexcept { return options_.served; }
  const store::dns_store& records() const noexcept { return *store_; }
  store::dns_store& records() noexcept { return *store_; }

  struct package_name {
    std::string service;  // "<repo>/<effective name>"
    std::string owner;    // relative to the zone; "" when the package cannot have a name
    bool published = false;
  };
  std::vector<package_name> package_names() const;
  // The records packages contribute now (not stored; derived at every render).
  std::vector<dns::record> package_records() const;
  std::string host_address() const;

  // Stores the record, then publishes. 4xx for bad input or a conflict.
  boost::asio::awaitable<result<dns::record>> add(std::string name, std::string type, std::string value,
                                                  std::int64_t ttl);
  boost::asio::awaitable<result<std::size_t>> remove(std::string name, std::string type, std::string value);
  // Validates and stores dns_tld, then publishes (every package name moves with it).
  boost::asio::awaitable<result<std::string>> set_tld(std::string tld);
  // Validates and stores dns_excluded_services, then publishes.
  boost::asio::awaitable<result<void>> set_excluded(std::vector<std::string> services);
  // Renders the zone and configuration, writes them, and has knotd load them. A knotd that does
  // not answer (stopped; not served) is logged, not an error: it loads the file when it starts.
  boost::asio::awaitable<result<void>> publish();
  // The lifecycle's hook: a package was installed or uninstalled.
  boost::asio::awaitable<void> packages_changed();
  // The static pages' domains (server/pages_service.hpp), asked at every render: those under the
  // zone's TLD get an address record as packages do, unless a package or a stored record has the
  // name already.
  void set_page_domains(std::function<std::vector<std::string>()> source) { page_domains_ = std::move(source); }

 private:
  std::string render_config() const;
  std::filesystem::path zone_path() const;
  std::filesystem::path control_socket() const;
  std::vector<std::string> excluded() const;
  boost::asio::awaitable<result<void>> write(bool config_changed_only);

  store::database& db_;
  store::settings_store& settings_;
  const lifecycle& packages_;
  pool::work_queue& files_;
  options options_;
  std::unique_ptr<store::dns_store> store_;
  std::string written_config_;  // what knotd was last told to load (to know when to `reload`)
  // The unprivileged account knotd runs as (uid, gid), when there is a usable one.
  std::optional<std::pair<uid_t, gid_t>> run_as_;
  std::function<std::vector<std::string>()> page_domains_;
};

}  // namespace sc::server
