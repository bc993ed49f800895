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

// What each route takes and answers (route::contract), defined beside its handler.
namespace contracts {
// server/handlers/status.cpp
const contract& health();
const contract& ready();
const contract& metrics_text();
const contract& openapi();
const contract& tls_ca_certificate();
const contract& status_ping();
// server/handlers/accounts.cpp
const contract& account_authenticate();
const contract& account_create();
const contract& account_get();
const contract& account_list();
const contract& account_update();
const contract& account_me();
const contract& account_sessions();
const contract& account_session_revoke();
const contract& account_disable();
const contract& account_enable();
// server/handlers/settings.cpp
const contract& settings_all();
const contract& settings_get();
const contract& settings_set();
const contract& locales();
// server/handlers/audit.cpp
const contract& audit_log();
// server/handlers/repositories.cpp
const contract& repository_list();
const contract& repository_add();
const contract& repository_remove();
const contract& repository_move();
const contract& repository_refresh();
// server/handlers/packages.cpp
const contract& packages_list();
const contract& packages_by_repo();
const contract& packages_featured();
const contract& packages_timezones();
const contract& packages_versions();
const contract& packages_children();
const contract& packages_manifest();
const contract& packages_questions();
const contract& packages_questions_identity();
const contract& packages_install_preview();
// server/handlers/installs.cpp
const contract& packages_install();
const contract& packages_uninstall();
const contract& packages_disable();
const contract& packages_enable();
const contract& packages_rebuild_git();
const contract& packages_purge_volumes();
const contract& packages_purge_uninstalled_volumes();
const contract& packages_uninstalled_volumes();
const contract& packages_installed();
const contract& packages_installed_info();
const contract& packages_responses();
const contract& packages_last_responses();
const contract& packages_clear_last_responses();
const contract& packages_rollback();
const contract& packages_snapshots();
const contract& packages_snapshots_remove();
const contract& packages_upgrades();
const contract& packages_upgrades_dismiss();
// server/handlers/storage.cpp
const contract& storage_list();
const contract& storage_create();
const contract& storage_modify();
const contract& storage_remove();
const contract& storage_package_volumes();
const contract& storage_remove_package_volume();
const contract& storage_upload_archive();
const contract& storage_download_archive();
// server/handlers/systemd.cpp
const contract& systemd_units();
const contract& systemd_status();
const contract& systemd_logs_tail();
const contract& systemd_logs();
// server/handlers/system_services.cpp
const contract& system_services_list();
const contract& system_services_status();
const contract& system_services_refresh();
// server/handlers/monitoring.cpp
const contract& monitoring_status();
const contract& monitoring_proxy();
// server/handlers/dns.cpp
const contract& dns_status();
const contract& dns_records();
const contract& dns_records_add();
const contract& dns_records_remove();
const contract& dns_tld_get();
const contract& dns_tld_set();
const contract& dns_setup();
const contract& dns_services();
const contract& dns_services_set();
const contract& dns_rbl_get();
const contract& dns_rbl_set();
const contract& dns_dnsbl_get();
const contract& dns_dnsbl_set();
const contract& dns_rbl_local();
const contract& dns_rbl_local_add();
const contract& dns_rbl_local_remove();
const contract& dns_dnsbl_allowlist();
const contract& dns_dnsbl_allowlist_add();
const contract& dns_dnsbl_allowlist_remove();
// server/handlers/vm_images.cpp
const contract& vm_images_list();
const contract& vm_images_upload();
const contract& vm_images_delete();
// server/handlers/pages.cpp
const contract& pages_list();
const contract& pages_create();
const contract& pages_upload();
const contract& pages_update();
const contract& pages_remove();
const contract& pages_rebuild();
}  // namespace contracts

}  // namespace sc::server::handlers
