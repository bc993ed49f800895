#pragma once
// Handlers: decode the request, call core and adapters, encode the response. Nothing else.
// Each is a coroutine taking the request context; the route table (server/routes.cpp) names them.
// Response JSON is written with core/json_writer.hpp straight into the body string (sc_micro_bench:
// a 20-entry page costs a third of building a boost::json DOM and serialising it).

#include "core/json_writer.hpp"
#include "server/router.hpp"

namespace sc::server::handlers {

using reply = boost::asio::awaitable<http::response>;

// server/handlers/status.cpp
reply health(request_context& context);
reply ready(request_context& context);
reply metrics_text(request_context& context);
reply openapi(request_context& context);
reply tls_ca_certificate(request_context& context);
reply status_ping(request_context& context);

// server/handlers/accounts.cpp — accounts and sessions (behavior-core.md §5.4, §5.5)
reply account_authenticate(request_context& context);
reply account_create(request_context& context);
reply account_get(request_context& context);
reply account_list(request_context& context);
reply account_update(request_context& context);
reply account_me(request_context& context);
reply account_sessions(request_context& context);
reply account_session_revoke(request_context& context);
reply account_disable(request_context& context);
reply account_enable(request_context& context);

// server/handlers/settings.cpp — settings (admin) and locales (authenticated)
reply settings_all(request_context& context);
reply settings_get(request_context& context);
reply settings_set(request_context& context);
reply locales(request_context& context);

// server/handlers/audit.cpp
reply audit_log(request_context& context);

// server/handlers/repositories.cpp — package repositories (behavior-ops.md §5.4)
reply repository_list(request_context& context);
reply repository_add(request_context& context);
reply repository_remove(request_context& context);
reply repository_move(request_context& context);
reply repository_refresh(request_context& context);

// server/handlers/packages.cpp — read-only package endpoints (behavior-ops.md §6.5)
reply packages_list(request_context& context);
reply packages_by_repo(request_context& context);
reply packages_featured(request_context& context);
reply packages_timezones(request_context& context);
reply packages_versions(request_context& context);
reply packages_children(request_context& context);
reply packages_manifest(request_context& context);
reply packages_questions(request_context& context);
reply packages_questions_identity(request_context& context);
reply packages_install_preview(request_context& context);
// server/handlers/installs.cpp — the package lifecycle (behavior-ops.md §6.3–6.5; issue 13)
reply packages_install(request_context& context);
reply packages_uninstall(request_context& context);
reply packages_disable(request_context& context);
reply packages_enable(request_context& context);
reply packages_rebuild_git(request_context& context);
reply packages_purge_volumes(request_context& context);
reply packages_purge_uninstalled_volumes(request_context& context);
reply packages_uninstalled_volumes(request_context& context);
reply packages_installed(request_context& context);
reply packages_installed_info(request_context& context);
reply packages_responses(request_context& context);
reply packages_last_responses(request_context& context);
reply packages_clear_last_responses(request_context& context);
// server/handlers/installs.cpp — kept versions of upgrades (issue 14)
reply packages_rollback(request_context& context);
reply packages_snapshots(request_context& context);
reply packages_snapshots_remove(request_context& context);
reply packages_upgrades(request_context& context);
reply packages_upgrades_dismiss(request_context& context);
// server/handlers/storage.cpp, server/handlers/archives.cpp — storage and archives (issue 5)
reply storage_list(request_context& context);
reply storage_create(request_context& context);
reply storage_modify(request_context& context);
reply storage_remove(request_context& context);
reply storage_package_volumes(request_context& context);
reply storage_remove_package_volume(request_context& context);
reply storage_upload_archive(request_context& context);
reply storage_download_archive(request_context& context);
// server/handlers/systemd.cpp — units and the journal (behavior-ops.md §8)
reply systemd_units(request_context& context);
reply systemd_status(request_context& context);
reply systemd_logs_tail(request_context& context);
reply systemd_logs(request_context& context);
// server/handlers/system_services.cpp — system services (behavior-core.md §5.8; issue 15)
reply system_services_list(request_context& context);
reply system_services_status(request_context& context);
reply system_services_refresh(request_context& context);
// server/handlers/monitoring.cpp — monitoring (behavior-core.md §5.8; issue 15)
reply monitoring_status(request_context& context);
reply monitoring_proxy(request_context& context);
// server/handlers/dns.cpp — the local DNS zone (behavior-ops.md §9; issue 15)
reply dns_status(request_context& context);
reply dns_records(request_context& context);
reply dns_records_add(request_context& context);
reply dns_records_remove(request_context& context);
reply dns_tld_get(request_context& context);
reply dns_tld_set(request_context& context);
reply dns_setup(request_context& context);
reply dns_services(request_context& context);
reply dns_services_set(request_context& context);
reply dns_rbl_get(request_context& context);
reply dns_rbl_set(request_context& context);
reply dns_dnsbl_get(request_context& context);
reply dns_dnsbl_set(request_context& context);
reply dns_rbl_local(request_context& context);
reply dns_rbl_local_add(request_context& context);
reply dns_rbl_local_remove(request_context& context);
reply dns_dnsbl_allowlist(request_context& context);
reply dns_dnsbl_allowlist_add(request_context& context);
reply dns_dnsbl_allowlist_remove(request_context& context);
// server/handlers/vm_images.cpp — the VM image cache (behavior-ops.md §9; issue 16)
reply vm_images_list(request_context& context);
reply vm_images_upload(request_context& context);
reply vm_images_delete(request_context& context);

// server/handlers/pages.cpp — static pages (behavior-ops.md §9; issue 16)
reply pages_list(request_context& context);
reply pages_create(request_context& context);
reply pages_upload(request_context& context);
reply pages_update(request_context& context);
reply pages_remove(request_context& context);
reply pages_rebuild(request_context& context);

}  // namespace sc::server::handlers
