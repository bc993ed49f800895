// The local DNS zone (behavior-ops.md §9, issue 15): records, the TLD, setup, per-service
// publishing, and the RBL/DNSBL configuration (stored and validated; see README).
#include "core/dns.hpp"

#include "adapters/store/dns_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "core/json_reader.hpp"
#include "core/json_writer.hpp"
#include "server/app.hpp"
#include "server/dns_service.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/system_services.hpp"

namespace sc::server::handlers {

namespace {

constexpr string_rule name_rule{.max_length = 300, .allow_empty = true, .allow_newlines = false};
constexpr string_rule value_rule{.max_length = dns::max_txt_length + 1, .allow_empty = false, .allow_newlines = false};
constexpr string_rule entry_rule{.max_length = 300, .allow_empty = false, .allow_newlines = false};
constexpr string_rule type_rule{.max_length = 8, .allow_empty = false};

std::string full_name(std::string_view owner, std::string_view tld) {
  return owner == "@" ? std::string(tld) : std::string(owner) + "." + std::string(tld);
}

schema::type record_schema() {
  using namespace schema;
  return component("dns_record", object({{"name", string()},
                                         {"type", enumeration({"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR"})},
                                         {"value", string()},
                                         {"ttl", integer(dns::min_ttl, dns::max_ttl)},
                                         {"source", enumeration({"package", "manual"})}}));
}

void write_record(json_writer& writer, const dns::record& r, std::string_view tld, bool package) {
  writer.begin_object();
  writer.key("name").value(full_name(r.name, tld));
  writer.key("type").value(dns::to_string(r.type));
  writer.key("value").value(r.value);
  writer.key("ttl").value(static_cast<std::int64_t>(r.ttl));
  writer.key("source").value(package ? "package" : "manual");
  writer.end_object();
}

// The RBL and DNSBL configurations: {"enabled":bool,"zones":[domain…]} in a setting.
schema::type blocklist_schema() {
  using namespace schema;
  return component("dns_blocklist", object({{"enabled", schema::boolean()}, {"zones", array(string())}}));
}

schema::type blocklist_request() {
  using namespace schema;
  return request({{"enabled", schema::boolean()}, optional("zones", array(string(entry_rule), 64))});
}

std::string blocklist_config(const store::settings_store& settings, std::string_view key) {
  auto value = settings.get(key);
  bool enabled = false;
  std::string zones = "[]";
  simdjson::dom::element stored;
  if (value && !value->empty() && json::parse(*value).get(stored) == simdjson::SUCCESS && stored.is_object()) {
    bool flag = false;
    if (stored["enabled"].get(flag) == simdjson::SUCCESS) enabled = flag;
    simdjson::dom::array list;
    if (stored["zones"].get(list) == simdjson::SUCCESS) zones = simdjson::minify(list);
  }
  return json_string(
      [&](json_writer& w) { w.begin_object().key("enabled").value(enabled).key("zones").raw(zones).end_object(); });
}

http::response set_blocklist_config(request_context& context, std::string_view key) {
  auto body = json_body::parse(context);
  if (!body) return http::problem_response(body.error());
  bool enabled = body->boolean("enabled");
  auto zones = body->optional_string_list("zones").value_or(std::vector<std::string>{});
  if (auto ok = body->finish(); !ok) return http::problem_response(ok.error());
  auto canonical = dns::canonical_blocklist_zones(zones);
  if (!canonical) return http::problem_response(canonical.error());
  std::string text = json_string([&](json_writer& w) {
    w.begin_object().key("enabled").value(enabled).key("zones").value(*canonical).end_object();
  });
  if (auto stored = context.services.system_settings().set(key, text); !stored)
    return http::problem_response(stored.error());
  return http::json_response(std::move(text));
}

schema::type list_schema() {
  using namespace schema;
  return component("dns_list", object({{"entries", array(string())}}));
}

schema::type entry_request() {
  using namespace schema;
  return request({{"entry", string(entry_rule)}});
}

http::response list_entries(request_context& context, std::string_view list) {
  std::string body;
  json_writer writer(body);
  writer.begin_object().key("entries").value(context.services.dns().records().list(list)).end_object();
  return http::json_response(std::move(body));
}

// {"entry": …} added to or removed from a list; `allow_domain` for the DNSBL allowlist.
http::response change_list(request_context& context, std::string_view list, bool allow_domain, bool add) {
  auto body = json_body::parse(context);
  if (!body) return http::problem_response(body.error());
  std::string entry = body->string("entry");
  if (auto ok = body->finish(); !ok) return http::problem_response(ok.error());
  auto canonical = allow_domain ? dns::canonical_allowlist_entry(entry) : dns::canonical_network(entry, "entry");
  if (!canonical) return http::problem_response(canonical.error());
  auto& store = context.services.dns().records();
  if (add) {
    if (auto added = store.add_to_list(list, *canonical); !added) return http::problem_response(added.error());
  } else {
    if (auto removed = store.remove_from_list(list, *canonical); !removed)
      return http::problem_response(removed.error());
  }
  return list_entries(context, list);
}

}  // namespace

reply dns_status(request_context& context) {
  auto& dns = context.services.dns();
  const bool running = co_await context.services.services().active("dns");
  std::string body;
  json_writer writer(body);
  writer.begin_object();
  writer.key("enabled").value(dns.served());
  writer.key("running").value(running);
  writer.key("tld").value(dns.tld());
  writer.key("record_count")
      .value(static_cast<std::int64_t>(dns.records().records().size() + dns.package_records().size()));
  writer.key("listen").value(dns.listen());
  writer.key("host_address").value(dns.host_address());
  writer.key("server").value("knot");
  writer.end_object();
  co_return http::json_response(std::move(body));
}

reply dns_records(request_context& context) {
  auto& dns = context.services.dns();
  const std::string tld = dns.tld();
  std::string body;
  json_writer writer(body);
  writer.begin_array();
  for (const auto& r : dns.records().records()) write_record(writer, r, tld, false);
  for (const auto& r : dns.package_records()) write_record(writer, r, tld, true);
  writer.end_array();
  co_return http::json_response(std::move(body));
}

reply dns_records_add(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  std::string type = body->string("type");
  std::string value = body->string("value");
  std::int64_t ttl = body->optional_integer("ttl").value_or(0);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto added = co_await context.services.dns().add(std::move(name), std::move(type), std::move(value), ttl);
  if (!added) co_return http::problem_response(added.error());
  std::string out;
  json_writer writer(out);
  write_record(writer, *added, context.services.dns().tld(), false);
  co_return http::json_response(std::move(out));
}

reply dns_records_remove(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  std::string type = body->string("type");
  std::string value = body->optional_string("value").value_or("");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto removed = co_await context.services.dns().remove(std::move(name), std::move(type), std::move(value));
  if (!removed) co_return http::problem_response(removed.error());
  std::string out;
  json_writer writer(out);
  writer.begin_object().key("removed").value(static_cast<std::int64_t>(*removed)).end_object();
  co_return http::json_response(std::move(out));
}

reply dns_tld_get(request_context& context) {
  std::string out;
  json_writer writer(out);
  writer.begin_object().key("tld").value(context.services.dns().tld()).end_object();
  co_return http::json_response(std::move(out));
}

reply dns_tld_set(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string tld = body->string("tld");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto set = co_await context.services.dns().set_tld(std::move(tld));
  if (!set) co_return http::problem_response(set.error());
  context.services.setting_changed("dns_tld");
  std::string out;
  json_writer writer(out);
  writer.begin_object().key("tld").value(*set).end_object();
  co_return http::json_response(std::move(out));
}

reply dns_setup(request_context& context) {
  auto& dns = context.services.dns();
  if (dns.served()) {
    // Rewrites the configuration and the zone (every installed package registered), then restarts.
    auto restarted = co_await context.services.services().restart_service("dns");
    if (!restarted) co_return http::problem_response(restarted.error());
  } else if (auto written = co_await dns.publish(); !written) {
    co_return http::problem_response(written.error());
  }
  co_return http::json_response(R"({"status":"ok"})");
}

reply dns_services(request_context& context) {
  auto& dns = context.services.dns();
  const std::string tld = dns.tld();
  std::string out;
  json_writer writer(out);
  writer.begin_array();
  for (const auto& n : dns.package_names()) {
    writer.begin_object();
    writer.key("service").value(n.service);
    writer.key("hostname").value(n.owner.empty() ? std::string() : n.owner + "." + tld);
    writer.key("published").value(n.published);
    writer.end_object();
  }
  writer.end_array();
  co_return http::json_response(std::move(out));
}

reply dns_services_set(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::vector<std::string> excluded = body->string_list("excluded");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto set = co_await context.services.dns().set_excluded(std::move(excluded));
  if (!set) co_return http::problem_response(set.error());
  co_return co_await dns_services(context);
}

reply dns_rbl_get(request_context& context) {
  co_return http::json_response(blocklist_config(context.services.system_settings(), "dns_rbl_config"));
}
reply dns_rbl_set(request_context& context) {
  co_return set_blocklist_config(context, "dns_rbl_config");
}
reply dns_dnsbl_get(request_context& context) {
  co_return http::json_response(blocklist_config(context.services.system_settings(), "dns_dnsbl_config"));
}
reply dns_dnsbl_set(request_context& context) {
  co_return set_blocklist_config(context, "dns_dnsbl_config");
}
reply dns_rbl_local(request_context& context) {
  co_return list_entries(context, "rbl_local");
}
reply dns_rbl_local_add(request_context& context) {
  co_return change_list(context, "rbl_local", false, true);
}
reply dns_rbl_local_remove(request_context& context) {
  co_return change_list(context, "rbl_local", false, false);
}
reply dns_dnsbl_allowlist(request_context& context) {
  co_return list_entries(context, "dnsbl_allowlist");
}
reply dns_dnsbl_allowlist_add(request_context& context) {
  co_return change_list(context, "dnsbl_allowlist", true, true);
}
reply dns_dnsbl_allowlist_remove(request_context& context) {
  co_return change_list(context, "dnsbl_allowlist", true, false);
}

namespace contracts {

namespace {

schema::type tld_schema() {
  using namespace schema;
  return object({{"tld", string()}});
}

schema::type published_names_schema() {
  using namespace schema;
  return array(component(
      "dns_published_name",
      object({{"service", string()}, {"hostname", describe(string(), "\"\" when none")}, {"published", boolean()}})));
}

}  // namespace

const contract& dns_status() {
  using namespace schema;
  static const contract c{.response = object({{"enabled", boolean()},
                                              {"running", boolean()},
                                              {"tld", string()},
                                              {"record_count", integer(0)},
                                              {"listen", string()},
                                              {"host_address", string()},
                                              {"server", enumeration({"knot"})}})};
  return c;
}

const contract& dns_records() {
  static const contract c{.response = schema::array(record_schema())};
  return c;
}

const contract& dns_records_add() {
  using namespace schema;
  static const contract c{.request = request({{"name", string(name_rule)},
                                              {"type", string(type_rule)},
                                              {"value", string(value_rule)},
                                              optional("ttl", integer(0, std::numeric_limits<std::int32_t>::max()))}),
                          .response = record_schema(),
                          .problems = {409, 429}};
  return c;
}

const contract& dns_records_remove() {
  using namespace schema;
  static const contract c{.request = request({{"name", string(name_rule)},
                                              {"type", string(type_rule)},
                                              optional("value", string({.max_length = dns::max_txt_length + 1}))}),
                          .response = object({{"removed", integer(1)}}),
                          .problems = {404, 409, 429}};
  return c;
}

const contract& dns_tld_get() {
  static const contract c{.response = tld_schema()};
  return c;
}

const contract& dns_tld_set() {
  using namespace schema;
  static const contract c{.request = request({{"tld", string({.max_length = 64, .allow_empty = false})}}),
                          .response = tld_schema(),
                          .problems = {429}};
  return c;
}

const contract& dns_setup() {
  using namespace schema;
  // Restarting the served DNS server goes through the system services (409 while they are being
  // applied, 422 when the unit does not start).
  static const contract c{.response = object({{"status", enumeration({"ok"})}}), .problems = {404, 409, 422, 429}};
  return c;
}

const contract& dns_services() {
  static const contract c{.response = published_names_schema()};
  return c;
}

const contract& dns_services_set() {
  using namespace schema;
  static const contract c{.request = request({{"excluded", array(string(entry_rule), 1024)}}),
                          .response = published_names_schema(),
                          .problems = {429}};
  return c;
}

const contract& dns_rbl_get() {
  static const contract c{.response = blocklist_schema()};
  return c;
}

const contract& dns_rbl_set() {
  static const contract c{.request = blocklist_request(), .response = blocklist_schema()};
  return c;
}

const contract& dns_dnsbl_get() {
  return dns_rbl_get();  // the same shapes
}

const contract& dns_dnsbl_set() {
  return dns_rbl_set();  // the same shapes
}

const contract& dns_rbl_local() {
  static const contract c{.response = list_schema()};
  return c;
}

const contract& dns_rbl_local_add() {
  static const contract c{.request = entry_request(), .response = list_schema(), .problems = {409}};
  return c;
}

const contract& dns_rbl_local_remove() {
  static const contract c{.request = entry_request(), .response = list_schema(), .problems = {404}};
  return c;
}

const contract& dns_dnsbl_allowlist() {
  return dns_rbl_local();  // the same shapes
}

const contract& dns_dnsbl_allowlist_add() {
  return dns_rbl_local_add();  // the same shapes
}

const contract& dns_dnsbl_allowlist_remove() {
  return dns_rbl_local_remove();  // the same shapes
}

}  // namespace contracts

}  // namespace sc::server::handlers
