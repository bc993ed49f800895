#include "server/dns_service.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "adapters/file_io/small_files.hpp"
#include "adapters/pool/work_pool.hpp"
#include "adapters/process/spawn.hpp"
#include "adapters/store/dns_store.hpp"
#include "adapters/store/package_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "core/json_reader.hpp"
#include "core/json_writer.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "core/settings.hpp"
#include "server/lifecycle.hpp"
#include "server/unit_files.hpp"

namespace sc::server {

namespace asio = boost::asio;

namespace {

// The first non-loopback IPv4 address of an interface that is up: the LAN address a household's
// devices reach the box at, when the dns_host_address setting does not say.
std::string detect_host_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "127.0.0.1";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* address = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &address->sin_addr, text, sizeof text) != nullptr) found = text;
  }
  ::freeifaddrs(list);
  return found.empty() ? "127.0.0.1" : found;
}

// A path knot.conf quotes: ours (configuration), but it must not end the quoted string.
bool quotable(const std::string& path) {
  return !path.empty() && path.front() == '/' && path.find_first_of("\"\\") == std::string::npos &&
         !has_control_characters(path);
}

// Whether every directory from `path` up to / lets others through (o+x): an account other than the
// owner must reach the directory after knotd has dropped root.
bool reachable_by_others(std::filesystem::path path) {
  for (;;) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) return false;
    if (!path.has_relative_path()) return true;
    path = path.parent_path();
  }
}

}  // namespace

result<std::pair<std::string, unsigned short>> dns_service::parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return problem::bad_request("DNS listen address: expected address:port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return problem::bad_request("DNS listen address: bad port");
  auto address = dns::canonical_address(host);
  if (!address) return problem::bad_request("DNS listen address: bad address");
  const bool loopback = address->starts_with("127.") || *address == "::1";
  if (!loopback) return problem::bad_request("DNS listen address: must be a loopback address");
  return std::pair{*address, static_cast<unsigned short>(port)};
}

dns_service::dns_service(store::database& db, store::settings_store& settings, const lifecycle& packages,
                         pool::work_queue& files, options opts)
    : db_(db), settings_(settings), packages_(packages), files_(files), options_(std::move(opts)) {}

dns_service::~dns_service() = default;

result<void> dns_service::open() {
  options_.directory = std::filesystem::absolute(options_.directory);
  // knot.conf quotes the paths, and a Unix socket path has 108 bytes at most.
  if (!quotable(options_.directory.string()) || control_socket().string().size() >= 100) {
    if (options_.served)
      return problem::internal_error("DNS directory " + options_.directory.string() + " cannot be used by knotd");
    log::warning("DNS directory " + options_.directory.string() + " could not be used by knotd");
  }
  if (options_.served && !options_.user.empty()) {
    // At start, before serving: one NSS lookup.
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buffer(16384);
    if (::getpwnam_r(options_.user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
      log::warning("DNS: no account " + options_.user + "; knotd runs as root");
    } else {
      std::error_code ec;
      std::filesystem::create_directories(options_.directory, ec);
      ::chmod(options_.directory.c_str(), 0755);
      if (reachable_by_others(options_.directory)) {
        run_as_ = std::pair{entry.pw_uid, entry.pw_gid};
      } else {
        log::warning("DNS: " + options_.directory.string() + " is not reachable by " + options_.user +
                     " (a parent directory lacks o+x); knotd runs as root");
      }
    }
  }
  auto opened = store::dns_store::open(db_);
  if (!opened) return opened.error();
  store_ = std::move(*opened);
  if (auto on_disk = file_io::read_small_file(options_.directory / "knot.conf")) written_config_ = std::move(*on_disk);
  return {};
}

std::string dns_service::tld() const {
  auto value = settings_.get("dns_tld");
  return value ? std::string(*value) : std::string(*settings::default_of("dns_tld"));
}

std::string dns_service::listen() const {
  return (options_.listen_address.find(':') == std::string::npos ? options_.listen_address
                                                                 : "[" + options_.listen_address + "]") +
         ":" + std::to_string(options_.port);
}

std::string dns_service::host_address() const {
  if (auto value = settings_.get("dns_host_address"); value && !value->empty()) {
    if (auto address = dns::canonical_address(*value)) return *address;
  }
  return detect_host_address();
}

std::vector<std::string> dns_service::excluded() const {
  std::vector<std::string> out;
  auto value = settings_.get("dns_excluded_services");
  if (!value || value->empty()) return out;
  return json::string_array(*value).value_or(std::move(out));
}

std::vector<dns_service::package_name> dns_service::package_names() const {
  const auto skip = excluded();
  std::vector<package_name> out;
  for (const auto& record : packages_.records().installed()) {
    const auto& ref = record.plan.package;
    package_name name;
    name.service = ref.repo + "/" + ref.effective_name;
    name.owner = dns::package_owner(ref.effective_name, ref.repo).value_or("");
    if (auto key = dns::canonical_service_key(name.service, "service"); key) name.service = *key;
    name.published = !name.owner.empty() && std::find(skip.begin(), skip.end(), name.service) == skip.end();
    out.push_back(std::move(name));
  }
  return out;
}

std::vector<dns::record> dns_service::package_records() const {
  const std::string address = host_address();
  const auto type = address.find(':') == std::string::npos ? dns::record_type::a : dns::record_type::aaaa;
  std::vector<dns::record> out;
  for (const auto& name : package_names()) {
    if (name.published) out.push_back({name.owner, type, address, dns::default_ttl});
  }
  if (page_domains_) {
    const std::string suffix = "." + tld();
    std::set<std::string, std::less<>> taken;
    for (const auto& r : out) taken.insert(r.name);
    for (const auto& r : store_->records()) taken.insert(r.name);
    for (const auto& domain : page_domains_()) {
      if (domain.size() <= suffix.size() || !domain.ends_with(suffix)) continue;
      std::string owner = domain.substr(0, domain.size() - suffix.size());
      if (!taken.insert(owner).second) continue;
      out.push_back({std::move(owner), type, address, dns::default_ttl});
    }
  }
  return out;
}

std::filesystem::path dns_service::zone_path() const {
  return options_.directory / "zones" / "local.zone";
}

std::filesystem::path dns_service::control_socket() const {
  return options_.directory / "run" / "knot.sock";
}

// knotd's whole configuration. The zone file is never written back by knotd (zonefile-sync -1)
// and no journal is kept (journal-content none): the controller's file is the zone.
std::string dns_service::render_config() const {
  const std::string dir = options_.directory.string();
  std::string c;
  c += "# Generated by systemcontroller; regenerated, never edited.\n";
  c += "server:\n";
  if (run_as_) c += "    user: " + options_.user + "\n";
  c += "    rundir: \"" + dir + "/run\"\n";
  c += "    listen: " + options_.listen_address + "@" + std::to_string(options_.port) + "\n";
  c += "log:\n  - target: stderr\n    any: info\n";
  c += "control:\n    listen: \"" + control_socket().string() + "\"\n";
  c += "database:\n    storage: \"" + dir + "/db\"\n";
  c += "template:\n  - id: default\n";
  c += "    storage: \"" + dir + "/zones\"\n";
  c += "    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n";
  c += "zone:\n  - domain: \"" + tld() + ".\"\n    file: \"" + zone_path().string() + "\"\n";
  return c;
}

result<system_service_definition> dns_service::describe() const {
  if (!quotable(options_.knotd) || !quotable(options_.knotc))
    return problem::internal_error("knotd and knotc must be absolute paths");
  system_service_definition d;
  d.display_name = std::string(display_name());
  d.image = options_.knotd + " (Debian package knot)";
  d.port = std::to_string(options_.port);
  auto& u = d.unit;
  const std::string config = (options_.directory / "knot.conf").string();
  u.comment = "Generated by systemcontroller: the local DNS zone's server; regenerated, never edited.";
  u.description = "Town OS System Service: DNS (Knot DNS)";
  u.after = {"network.target"};
  u.exec_start = {{options_.knotd, "-c", config}, false};
  u.exec_reload = units::unit_command{{options_.knotc, "-c", config, "-s", control_socket().string(), "reload"}, false};
  u.restart_delay = std::chrono::seconds(1);
  u.start_timeout = std::chrono::seconds(30);
  u.stop_timeout = std::chrono::seconds(30);
  return d;
}

asio::awaitable<result<void>> dns_service::write(bool reload_server) {
  auto serial = store_->next_serial();
  if (!serial) co_return serial.error();
  dns::zone zone{tld(), *serial, host_address(), store_->records()};
  for (auto& r : package_records()) zone.records.push_back(std::move(r));
  std::string zone_text = dns::render_zone(zone);
  std::string config = render_config();
  auto write_all = [dir = options_.directory, zone_file = zone_path(), zone_text = std::move(zone_text), config,
                    owner = run_as_]() -> result<void> {
    std::error_code ec;
    // knotd reads the configuration and the zone (public data) and owns only its run and database
    // directories once it has dropped root.
    std::filesystem::create_directories(dir / "zones", ec);
    ::chmod((dir / "zones").c_str(), 0755);
    for (const char* sub : {"run", "db"}) {
      std::filesystem::create_directories(dir / sub, ec);
      ::chmod((dir / sub).c_str(), 0750);
      if (!owner) continue;
      if (::chown((dir / sub).c_str(), owner->first, owner->second) != 0)
        return problem::internal_error("chown " + (dir / sub).string() + ": " + std::generic_category().message(errno));
      // What a knotd run as root left there (its timer database) becomes the account's too.
      for (auto it = std::filesystem::recursive_directory_iterator(dir / sub, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        (void)::lchown(it->path().c_str(), owner->first, owner->second);
      }
    }
    if (auto w = file_io::write_file_atomic(zone_file, zone_text, 0644); !w) return w;
    return file_io::write_file_atomic(dir / "knot.conf", config, 0644);
  };
  // The one-thread file queue keeps writes in the order they were rendered: the last file written
  // is the newest zone.
  auto written = co_await files_.run(std::move(write_all));
  if (!written) co_return written.error();
  if (!*written) co_return written->error();
  const bool config_changed = config != written_config_;
  written_config_ = config;
  if (!reload_server || !options_.served) co_return result<void>{};

  const auto seconds =
      std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(options_.reload_timeout).count());
  process::spawn_request request;
  request.argv = {options_.knotc,
                  "-c",
                  (options_.directory / "knot.conf").string(),
                  "-s",
                  control_socket().string(),
                  "-b",
                  "-t",
                  std::to_string(seconds)};
  if (config_changed) {
    request.argv.emplace_back("reload");
  } else {
    request.argv.emplace_back("zone-reload");
    request.argv.push_back(tld() + ".");
  }
  request.timeout = options_.reload_timeout + std::chrono::seconds(2);
  request.max_output = std::size_t{64} * 1024;
  auto ran = co_await process::run_process(std::move(request));
  if (!ran) co_return ran.error();
  if (!ran->ok()) {
    // knotd is stopped or restarting: it loads the file as it starts (Restart=always brings it back).
    log::warning("knotc " + std::string(config_changed ? "reload" : "zone-reload") + ": exit " +
                 std::to_string(ran->exit_code) + ": " + ran->err + ran->out);
    if (config_changed) written_config_.clear();  // tell it again next time
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> dns_service::write_files() {
  co_return co_await write(false);
}

asio::awaitable<result<void>> dns_service::publish() {
  co_return co_await write(true);
}

asio::awaitable<void> dns_service::packages_changed() {
  if (auto published = co_await publish(); !published) {
    log::error("DNS: publishing package names: " + published.error().detail + " " + published.error().internal);
  }
}

asio::awaitable<result<dns::record>> dns_service::add(std::string name, std::string type, std::string value,
                                                      std::int64_t ttl) {
  auto made = dns::make_record(name, type, value, ttl, tld());
  if (!made) co_return made.error();
  for (const auto& r : package_records()) {
    if (r.name == made->name) co_return problem::conflict(made->name + "." + tld() + " is an installed package's name");
  }
  dns::record stored = *made;
  if (auto added = store_->add(std::move(*made)); !added) co_return added.error();
  if (auto published = co_await publish(); !published) co_return published.error();
  co_return stored;
}

asio::awaitable<result<std::size_t>> dns_service::remove(std::string name, std::string type, std::string value) {
  auto parsed_type = dns::parse_record_type(type);
  if (!parsed_type) co_return parsed_type.error();
  auto owner = dns::relative_owner(name, tld());
  if (!owner) co_return owner.error();
  std::string canonical;
  if (!value.empty()) {
    auto v = dns::canonical_value(*parsed_type, value);
    if (!v) co_return v.error();
    canonical = std::move(*v);
  }
  auto removed = store_->remove(*owner, *parsed_type, canonical);
  if (!removed) {
    for (const auto& r : package_records()) {
      if (r.name == *owner)
        co_return problem::conflict(*owner + "." + tld() +
                                    " is an installed package's name: uninstall the package or exclude it "
                                    "(POST /dns/services/set)");
    }
    co_return removed.error();
  }
  if (auto published = co_await publish(); !published) co_return published.error();
  co_return *removed;
}

asio::awaitable<result<std::string>> dns_service::set_tld(std::string tld_text) {
  auto valid = settings::validate("dns_tld", tld_text);
  if (!valid) co_return valid.error();
  if (auto stored = settings_.set("dns_tld", *valid); !stored) co_return stored.error();
  if (auto published = co_await publish(); !published) co_return published.error();
  co_return *valid;
}

asio::awaitable<result<void>> dns_service::set_excluded(std::vector<std::string> services) {
  std::vector<std::string> list;
  for (std::size_t i = 0; i < services.size(); ++i) {
    auto key = dns::canonical_service_key(services[i], "excluded[" + std::to_string(i) + "]");
    if (!key) co_return key.error();
    if (std::find(list.begin(), list.end(), *key) == list.end()) list.push_back(std::move(*key));
  }
  if (auto stored = settings_.set("dns_excluded_services", json_string([&](json_writer& w) { w.value(list); }));
      !stored)
    co_return stored.error();
  co_return co_await publish();
}

}  // namespace sc::server
