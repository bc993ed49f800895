#include "tools/townctl/cli/commands.hpp"

#include <algorithm>
#include <cctype>

#include "tools/townctl/client/client.hpp"

namespace sc::townctl {

namespace {

argument positional(std::string_view name, std::string_view help, arg_kind kind = arg_kind::text) {
  return {name, kind, true, true, help};
}
argument option(std::string_view name, std::string_view help, arg_kind kind = arg_kind::text) {
  return {name, kind, false, false, help};
}
argument required_option(std::string_view name, std::string_view help, arg_kind kind = arg_kind::text) {
  return {name, kind, false, true, help};
}
argument package_argument() {
  return positional("package", "[REPO/]NAME[@VERSION], e.g. default/gitea@2.0", arg_kind::package);
}
argument instance_option() {
  return option("instance", "the instance name of a package installed more than once");
}

std::vector<command> build_table() {
  using enum arg_kind;
  const auto pkg = package_argument();
  const auto instance = instance_option();
  std::vector<command> t = {
      // ---- status and operations
      {"status", "ping", "GET", "/status/ping", "Health and the dashboard overview"},
      {"status", "health", "GET", "/health", "Liveness and uptime"},
      {"status", "ready", "GET", "/ready", "Readiness of the database, D-Bus, btrfs and the programs the daemon runs"},
      {"status", "metrics", "GET", "/metrics", "Prometheus text metrics"},
      {"status", "openapi", "GET", "/openapi.json", "The API as OpenAPI 3.1"},
      {"status", "ca-cert", "GET", "/tls/ca.crt", "The local certificate authority (PEM)"},

      // ---- sessions
      {"login",
       "",
       "POST",
       "/account/authenticate",
       "Log in over TCP and keep the token in ~/.config/townctl/ (0600); the password is read from the terminal "
       "or a line of stdin, never from the command line",
       {positional("username", "the account to log in as")},
       action::login},
      {"logout",
       "",
       "POST",
       "/account/session/revoke",
       "Revoke the kept session and forget its token",
       {},
       action::logout},

      // ---- accounts
      {"account",
       "create",
       "POST",
       "/account/create",
       "Create an account (the first one is the administrator); the password is prompted for",
       {positional("username", "1–64 of [A-Za-z0-9._-]"),
        {"password", secret, false, true, "prompted for"},
        required_option("email", "e-mail address"),
        required_option("phone", "phone number"),
        required_option("real_name", "full name"),
        option("admin", "make it an administrator", flag)}},
      {"account", "get", "POST", "/account", "One account", {positional("username", "the account")}},
      {"account",
       "list",
       "GET",
       "/account",
       "Accounts",
       {},
       action::request,
       true,
       "username,real_name,email,admin,disabled"},
      {"account",
       "update",
       "POST",
       "/account/update",
       "Change an account's fields (non-admins: their own)",
       {positional("username", "the account"),
        option("fields.email", "new e-mail address"),
        option("fields.phone", "new phone number"),
        option("fields.real_name", "new full name"),
        {"fields.admin", text, false, false, "true or false", "admin"},
        {"fields.password", secret, false, false, "prompt for a new password", "password"}}},
      {"account", "me", "GET", "/account/me", "The caller's username"},
      {"account", "sessions", "GET", "/account/sessions", "The caller's sessions, most recent first"},
      {"account",
       "revoke",
       "POST",
       "/account/session/revoke",
       "Revoke a session",
       {positional("session_id", "the session's id (account sessions)")}},
      {"account",
       "disable",
       "POST",
       "/account/disable",
       "Disable an account and end its sessions",
       {positional("username", "the account")}},
      {"account",
       "enable",
       "POST",
       "/account/enable",
       "Enable a disabled account",
       {positional("username", "the account")}},

      // ---- settings, locales, audit
      {"settings", "list", "GET", "/settings", "All settings"},
      {"settings", "get", "POST", "/settings/get", "One setting", {positional("key", "the setting")}},
      {"settings",
       "set",
       "POST",
       "/settings/set",
       "Validate and store one setting",
       {positional("key", "the setting"), positional("value", "its new value")}},
      {"locales", "", "GET", "/locales", "The current locale and the locales offered"},
      {"audit",
       "log",
       "POST",
       "/audit/log",
       "The audit log, newest first",
       {option("before_id", "entries older than this id", integer), option("account", "only this account's")},
       action::request,
       true,
       "id,created_at,account,action,path,success"},

      // ---- repositories
      {"repository",
       "list",
       "GET",
       "/repository",
       "Package repositories and their last refresh error",
       {},
       action::request,
       false,
       "name,url,error"},
      {"repository",
       "add",
       "POST",
       "/repository/add",
       "Clone and add a repository at the end of the list",
       {positional("name", "its name"),
        positional("url", "git URL (https, http, ssh, git or file)"),
        option("username", "user for a private repository"),
        {"password", secret, false, false, "prompt for the private repository's password"}}},
      {"repository", "remove", "POST", "/repository/remove", "Remove a repository", {positional("name", "its name")}},
      {"repository",
       "move",
       "POST",
       "/repository/move",
       "Move a repository (later ones override earlier ones)",
       {positional("name", "its name"), positional("position", "zero-based position", integer)}},
      {"repository", "refresh", "POST", "/repository/refresh", "Fetch every repository now"},

      // ---- packages: catalog
      {"packages",
       "list",
       "GET",
       "/packages",
       "The latest version of every package",
       {},
       action::request,
       true,
       "repo,name,version,installed,installed_version,description"},
      {"packages",
       "by-repo",
       "GET",
       "/packages/by-repo",
       "Packages grouped by repository",
       {option("search", "substring of name or description")}},
      {"packages",
       "featured",
       "GET",
       "/packages/featured",
       "Featured packages",
       {},
       action::request,
       true,
       "repo,name,version,description"},
      {"packages", "timezones", "GET", "/packages/timezones", "IANA time zone names"},
      {"packages", "versions", "POST", "/packages/versions", "Versions of a package, highest first", {pkg}},
      {"packages", "children", "POST", "/packages/children", "Child instances of a package", {pkg}},
      {"packages", "manifest", "POST", "/packages/manifest", "The package definition (YAML)", {pkg}},
      {"packages", "questions", "POST", "/packages/questions", "Questions of the latest version", {pkg}},
      {"packages", "questions-version", "POST", "/packages/questions/identity", "Questions of one version", {pkg}},
      {"packages",
       "preview",
       "POST",
       "/packages/install-preview",
       "What installing a version would do",
       {pkg, instance, {"responses", answers, false, false, "KEY=VALUE answer (repeatable)", "answer"}}},

      // ---- packages: lifecycle
      {"packages",
       "install",
       "POST",
       "/packages/install",
       "Install a package (or upgrade to VERSION), with a progress bar until it runs",
       {pkg,
        instance,
        {"responses", answers, false, false, "KEY=VALUE answer to a question (repeatable)", "answer"},
        option("reuse_volumes", "reuse the volumes kept from an uninstall", flag),
        option("skip_response_reuse", "do not reuse the answers kept from an uninstall", flag),
        option("import_from_version", "import the volumes of this version")},
       action::progress},
      {"packages",
       "upgrade",
       "POST",
       "/packages/install",
       "Upgrade an installed package to VERSION: snapshot, swap, verify, or roll back by itself",
       {pkg,
        instance,
        {"responses", answers, false, false, "KEY=VALUE answer to a new question (repeatable)", "answer"}},
       action::progress},
      {"packages",
       "uninstall",
       "POST",
       "/packages/uninstall",
       "Uninstall a package (volumes kept unless --purge-volumes)",
       {pkg, instance, option("purge_volumes", "delete its volumes too", flag)},
       action::progress},
      {"packages",
       "rollback",
       "POST",
       "/packages/rollback",
       "Return to the version the last upgrade kept",
       {pkg, instance},
       action::progress},
      {"packages", "disable", "POST", "/packages/disable", "Stop a package and keep it stopped", {pkg, instance}},
      {"packages", "enable", "POST", "/packages/enable", "Start a disabled package", {pkg, instance}},
      {"packages",
       "rebuild-git",
       "POST",
       "/packages/rebuild-git",
       "Fast-forward the package's git-seeded volumes and restart it",
       {pkg, instance}},
      {"packages",
       "purge-volumes",
       "POST",
       "/packages/purge-volumes",
       "Delete an uninstalled package's volumes",
       {pkg, instance}},
      {"packages",
       "purge-uninstalled-volumes",
       "POST",
       "/packages/purge-uninstalled-volumes",
       "Delete the volumes kept from an uninstall",
       {pkg, instance}},
      {"packages",
       "uninstalled-volumes",
       "POST",
       "/packages/uninstalled-volumes",
       "Versions with installed and kept volumes",
       {pkg, instance}},
      {"packages",
       "installed",
       "GET",
       "/packages/installed",
       "Installed packages as repo/name@version",
       {},
       action::request,
       true},
      {"packages",
       "info",
       "POST",
       "/packages/installed/info",
       "Questions, answers and notes of an installed package",
       {pkg, instance}},
      {"packages",
       "responses",
       "POST",
       "/packages/responses",
       "The answers a package was installed with",
       {pkg, instance}},
      {"packages",
       "last-responses",
       "POST",
       "/packages/last-responses",
       "The answers kept from the last uninstall",
       {pkg, instance}},
      {"packages",
       "clear-last-responses",
       "POST",
       "/packages/clear-last-responses",
       "Forget the answers kept from the last uninstall",
       {pkg, instance}},
      {"packages",
       "snapshots",
       "POST",
       "/packages/snapshots",
       "Versions kept by upgrades to roll back to",
       {pkg, instance},
       action::request,
       false,
       "id,version,created_at,size"},
      {"packages",
       "snapshots-remove",
       "POST",
       "/packages/snapshots/remove",
       "Delete one kept version",
       {pkg, instance, required_option("id", "the snapshot's id", integer)}},
      {"packages",
       "upgrades",
       "GET",
       "/packages/upgrades",
       "Installed packages with a newer version",
       {},
       action::request,
       false,
       "repo,name,installed_version,latest_version,changed"},
      {"packages", "upgrades-dismiss", "POST", "/packages/upgrades/dismiss", "Dismiss the current upgrade list"},

      // ---- storage
      {"storage",
       "list",
       "POST",
       "/storage",
       "Filesystems with quota and usage",
       {option("name", "name prefix"), option("state", "user, installed or uninstalled")},
       action::request,
       true,
       "name,state,quota,usage"},
      {"storage",
       "create",
       "POST",
       "/storage/create",
       "Create a filesystem",
       {positional("name", "its name"), option("quota", "bytes (0: the default_quota setting)", integer)}},
      {"storage",
       "modify",
       "POST",
       "/storage/modify",
       "Rename a filesystem or change its quota",
       {positional("name", "its name"),
        {"filesystem.name", text, false, false, "the new name", "new-name"},
        {"filesystem.quota", integer, false, false, "the new quota in bytes", "quota"}}},
      {"storage", "remove", "POST", "/storage/remove", "Delete a filesystem", {positional("name", "its name")}},
      {"storage",
       "package-volumes",
       "POST",
       "/storage/package-volumes",
       "Package volumes grouped by package",
       {option("include_uninstalled", "with the volumes kept from uninstalls", flag)}},
      {"storage",
       "remove-package-volume",
       "POST",
       "/storage/remove-package-volume",
       "Delete one package volume",
       {positional("internal_name", "the volume's internal name")}},
      {"storage",
       "upload",
       "POST",
       "/storage/upload-archive",
       "Unpack a local archive, or a directory (packed as tar.gz first), into a volume, with bytes, rate and ETA",
       {positional("subvolume", "the target volume path"),
        {"source", text, true, true, "a file or directory", {}, true},
        option("subpath", "a directory inside the volume (made on demand)"),
        option("stop_service", "a unit to stop while unpacking")},
       action::upload},
      {"storage",
       "download",
       "POST",
       "/storage/download-archive",
       "A volume, or paths in it, as an archive",
       {positional("subvolume", "the source volume path"),
        {"paths", list, false, false, "a path inside (repeatable)", "path"},
        option("format", "tar.gz (default), tar.bz2 or tar.xz"),
        option("stop_service", "a unit to stop meanwhile"),
        {"output", text, false, false, "the file to write (default: stdout when it is not a terminal)", {}, true, 'o'}},
       action::download},

      // ---- systemd units and the journal
      {"units",
       "list",
       "GET",
       "/systemd/units",
       "Managed units with their state",
       {},
       action::request,
       true,
       "Name,ActiveState,SubState,package_identifier,Description"},
      {"units",
       "start",
       "POST",
       "/systemd/status",
       "Start a managed unit",
       {positional("name", "the unit")},
       action::request,
       false,
       {},
       R"({"action":"start"})"},
      {"units",
       "stop",
       "POST",
       "/systemd/status",
       "Stop a managed unit",
       {positional("name", "the unit")},
       action::request,
       false,
       {},
       R"({"action":"stop"})"},
      {"units",
       "restart",
       "POST",
       "/systemd/status",
       "Restart a managed unit",
       {positional("name", "the unit")},
       action::request,
       false,
       {},
       R"({"action":"restart"})"},
      {"units",
       "enable",
       "POST",
       "/systemd/status",
       "Enable a managed unit",
       {positional("name", "the unit")},
       action::request,
       false,
       {},
       R"({"action":"enable"})"},
      {"units",
       "disable",
       "POST",
       "/systemd/status",
       "Disable a managed unit",
       {positional("name", "the unit")},
       action::request,
       false,
       {},
       R"({"action":"disable"})"},
      {"logs",
       "",
       "GET",
       "/systemd/logs/tail",
       "A unit's journal (\"\" or __system__: the whole system); -f follows it live and resumes after a reconnect "
       "from the last entry seen",
       {{"unit", text, true, false, "the unit (default: the whole system)"},
        option("lines", "how many recent entries", integer),
        option("grep", "case-insensitive substring"),
        option("priority", "at most this syslog priority (1–7)", integer),
        option("since", "from this Unix time", integer),
        option("until", "up to this Unix time", integer),
        option("before", "entries before this cursor"),
        option("after", "entries after this cursor"),
        {"follow", flag, false, false, "follow the live stream", {}, true, 'f'}},
       action::logs,
       false,
       {},
       {},
       "/systemd/logs"},

      // ---- system services
      {"services",
       "list",
       "GET",
       "/system-services",
       "System services with their unit state",
       {},
       action::request,
       false,
       "key,name,ActiveState,SubState,image,port"},
      {"services",
       "start",
       "POST",
       "/system-services/status",
       "Start a system service",
       {positional("key", "the service key")},
       action::request,
       false,
       {},
       R"({"action":"start"})"},
      {"services",
       "stop",
       "POST",
       "/system-services/status",
       "Stop a system service",
       {positional("key", "the service key")},
       action::request,
       false,
       {},
       R"({"action":"stop"})"},
      {"services",
       "restart",
       "POST",
       "/system-services/status",
       "Restart a system service",
       {positional("key", "the service key")},
       action::request,
       false,
       {},
       R"({"action":"restart"})"},
      {"services", "refresh", "POST", "/system-services/refresh",
       "Rewrite the system services' units; restart those that changed"},

      // ---- VM images
      {"vm-images", "list", "GET", "/vm-images", "Cached VM disk images", {}, action::request, false, "name,size"},
      {"vm-images",
       "upload",
       "POST",
       "/vm-images/upload",
       "Download an http(s) disk image and convert it to raw",
       {positional("url", "where the image is (http or https)"),
        option("name", "the image's name (default: the URL's)")}},
      {"vm-images",
       "delete",
       "POST",
       "/vm-images/delete",
       "Delete a cached VM image",
       {positional("name", "the image's name")}},

      // ---- pages
      {"pages",
       "list",
       "GET",
       "/pages",
       "Static pages",
       {},
       action::request,
       true,
       "name,source_type,domain,status,updated_at"},
      {"pages",
       "create",
       "POST",
       "/pages/create",
       "Create a page; git and container_image pages provision in the background",
       {positional("name", "the page's name (a DNS label)"),
        option("source_type", "archive (default), git or container_image"), option("repo_url", "git: the repository"),
        option("branch", "git: the branch (default main)"), option("image", "container_image: the image"),
        option("image_directory", "container_image: the directory copied out of it"),
        option("domain", "the host it is served at (default: the name)")}},
      {"pages",
       "upload",
       "POST",
       "/pages/upload",
       "Replace an archive page's content with a local archive, or a directory (packed as tar.gz first)",
       {positional("name", "the page"), {"source", text, true, true, "a file or directory", {}, true}},
       action::upload},
      {"pages",
       "update",
       "POST",
       "/pages/update",
       "Change a page's source or domain (only the options given)",
       {positional("name", "the page"), option("source_type", "archive, git or container_image"),
        option("repo_url", "git: the repository"), option("branch", "git: the branch"),
        option("image", "container_image: the image"),
        option("image_directory", "container_image: the directory copied out of it"),
        option("domain", "the host it is served at")}},
      {"pages",
       "remove",
       "POST",
       "/pages/remove",
       "Delete a page, its link and its content",
       {positional("name", "the page")}},
      {"pages",
       "rebuild",
       "POST",
       "/pages/rebuild",
       "Pull a git page or re-extract an image page (not archive pages)",
       {positional("name", "the page")}},

      // ---- monitoring
      {"monitoring", "status", "GET", "/monitoring/status",
       "Prometheus and the node exporter: running, and the scrape targets"},
      {"monitoring",
       "get",
       "GET",
       "/monitoring/grafana/{path}",
       "GET from the monitoring UI's API (Prometheus), e.g. `api/v1/query --set query=up`",
       {positional("path", "the path below the monitoring UI, e.g. api/v1/query")}},

      // ---- DNS
      {"dns", "status", "GET", "/dns/status", "DNS server state, TLD and record count"},
      {"dns",
       "records",
       "GET",
       "/dns/records",
       "Every record of the local zone",
       {},
       action::request,
       false,
       "name,type,value,ttl"},
      {"dns",
       "add",
       "POST",
       "/dns/records/add",
       "Add a record",
       {positional("name", "record name"), positional("type", "A, AAAA, CNAME, MX, TXT, SRV or PTR"),
        positional("value", "record data"), option("ttl", "seconds", integer)}},
      {"dns",
       "remove",
       "POST",
       "/dns/records/remove",
       "Remove records by name and type",
       {positional("name", "record name"), positional("type", "record type"), option("value", "only this value")}},
      {"dns", "tld", "GET", "/dns/tld", "The local top-level domain"},
      {"dns",
       "set-tld",
       "POST",
       "/dns/tld",
       "Change the TLD (every package name moves with it)",
       {positional("tld", "the new top-level domain")}},
      {"dns", "setup", "POST", "/dns/setup", "Rewrite the DNS server's configuration and zone and restart it"},
      {"dns", "services", "GET", "/dns/services", "Installed packages with their DNS names"},
      {"dns",
       "set-services",
       "POST",
       "/dns/services/set",
       "Set the packages whose names are not published",
       {{"excluded", list, false, false, "a package not to publish (repeatable)", "exclude"}}},
      {"dns", "rbl", "GET", "/dns/rbl", "The RBL configuration"},
      {"dns",
       "set-rbl",
       "POST",
       "/dns/rbl",
       "Set the RBL configuration",
       {{"enabled", text, false, true, "true or false"}, {"zones", list, false, false, "a zone (repeatable)", "zone"}}},
      {"dns", "dnsbl", "GET", "/dns/dnsbl", "The DNSBL configuration"},
      {"dns",
       "set-dnsbl",
       "POST",
       "/dns/dnsbl",
       "Set the DNSBL configuration",
       {{"enabled", text, false, true, "true or false"}, {"zones", list, false, false, "a zone (repeatable)", "zone"}}},
      {"dns", "rbl-local", "GET", "/dns/rbl/local", "The local RBL's listed addresses"},
      {"dns",
       "rbl-local-add",
       "POST",
       "/dns/rbl/local/add",
       "List an address or network",
       {positional("entry", "address or network")}},
      {"dns",
       "rbl-local-remove",
       "POST",
       "/dns/rbl/local/remove",
       "Unlist an address or network",
       {positional("entry", "address or network")}},
      {"dns", "allowlist", "GET", "/dns/dnsbl/allowlist", "The DNSBL allowlist"},
      {"dns",
       "allowlist-add",
       "POST",
       "/dns/dnsbl/allowlist/add",
       "Allow an address, network or domain",
       {positional("entry", "address, network or domain")}},
      {"dns",
       "allowlist-remove",
       "POST",
       "/dns/dnsbl/allowlist/remove",
       "Remove an allowlist entry",
       {positional("entry", "address, network or domain")}},

      // ---- anything else, and the shell
      {"call",
       "",
       "",
       "",
       "Any endpoint: call METHOD PATH [JSON] (JSON '-' reads stdin)",
       {positional("method", "GET or POST"),
        positional("path", "e.g. /dns/records"),
        {"json", text, true, false, "the request body"}},
       action::raw_call},
      {"completion",
       "",
       "",
       "",
       "Print the bash completion script (source it, or see /usr/share/bash-completion)",
       {{"shell", text, true, false, "bash"}},
       action::completion},
  };
  return t;
}

}  // namespace

std::string command::display_name() const {
  return name.empty() ? std::string(group) : std::string(group) + " " + std::string(name);
}

std::string command::option_of(const argument& arg) {
  std::string out = "--";
  std::string_view base = arg.option.empty() ? arg.name : arg.option;
  if (arg.option.empty()) {
    if (auto dot = base.rfind('.'); dot != std::string_view::npos) base = base.substr(dot + 1);
  }
  for (char c : base) out += (c == '_' || c == '.') ? '-' : c;
  return out;
}

const std::vector<command>& command_table() {
  static const std::vector<command> table = build_table();
  return table;
}

std::vector<const command*> commands_of(std::string_view group) {
  std::vector<const command*> out;
  for (const auto& c : command_table()) {
    if (c.group == group) out.push_back(&c);
  }
  return out;
}

std::vector<std::string_view> group_names() {
  std::vector<std::string_view> out;
  for (const auto& c : command_table()) {
    if (std::find(out.begin(), out.end(), c.group) == out.end()) out.push_back(c.group);
  }
  return out;
}

std::string_view group_help(std::string_view group) {
  static const std::map<std::string_view, std::string_view> texts = {
      {"status", "health, readiness, metrics, the API description"},
      {"login", "log in over TCP and keep the token"},
      {"logout", "revoke the kept session and forget its token"},
      {"account", "accounts and sessions"},
      {"settings", "the controller's settings"},
      {"locales", "the current locale and those offered"},
      {"audit", "the audit log"},
      {"repository", "package repositories"},
      {"packages", "the catalog, installing, upgrading and uninstalling apps"},
      {"storage", "filesystems, package volumes, archive upload and download"},
      {"units", "the managed systemd units"},
      {"logs", "the journal of a unit, live with -f"},
      {"services", "the system services (DNS, the ingress, monitoring)"},
      {"monitoring", "Prometheus's state and its API"},
      {"vm-images", "disk images for VM packages"},
      {"pages", "static sites served by the ingress"},
      {"dns", "the local DNS zone and its block lists"},
      {"call", "any endpoint by method and path"},
      {"completion", "the bash completion script"},
  };
  auto found = texts.find(group);
  return found == texts.end() ? std::string_view{} : found->second;
}

namespace {
constexpr std::string_view global_options =
    "Options for every command:\n"
    "  --socket PATH   the controller's Unix socket (env TOWNCTL_SOCKET; default /run/town-os/systemcontroller.sock)\n"
    "  --url URL       talk TCP to http://HOST[:PORT] instead, with the token `townctl login` kept (env TOWNCTL_URL)\n"
    "  --json          print the answer as JSON (for scripts)\n"
    "  --set KEY=VALUE add a string member to the request (dots nest: fields.email=…)\n"
    "  --data JSON     merge a JSON object into the request\n"
    "  -h, --help      this help\n"
    "Exit codes: 0 ok, 1 refused (400/422/…) or failed, 2 usage, 3 auth (401/403), 4 not found, 5 conflict (409),\n"
    "6 server error or unavailable (5xx, no connection).\n";

std::string argument_synopsis(const argument& a) {
  std::string upper;
  for (char c : a.name.substr(a.name.rfind('.') == std::string_view::npos ? 0 : a.name.rfind('.') + 1)) {
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (a.kind == arg_kind::package) upper = "[REPO/]NAME[@VERSION]";
  if (a.positional) return a.required ? upper : "[" + upper + "]";
  std::string flag = command::option_of(a);
  if (a.kind == arg_kind::flag || a.kind == arg_kind::secret) return a.required ? flag : "[" + flag + "]";
  std::string value = a.kind == arg_kind::answers ? "KEY=VALUE" : upper;
  std::string out = flag + " " + value;
  if (a.kind == arg_kind::list || a.kind == arg_kind::answers) out += "...";
  return a.required ? out : "[" + out + "]";
}
}  // namespace

std::string overview_help() {
  std::string out =
      "townctl — manage a Town OS home server through its systemcontroller\n\n"
      "Usage: townctl [OPTIONS] GROUP [COMMAND] [ARGS]   (townctl GROUP --help for its commands)\n\nGroups:\n";
  for (auto group : group_names()) {
    std::string name(group);
    name.resize(std::max<std::size_t>(name.size(), 12), ' ');
    out += "  " + name + " " + std::string(group_help(group)) + "\n";
  }
  out += "\n";
  out += global_options;
  return out;
}

std::string group_usage(std::string_view group) {
  auto members = commands_of(group);
  if (members.size() == 1 && members.front()->name.empty()) return command_usage(*members.front());
  std::string out =
      "Usage: townctl " + std::string(group) + " COMMAND [ARGS]\n" + std::string(group_help(group)) + "\n\nCommands:\n";
  for (const auto* c : members) {
    std::string name(c->name);
    name.resize(std::max<std::size_t>(name.size(), 26), ' ');
    out += "  " + name + " " + std::string(c->help) + "\n";
  }
  out += "\n";
  out += global_options;
  return out;
}

std::string command_usage(const command& c) {
  std::string out = "Usage: townctl " + c.display_name();
  for (const auto& a : c.args) out += " " + argument_synopsis(a);
  if (c.paged) out += " [--limit N] [--offset N] [--search TEXT] [--sort-by FIELD] [--sort-order asc|desc]";
  out += "\n" + std::string(c.help) + "\n";
  if (!c.path.empty()) out += "Endpoint: " + std::string(c.method) + " " + std::string(c.path) + "\n";
  if (!c.args.empty()) out += "\nArguments:\n";
  for (const auto& a : c.args) {
    std::string name = a.positional ? argument_synopsis(a) : command::option_of(a);
    if (a.short_name != 0) name += std::string(", -") + a.short_name;
    name.resize(std::max<std::size_t>(name.size(), 24), ' ');
    out += "  " + name + " " + std::string(a.help) + (a.required && !a.positional ? " (required)" : "") + "\n";
  }
  out += "\n";
  out += global_options;
  return out;
}

std::string bash_completion() {
  // Words are completed from the table: groups, then a group's commands, then the command's
  // options; positionals are left to the default (file names).
  std::string groups;
  std::string cases;
  for (auto group : group_names()) {
    groups += std::string(group) + " ";
    std::string names;
    for (const auto* c : commands_of(group)) {
      if (!c->name.empty()) names += std::string(c->name) + " ";
    }
    cases += "    " + std::string(group) + ") subcommands='" + names + "' ;;\n";
  }
  std::string option_cases;
  for (const auto& c : command_table()) {
    std::string options = "--help --json --socket --url --set --data";
    for (const auto& a : c.args) {
      if (!a.positional) options += " " + command::option_of(a);
    }
    if (c.paged) options += " --limit --offset --search --sort-by --sort-order";
    option_cases += "    '" + c.display_name() + "') options='" + options + "' ;;\n";
  }
  return "# bash completion for townctl, generated from its command table (townctl completion bash)\n"
         "_townctl() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} words=() w i skip=0\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    w=${COMP_WORDS[i]}\n"
         "    if ((skip)); then skip=0; continue; fi\n"
         "    case $w in --socket|--url|--set|--data) skip=1; continue ;; -*) continue ;; esac\n"
         "    words+=(\"$w\")\n"
         "  done\n"
         "  local groups='" +
         groups +
         "'\n"
         "  if ((${#words[@]} == 0)); then\n"
         "    COMPREPLY=($(compgen -W \"$groups --help --json --socket --url\" -- \"$cur\")); return\n"
         "  fi\n"
         "  local subcommands=''\n"
         "  case ${words[0]} in\n" +
         cases +
         "  esac\n"
         "  if ((${#words[@]} == 1)) && [[ -n $subcommands && $cur != -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$subcommands\" -- \"$cur\")); return\n"
         "  fi\n"
         "  local key=${words[0]} options=''\n"
         "  [[ -n $subcommands ]] && key=\"${words[0]} ${words[1]}\"\n"
         "  case $key in\n" +
         option_cases +
         "  esac\n"
         "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$options\" -- \"$cur\")); return; fi\n"
         "  COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "}\n"
         "complete -o filenames -F _townctl townctl\n";
}

request_body::member& request_body::at(std::string_view key) {
  for (auto& m : members_) {
    if (m.key == key) return m;
  }
  member& added = members_.emplace_back();
  added.key = std::string(key);
  return added;
}

request_body::member& request_body::nested_at(std::string_view name) {
  request_body* at_object = this;
  for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
    member& child = at_object->at(name.substr(0, dot));
    if (child.type != member::kind::object) {
      child.type = member::kind::object;
      child.value.clear();
    }
    at_object = &child.object;
    name.remove_prefix(dot + 1);
  }
  return at_object->at(name);
}

void request_body::set_json(std::string_view name, std::string json) {
  member& leaf = nested_at(name);
  leaf.type = member::kind::json;
  leaf.value = std::move(json);
  leaf.object = {};
}

void request_body::set_string(std::string_view name, std::string_view text) {
  member& leaf = nested_at(name);
  leaf.type = member::kind::string;
  leaf.value = std::string(text);
  leaf.object = {};
}

void request_body::append_string(std::string_view key, std::string_view text) {
  member& list = at(key);
  if (list.type != member::kind::json || !list.value.starts_with('[')) {
    list.type = member::kind::json;
    list.value = "[]";
    list.object = {};
  }
  std::string item = list.value == "[]" ? "" : ",";
  append_json_string(item, text);
  list.value.insert(list.value.size() - 1, item);
}

void request_body::set_entry(std::string_view key, std::string_view entry, std::string_view text) {
  member& object = at(key);
  if (object.type != member::kind::object) {
    object.type = member::kind::object;
    object.value.clear();
  }
  member& leaf = object.object.at(entry);
  leaf.type = member::kind::string;
  leaf.value = std::string(text);
  leaf.object = {};
}

void request_body::assign(member& target, simdjson::dom::element value) {
  target.object = {};
  simdjson::dom::object nested;
  if (value.get(nested) == simdjson::SUCCESS) {
    target.type = member::kind::object;
    target.value.clear();
    target.object.merge(nested);
  } else if (value.is_string()) {
    target.type = member::kind::string;
    target.value = std::string(value.get_string().value_unsafe());
  } else {
    target.type = member::kind::json;
    target.value = client::json_text(value);
  }
}

void request_body::merge(simdjson::dom::object object) {
  for (const auto& [key, value] : client::members(object)) assign(at(key), value);
}

bool request_body::contains(std::string_view key) const {
  return std::any_of(members_.begin(), members_.end(), [key](const member& m) { return m.key == key; });
}

std::optional<std::string> request_body::string_member(std::string_view key) const {
  for (const auto& m : members_) {
    if (m.key == key) return m.type == member::kind::string ? std::optional<std::string>(m.value) : std::nullopt;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> request_body::string_members() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& m : members_) {
    if (m.type == member::kind::string) out.emplace_back(m.key, m.value);
  }
  return out;
}

void request_body::write(json_writer& writer) const {
  writer.begin_object();
  for (const auto& m : members_) {
    writer.key(m.key);
    switch (m.type) {
      case member::kind::json:
        writer.raw(m.value);
        break;
      case member::kind::string:
        writer.value(m.value);
        break;
      case member::kind::object:
        m.object.write(writer);
        break;
    }
  }
  writer.end_object();
}

std::string request_body::json() const {
  return json_string([this](json_writer& writer) { write(writer); });
}

std::string target_of(std::string_view path, const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out(path);
  // A prefix route (/monitoring/grafana/{path}): the `path` argument is the rest of the path, its
  // segments encoded one by one so that the slashes stay slashes.
  constexpr std::string_view rest_marker = "{path}";
  const bool prefix = path.ends_with(rest_marker);
  if (prefix) {
    out.resize(out.size() - rest_marker.size());
    for (const auto& [key, value] : query) {
      if (key != "path") continue;
      std::string_view rest = value;
      while (rest.starts_with('/')) rest.remove_prefix(1);
      for (std::size_t start = 0; start <= rest.size();) {
        auto slash = rest.find('/', start);
        if (slash == std::string_view::npos) slash = rest.size();
        out += client::percent_encode(rest.substr(start, slash - start));
        if (slash < rest.size()) out += '/';
        start = slash + 1;
      }
    }
  }
  bool first = true;
  for (const auto& [key, value] : query) {
    if (prefix && key == "path") continue;
    out += first ? '?' : '&';
    first = false;
    out += key;
    out += '=';
    out += client::percent_encode(value);
  }
  return out;
}

namespace {

// Puts one argument's value where the command sends it.
std::optional<usage_error> place(const command& c, const argument& a, const std::string& value, parsed_args& out) {
  if (a.local) {
    out.local[std::string(a.name)] = value;
    return std::nullopt;
  }
  bool in_query = c.method == "GET";
  auto put_string = [&](std::string_view name, const std::string& text) {
    if (in_query) {
      out.query.emplace_back(std::string(name), text);
    } else {
      out.body.set_string(name, text);
    }
  };
  switch (a.kind) {
    case arg_kind::text:
      put_string(a.name, value);
      break;
    case arg_kind::integer: {
      std::int64_t number = 0;
      try {
        std::size_t used = 0;
        number = std::stoll(value, &used);
        if (used != value.size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        return usage_error{command::option_of(a) + " takes a whole number, not '" + value + "'"};
      }
      if (in_query) {
        out.query.emplace_back(std::string(a.name), std::to_string(number));
      } else {
        out.body.set_json(a.name, std::to_string(number));
      }
      break;
    }
    case arg_kind::flag:
      if (in_query) {
        out.query.emplace_back(std::string(a.name), "true");
      } else {
        out.body.set_json(a.name, "true");
      }
      break;
    case arg_kind::list: {
      if (in_query) {
        out.query.emplace_back(std::string(a.name), value);
        break;
      }
      out.body.append_string(a.name, value);
      break;
    }
    case arg_kind::answers: {
      auto equals = value.find('=');
      if (equals == std::string::npos || equals == 0) {
        return usage_error{command::option_of(a) + " takes KEY=VALUE, not '" + value + "'"};
      }
      out.body.set_entry(a.name, std::string_view(value).substr(0, equals), std::string_view(value).substr(equals + 1));
      break;
    }
    case arg_kind::package: {
      std::string_view text = value;
      std::string version;
      std::string repo;
      if (auto at = text.rfind('@'); at != std::string_view::npos) {
        version = std::string(text.substr(at + 1));
        text = text.substr(0, at);
        if (version.empty()) return usage_error{"empty version after '@' in '" + value + "'"};
      }
      if (auto slash = text.find('/'); slash != std::string_view::npos) {
        repo = std::string(text.substr(0, slash));
        text = text.substr(slash + 1);
        if (repo.empty()) return usage_error{"empty repository before '/' in '" + value + "'"};
      }
      if (text.empty()) return usage_error{"a package is [REPO/]NAME[@VERSION], not '" + value + "'"};
      if (!repo.empty()) put_string("repo", repo);
      put_string("name", std::string(text));
      if (!version.empty()) put_string("version", version);
      break;
    }
    case arg_kind::secret:
      out.secrets.emplace_back(a.name);
      break;
  }
  return std::nullopt;
}

const argument* find_option(const command& c, std::string_view word) {
  for (const auto& a : c.args) {
    if (a.positional) continue;
    if (command::option_of(a) == word) return &a;
    if (a.short_name != 0 && word.size() == 2 && word[0] == '-' && word[1] == a.short_name) return &a;
  }
  return nullptr;
}

const std::vector<argument>& paging_arguments() {
  static const std::vector<argument> arguments = {
      option("limit", "entries per page (default 20)", arg_kind::integer),
      option("offset", "entries to skip", arg_kind::integer),
      option("search", "case-insensitive substring"),
      option("sort_by", "a field of the entries"),
      option("sort_order", "asc or desc"),
  };
  return arguments;
}

}  // namespace

std::optional<usage_error> parse_arguments(const command& c, const std::vector<std::string>& args, parsed_args& out) {
  std::vector<const argument*> positionals;
  for (const auto& a : c.args) {
    if (a.positional) positionals.push_back(&a);
  }
  std::size_t next_positional = 0;
  std::vector<std::string_view> seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--help" || word == "-h") {
      out.help = true;
      return std::nullopt;
    }
    if (word.size() > 1 && word[0] == '-' && word != "-") {
      std::string flag = word;
      std::string inline_value;
      bool has_inline = false;
      if (auto equals = word.find('='); equals != std::string::npos && word.rfind("--", 0) == 0) {
        flag = word.substr(0, equals);
        inline_value = word.substr(equals + 1);
        has_inline = true;
      }
      const argument* a = find_option(c, flag);
      if (a == nullptr && c.paged) {
        for (const auto& p : paging_arguments()) {
          if (command::option_of(p) == flag) a = &p;
        }
      }
      if (a == nullptr && (flag == "--set" || flag == "--data")) {
        std::string value = has_inline ? inline_value : (i + 1 < args.size() ? args[++i] : std::string());
        if (!has_inline && value.empty() && i >= args.size()) return usage_error{flag + " needs a value"};
        if (flag == "--set") {
          auto equals = value.find('=');
          if (equals == std::string::npos || equals == 0) return usage_error{"--set takes KEY=VALUE"};
          std::string key = value.substr(0, equals);
          if (c.method == "GET") {
            out.query.emplace_back(key, value.substr(equals + 1));
          } else {
            out.body.set_string(key, std::string_view(value).substr(equals + 1));
          }
        } else {
          auto parsed = client::json_document::parse(value);
          simdjson::dom::object members;
          if (!parsed || parsed->root().get(members) != simdjson::SUCCESS) {
            return usage_error{"--data takes a JSON object"};
          }
          out.body.merge(members);
        }
        continue;
      }
      if (a == nullptr) return usage_error{"unknown option " + flag + " for townctl " + c.display_name()};
      if (a->kind == arg_kind::flag || a->kind == arg_kind::secret) {
        if (has_inline) return usage_error{flag + " takes no value"};
        if (auto error = place(c, *a, "true", out)) return error;
        seen.push_back(a->name);
        continue;
      }
      if (!has_inline) {
        if (i + 1 >= args.size()) return usage_error{flag + " needs a value"};
        inline_value = args[++i];
      }
      if (auto error = place(c, *a, inline_value, out)) return error;
      seen.push_back(a->name);
      continue;
    }
    if (next_positional >= positionals.size()) {
      return usage_error{"unexpected argument '" + word + "' for townctl " + c.display_name()};
    }
    const argument* a = positionals[next_positional];
    if (a->kind != arg_kind::list) ++next_positional;
    if (auto error = place(c, *a, word, out)) return error;
    seen.push_back(a->name);
  }
  for (const auto& a : c.args) {
    if (!a.required) continue;
    if (std::find(seen.begin(), seen.end(), a.name) != seen.end()) continue;
    if (a.kind == arg_kind::secret) {
      out.secrets.emplace_back(a.name);
      continue;
    }
    std::string what = a.positional ? argument_synopsis(a) : command::option_of(a);
    return usage_error{"townctl " + c.display_name() + " needs " + what};
  }
  if (!c.fixed.empty()) {
    auto fixed = client::json_document::parse(c.fixed);
    simdjson::dom::object members;
    if (fixed && fixed->root().get(members) == simdjson::SUCCESS) out.body.merge(members);
  }
  return std::nullopt;
}

}  // namespace sc::townctl
