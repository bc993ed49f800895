// The route table: every endpoint of the controller, its auth level and its handler, in one place.
#include "server/handlers/handlers.hpp"
#include "server/router.hpp"

namespace sc::server {

std::vector<route> build_routes() {
  using enum auth_level;
  using v = http::verb;
  using std::chrono::minutes;
  // Deadlines beyond the default (server/router.hpp): git clones and fetches (5 minutes each),
  // btrfs work on a busy disk, systemd jobs (stop timeouts are 90 s by default), and archives,
  // which also bound every read and write of their stream on their own.
  constexpr auto git_work = minutes(15);
  constexpr auto disk_work = minutes(2);
  constexpr auto unit_job = minutes(3);
  constexpr auto archive_transfer = std::chrono::hours(4);
  // An install pulls images (10 minutes at most) and waits for the app to run
  // (package_start_timeout, an hour at most); the operation itself is not bound to the request.
  constexpr auto package_work = std::chrono::hours(2);
  constexpr auto vm_image_work = minutes(65);
  return {
      {v::get, "/health", public_access, handlers::health, "Liveness and uptime"},
      {v::get, "/ready", public_access, handlers::ready,
       "Readiness of the database, D-Bus, btrfs and the programs the daemon runs"},
      {v::get, "/metrics", admin_or_metrics, handlers::metrics_text,
       "Prometheus text metrics (an administrator, or Prometheus with the metrics credential)"},
      {v::get, "/openapi.json", public_access, handlers::openapi, "This API, as OpenAPI 3.1"},
      {v::get, "/tls/ca.crt", public_access, handlers::tls_ca_certificate,
       "The local certificate authority (PEM), for devices to trust the box's HTTPS names"},
      {v::get, "/status/ping", public_access, handlers::status_ping, "Health check and dashboard overview"},

      // Accounts and sessions (behavior-core.md §5.4, §5.5). Self-only rules for /account/update and
      // /account/session/revoke are enforced in the handlers.
      {v::post, "/account/authenticate", public_access, handlers::account_authenticate,
       "Log in: a session token and the account"},
      {v::post, "/account/create", bootstrap_or_admin, handlers::account_create,
       "Create an account (public until an enabled admin exists)"},
      {v::post, "/account", authenticated, handlers::account_get, "One account by username"},
      {v::get, "/account", authenticated, handlers::account_list, "Accounts, paged, searchable and sortable"},
      {v::post, "/account/update", authenticated, handlers::account_update,
       "Update an account (non-admins: only their own)"},
      {v::get, "/account/me", authenticated, handlers::account_me, "The caller's username"},
      {v::get, "/account/sessions", authenticated, handlers::account_sessions,
       "The caller's sessions, most recent first"},
      {v::post, "/account/session/revoke", authenticated, handlers::account_session_revoke,
       "Revoke a session (non-admins: only their own)"},
      {v::post, "/account/disable", admin, handlers::account_disable, "Disable an account and end its sessions"},
      {v::post, "/account/enable", admin, handlers::account_enable, "Enable an account (old sessions stay dead)"},

      // Settings, locales, audit log (behavior-core.md §5.6, §5.7, §5.9).
      {v::get, "/settings", admin, handlers::settings_all, "All settings as a key-value object"},
      {v::post, "/settings/get", admin, handlers::settings_get, "One setting by key"},
      {v::post, "/settings/set", admin, handlers::settings_set, "Validate and store one setting"},
      {v::get, "/locales", authenticated, handlers::locales, "Current locale and the locales offered"},
      {v::post, "/audit/log", admin, handlers::audit_log, "Audit log page, newest first (keyset by before_id)"},

      // Package repositories and the read-only package endpoints (behavior-ops.md §5.4, §6.5; issue 6).
      // Mutations of the repository list are admin-only (the issue; the original's table said auth).
      {v::get, "/repository", authenticated, handlers::repository_list, "Repositories with their last refresh error"},
      {v::post, "/repository/add", admin, handlers::repository_add, "Clone and add a repository at the end of the list",
       false, git_work},
      {v::post, "/repository/remove", admin, handlers::repository_remove, "Remove a repository"},
      {v::post, "/repository/move", admin, handlers::repository_move,
       "Move a repository to a position (later overrides earlier)"},
      {v::post, "/repository/refresh", admin, handlers::repository_refresh,
       "Fetch every repository now; name-to-error map on failure", false, git_work},
      {v::get, "/packages", authenticated, handlers::packages_list, "Latest version of every package, paged"},
      {v::get, "/packages/by-repo", authenticated, handlers::packages_by_repo, "Packages grouped by repository"},
      {v::get, "/packages/featured", authenticated, handlers::packages_featured, "Featured packages, paged"},
      {v::get, "/packages/timezones", authenticated, handlers::packages_timezones, "IANA time zone names"},
      {v::post, "/packages/versions", authenticated, handlers::packages_versions,
       "Versions of a package, highest first"},
      {v::post, "/packages/children", authenticated, handlers::packages_children, "Child instances of a package"},
      {v::post, "/packages/manifest", authenticated, handlers::packages_manifest, "The package definition as YAML"},
      {v::post, "/packages/questions", admin, handlers::packages_questions, "Questions of the latest version"},
      {v::post, "/packages/questions/identity", admin, handlers::packages_questions_identity,
       "Questions of one version"},
      {v::post, "/packages/install-preview", admin, handlers::packages_install_preview,
       "What installing a version would do"},

      // The package lifecycle (behavior-ops.md §6.3–6.5; issue 13). Install and uninstall stream
      // their steps (SSE) or answer once at the end; the operation itself outlives the request.
      {v::post, "/packages/install", admin, handlers::packages_install,
       "Install a package: preflight, then progress steps until it runs", false, package_work},
      {v::post, "/packages/uninstall", admin, handlers::packages_uninstall,
       "Uninstall a package, keeping its volumes unless purge_volumes", false, package_work},
      {v::post, "/packages/disable", admin, handlers::packages_disable, "Stop a package and keep it stopped", false,
       unit_job},
      {v::post, "/packages/enable", admin, handlers::packages_enable, "Start a disabled package", false, unit_job},
      {v::post, "/packages/rebuild-git", admin, handlers::packages_rebuild_git,
       "Fast-forward the package's git-seeded volumes to their remotes and restart it", false, package_work},
      {v::post, "/packages/purge-volumes", admin, handlers::packages_purge_volumes,
       "Delete an uninstalled package's installed and kept volumes", false, disk_work},
      {v::post, "/packages/purge-uninstalled-volumes", admin, handlers::packages_purge_uninstalled_volumes,
       "Delete the volumes kept from an uninstall", false, disk_work},
      {v::post, "/packages/uninstalled-volumes", authenticated, handlers::packages_uninstalled_volumes,
       "Versions with installed and kept volumes"},
      {v::get, "/packages/installed", authenticated, handlers::packages_installed,
       "Installed packages and dependencies as repo/name@version, paged"},
      {v::post, "/packages/installed/info", authenticated, handlers::packages_installed_info,
       "Questions, answers and notes of an installed package (non-admins: notes, secrets masked)"},
      {v::post, "/packages/responses", authenticated, handlers::packages_responses,
       "The answers an installed package was installed with"},
      {v::post, "/packages/last-responses", authenticated, handlers::packages_last_responses,
       "The answers kept from the last uninstall"},
      {v::post, "/packages/clear-last-responses", admin, handlers::packages_clear_last_responses,
       "Forget the answers kept from the last uninstall"},
      {v::post, "/packages/rollback", admin, handlers::packages_rollback,
       "Return to the version kept by the last upgrade (progress steps as for an install)", false, package_work},
      {v::post, "/packages/snapshots", authenticated, handlers::packages_snapshots,
       "Versions kept by upgrades to roll back to: id, version, created_at, size"},
      {v::post, "/packages/snapshots/remove", admin, handlers::packages_snapshots_remove,
       "Delete one kept version and its volume snapshots", false, disk_work},
      {v::get, "/packages/upgrades", authenticated, handlers::packages_upgrades,
       "Installed packages with a higher version or a changed definition in their repository"},
      {v::post, "/packages/upgrades/dismiss", admin, handlers::packages_upgrades_dismiss,
       "Dismiss the current upgrade list (until it changes)"},

      // Storage and archives (behavior-ops.md §3, §4; issue 5).
      {v::post, "/storage", authenticated, handlers::storage_list, "Filesystems with quota and usage, paged"},
      {v::post, "/storage/create", authenticated, handlers::storage_create,
       "Create a user filesystem (quota 0: default_quota)", false, disk_work},
      {v::post, "/storage/modify", authenticated, handlers::storage_modify,
       "Rename a user filesystem and/or change a quota", false, disk_work},
      {v::post, "/storage/remove", authenticated, handlers::storage_remove, "Delete a user filesystem", false,
       disk_work},
      {v::post, "/storage/package-volumes", authenticated, handlers::storage_package_volumes,
       "Package volumes grouped by package"},
      {v::post, "/storage/remove-package-volume", admin, handlers::storage_remove_package_volume,
       "Delete one package volume", false, disk_work},
      {v::post, "/storage/upload-archive", admin, handlers::storage_upload_archive,
       "Unpack a streamed multipart archive into a volume", true, archive_transfer},
      {v::post, "/storage/download-archive", admin, handlers::storage_download_archive,
       "A volume or paths in it as a streamed tar.gz/bz2/xz", false, archive_transfer},
      // The VM image cache (behavior-ops.md §9; issue 16). An upload's download has its own deadline
      // (--vm-image-download-timeout, 30 minutes) and its conversion another; the route's covers both.
      {v::get, "/vm-images", authenticated, handlers::vm_images_list, "Cached VM disk images: name and size"},
      {v::post, "/vm-images/upload", admin, handlers::vm_images_upload,
       "Download a VM image (http/https, public addresses only) and convert it to raw; SSE progress", false,
       vm_image_work},
      {v::post, "/vm-images/delete", admin, handlers::vm_images_delete, "Delete a cached VM image"},
      // Static pages (behavior-ops.md §9; issue 16): served by the ingress at their domain. Git and image
      // pages provision on their own coroutine; the upload streams like the storage upload.
      {v::get, "/pages", authenticated, handlers::pages_list, "Static pages, paged, searchable and sortable"},
      {v::post, "/pages/create", admin, handlers::pages_create,
       "Create a page (archive, git or container_image); git and image pages provision asynchronously"},
      {v::post, "/pages/upload", admin, handlers::pages_upload,
       "Replace an archive page's content with a streamed multipart archive (name, then archive)", true,
       archive_transfer},
      {v::post, "/pages/update", admin, handlers::pages_update,
       "Change a page's source or domain (only the members given)", false, disk_work},
      {v::post, "/pages/remove", admin, handlers::pages_remove, "Delete a page, its link and its content", false,
       disk_work},
      {v::post, "/pages/rebuild", admin, handlers::pages_rebuild,
       "Pull a git page or re-extract an image page (asynchronously); 400 for archive pages"},
      // Systemd units and the journal (behavior-ops.md §8, issue 4).
      {v::get, "/systemd/units", authenticated, handlers::systemd_units, "Managed units with their state, paged"},
      {v::post, "/systemd/status", admin, handlers::systemd_status,
       "Start, stop, restart, enable or disable a managed unit", false, unit_job},
      {v::get, "/systemd/logs/tail", authenticated, handlers::systemd_logs_tail, "Journal entries by cursor, filtered"},
      {v::get, "/systemd/logs", authenticated, handlers::systemd_logs,
       "Live journal stream (SSE), resumable by Last-Event-ID", false, no_handler_deadline},

      // System services and the local DNS zone (behavior-core.md §5.8, behavior-ops.md §9; issue 15).
      // GET /system-services is "localhost or auth": the local root peer on the Unix socket is an
      // authenticated principal without a token; everyone else needs one.
      {v::get, "/system-services", authenticated, handlers::system_services_list,
       "System services with their live unit state, and the controller"},
      {v::post, "/system-services/status", admin, handlers::system_services_status,
       "Start, stop or restart a system service", false, unit_job},
      {v::post, "/system-services/refresh", admin, handlers::system_services_refresh,
       "Rewrite the system services' units from the configuration; restart those that changed", false, unit_job},
      {v::get, "/monitoring/status", authenticated, handlers::monitoring_status,
       "Prometheus and the node exporter: running, and Prometheus's scrape targets"},
      // Public per the reference; a fixed upstream (Prometheus on loopback), never an open proxy.
      {v::get, "/monitoring/grafana/{path}", public_access, handlers::monitoring_proxy,
       "The monitoring UI and its API (Prometheus), below this prefix"},
      {v::post, "/monitoring/grafana/{path}", public_access, handlers::monitoring_proxy,
       "The monitoring UI's queries (Prometheus), below this prefix"},
      {v::get, "/dns/status", authenticated, handlers::dns_status, "DNS server state, TLD and record count"},
      {v::get, "/dns/records", authenticated, handlers::dns_records, "Every record of the local zone"},
      {v::post, "/dns/records/add", admin, handlers::dns_records_add,
       "Add an A, AAAA, CNAME, MX, TXT, SRV or PTR record"},
      {v::post, "/dns/records/remove", admin, handlers::dns_records_remove, "Remove records by name and type"},
      {v::get, "/dns/tld", authenticated, handlers::dns_tld_get, "The local top-level domain"},
      {v::post, "/dns/tld", admin, handlers::dns_tld_set, "Change the TLD; every package name moves with it"},
      {v::post, "/dns/setup", admin, handlers::dns_setup,
       "Rewrite the DNS server's configuration and zone and restart it", false, unit_job},
      {v::get, "/dns/services", authenticated, handlers::dns_services,
       "Installed packages with their DNS names and whether they are published"},
      {v::post, "/dns/services/set", admin, handlers::dns_services_set,
       "Set the packages whose names are not published (dns_excluded_services)"},
      {v::get, "/dns/rbl", authenticated, handlers::dns_rbl_get, "RBL configuration (stored, not enforced)"},
      {v::post, "/dns/rbl", admin, handlers::dns_rbl_set, "Set the RBL configuration"},
      {v::get, "/dns/dnsbl", authenticated, handlers::dns_dnsbl_get, "DNSBL configuration (stored, not enforced)"},
      {v::post, "/dns/dnsbl", admin, handlers::dns_dnsbl_set, "Set the DNSBL configuration"},
      {v::get, "/dns/rbl/local", authenticated, handlers::dns_rbl_local, "The local RBL: listed addresses"},
      {v::post, "/dns/rbl/local/add", admin, handlers::dns_rbl_local_add, "List an address or network"},
      {v::post, "/dns/rbl/local/remove", admin, handlers::dns_rbl_local_remove, "Unlist an address or network"},
      {v::get, "/dns/dnsbl/allowlist", authenticated, handlers::dns_dnsbl_allowlist, "The DNSBL allowlist"},
      {v::post, "/dns/dnsbl/allowlist/add", admin, handlers::dns_dnsbl_allowlist_add,
       "Allow an address, network or domain"},
      {v::post, "/dns/dnsbl/allowlist/remove", admin, handlers::dns_dnsbl_allowlist_remove,
       "Remove an allowlist entry"},
  };
}

}  // namespace sc::server
