#include "core/audit.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "core/json_reader.hpp"
#include "core/json_writer.hpp"
#include "core/problem.hpp"

namespace sc::audit {

namespace {

// behavior-core.md §7: paths never recorded, whatever the method. Sorted for binary search.
constexpr auto excluded_paths = [] {
  auto paths = std::to_array<std::string_view>({
      "/",
      "/account",
      "/account/me",
      "/account/sessions",
      "/audit/log",
      "/boot-status",
      "/dns/dnsbl/allowlist",
      "/dns/rbl/local",
      "/dns/records",
      "/dns/services",
      "/dns/status",
      "/gfeh",
      "/gfeh/exposures",
      "/gfeh/grants",
      "/gfeh/partitions",
      "/gfeh/principals",
      "/health",
      "/locales",
      "/metrics",
      "/monitoring/status",
      "/networks",
      "/networks/peers",
      "/networks/peers/connected",
      "/openapi.json",
      "/packages",
      "/packages/by-repo",
      "/packages/children",
      "/packages/featured",
      "/packages/install-preview",
      "/packages/installed",
      "/packages/installed/info",
      "/packages/last-responses",
      "/packages/manifest",
      "/packages/questions",
      "/packages/questions/identity",
      "/packages/responses",
      "/packages/snapshots",
      "/packages/uninstalled-volumes",
      "/packages/upgrades",
      "/packages/versions",
      "/pages",
      "/ready",
      "/repository",
      "/settings",
      "/settings/get",
      "/status/ping",
      "/storage",
      "/storage/package-volumes",
      "/system-services",
      "/systemd/logs",
      "/systemd/logs/tail",
      "/systemd/logs/tree",
      "/systemd/logs/tree/tail",
      "/systemd/units",
      "/systemd/units-tree",
      "/tls/ca.crt",
      "/vm-images",
  });
  std::sort(paths.begin(), paths.end());
  return paths;
}();

struct action_name {
  std::string_view path;
  std::string_view action;
};
constexpr auto actions = [] {
  auto table = std::to_array<action_name>({
      {"/account/authenticate", "authenticate"},
      {"/account/create", "create account"},
      {"/account/disable", "disable account"},
      {"/account/enable", "enable account"},
      {"/account/session/revoke", "revoke session"},
      {"/account/update", "update account"},
      {"/dns/dnsbl", "set dns dnsbl"},
      {"/dns/dnsbl/allowlist/add", "add dnsbl allowlist entry"},
      {"/dns/dnsbl/allowlist/remove", "remove dnsbl allowlist entry"},
      {"/dns/rbl", "set dns rbl"},
      {"/dns/rbl/local/add", "add local rbl entry"},
      {"/dns/rbl/local/remove", "remove local rbl entry"},
      {"/dns/records/add", "add dns record"},
      {"/dns/records/remove", "remove dns record"},
      {"/dns/services/set", "set dns services"},
      {"/dns/setup", "setup dns"},
      {"/dns/tld", "set dns tld"},
      {"/gfeh/exposures/withdraw", "withdraw object storage link"},
      {"/gfeh/grants/add", "add object storage grant"},
      {"/gfeh/grants/revoke", "revoke object storage grant"},
      {"/gfeh/partitions/create", "create object storage partition"},
      {"/gfeh/partitions/modify", "modify object storage partition"},
      {"/gfeh/partitions/remove", "remove object storage partition"},
      {"/gfeh/principals/add", "add object storage user"},
      {"/gfeh/principals/remove", "remove object storage user"},
      {"/networks/create", "create network"},
      {"/networks/disable", "disable network"},
      {"/networks/enable", "enable network"},
      {"/networks/peers/add", "add network peer"},
      {"/networks/peers/refresh", "refresh network peer"},
      {"/networks/peers/remove", "remove network peer"},
      {"/networks/remove", "remove network"},
      {"/packages/clear-last-responses", "clear cached install responses"},
      {"/packages/disable", "disable package"},
      {"/packages/enable", "enable package"},
      {"/packages/install", "install package"},
      {"/packages/purge-uninstalled-volumes", "purge uninstalled volumes"},
      {"/packages/purge-volumes", "purge volumes"},
      {"/packages/rebuild-git", "rebuild git"},
      {"/packages/rollback", "roll back package"},
      {"/packages/snapshots/remove", "remove package snapshot"},
      {"/packages/uninstall", "uninstall package"},
      {"/packages/upgrades/dismiss", "dismiss package upgrades"},
      {"/pages/create", "create page"},
      {"/pages/rebuild", "rebuild page"},
      {"/pages/remove", "remove page"},
      {"/pages/update", "update page"},
      {"/pages/upload", "upload page archive"},
      {"/repository/add", "add repository"},
      {"/repository/move", "move repository"},
      {"/repository/refresh", "refresh repositories"},
      {"/repository/remove", "remove repository"},
      {"/settings/set", "update setting"},
      {"/storage/create", "create filesystem"},
      {"/storage/download-archive", "download archive"},
      {"/storage/modify", "modify filesystem"},
      {"/storage/remove", "remove filesystem"},
      {"/storage/remove-package-volume", "remove package volume"},
      {"/storage/remove-package-volume-group", "remove package volume group"},
      {"/storage/upload-archive", "upload archive"},
      {"/system-services/refresh", "refresh system services"},
      {"/system-services/status", "set system service status"},
      {"/systemd/status", "set unit status"},
      {"/systemd/status/tree", "set unit status"},
      {"/vm-images/delete", "delete vm image"},
      {"/vm-images/upload", "upload vm image"},
  });
  std::sort(table.begin(), table.end(), [](const action_name& a, const action_name& b) { return a.path < b.path; });
  return table;
}();

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Writes `v` with keys sorted (Go marshals maps that way), credentials left out and secrets in
// strings redacted.
void write_sanitized(json_writer& w, simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> members;
      for (auto [key, value] : simdjson::dom::object(v)) members.emplace_back(key, value);
      std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      w.begin_object();
      for (const auto& [key, value] : members) {
        // Left out, not masked: the original client's tests assert the key is absent.
        if (lowered(key) == "responses" || is_secret_key(key)) continue;
        w.key(key);
        write_sanitized(w, value);
      }
      w.end_object();
      return;
    }
    case simdjson::dom::element_type::ARRAY:
      w.begin_array();
      for (auto element : simdjson::dom::array(v)) write_sanitized(w, element);
      w.end_array();
      return;
    case simdjson::dom::element_type::STRING:
      w.value(redact_secrets(std::string_view(v)));
      return;
    default:  // numbers, booleans and null as they were
      w.raw(simdjson::minify(v));
  }
}

}  // namespace

bool is_audited(std::string_view method, std::string_view path) noexcept {
  if (method == "GET" || method == "HEAD" || method == "OPTIONS") return false;
  return !std::binary_search(excluded_paths.begin(), excluded_paths.end(), path);
}

std::string_view action_for(std::string_view path) noexcept {
  auto it = std::lower_bound(actions.begin(), actions.end(), path,
                             [](const action_name& a, std::string_view p) { return a.path < p; });
  if (it != actions.end() && it->path == path) return it->action;
  return {};
}

bool is_secret_key(std::string_view key) noexcept {
  std::string name = lowered(key);
  static constexpr std::string_view endings[] = {"password",   "passwd",      "secret",     "token",
                                                 "credential", "credentials", "passphrase", "private_key",
                                                 "privatekey", "api_key",     "apikey"};
  for (auto ending : endings) {
    if (std::string_view(name).ends_with(ending)) return true;
  }
  std::string_view suffix = name;
  if (auto underscore = suffix.rfind('_'); underscore != std::string_view::npos) suffix = suffix.substr(underscore + 1);
  return name == "auth" || suffix == "auth";
}

std::string redact_detail(std::string_view body) {
  if (body.empty()) return {};
  simdjson::dom::element parsed;
  if (json::parse(body).get(parsed) != simdjson::SUCCESS || !parsed.is_object()) {
    return {};
  }
  std::string out;
  json_writer writer(out);
  write_sanitized(writer, parsed);
  if (out.size() > max_detail_bytes) {
    std::size_t cut = max_detail_bytes;
    // Never split a UTF-8 sequence: back up over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "…";
  }
  return out;
}

std::string format_error(int status, std::string_view detail) {
  return "code=" + std::to_string(status) + ", message=" + redact_secrets(detail);
}

std::string error_of_response(int status, std::string_view reason, std::string_view body) {
  simdjson::dom::element parsed;
  std::string_view detail;
  if (json::parse(body).get(parsed) == simdjson::SUCCESS && parsed.is_object() &&
      parsed["detail"].get(detail) == simdjson::SUCCESS && !detail.empty()) {
    return format_error(status, detail);
  }
  return format_error(status, reason);
}

log_query normalize_query(std::int64_t before_id, std::int64_t offset, std::int64_t limit, std::string account,
                          std::string_view sort_by, std::string_view sort_order, std::string search) {
  static constexpr std::string_view sortable[] = {"id",     "account", "action", "path",
                                                  "detail", "success", "error",  "created_at"};
  log_query q;
  q.before_id = std::max<std::int64_t>(before_id, 0);
  q.offset = static_cast<std::size_t>(std::max<std::int64_t>(offset, 0));
  if (limit <= 0) {
    q.limit = default_limit;
  } else {
    q.limit = static_cast<std::size_t>(std::min<std::int64_t>(limit, static_cast<std::int64_t>(max_limit)));
  }
  q.account = std::move(account);
  q.sort_by = "id";
  for (auto name : sortable) {
    if (name == sort_by) q.sort_by = std::string(name);
  }
  q.ascending = lowered(sort_order) == "asc";
  q.search = std::move(search);
  return q;
}

}  // namespace sc::audit
