#include <array>

#include "adapters/store/audit_store.hpp"
#include "adapters/store/database.hpp"
#include "adapters/store/dns_store.hpp"
#include "adapters/store/package_store.hpp"
#include "adapters/store/page_store.hpp"
#include "adapters/store/repository_store.hpp"

namespace sc::store {

std::span<const migration> schema_migrations() {
  static constexpr std::array<migration, 9> steps = {{
      {1, "settings", "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL DEFAULT '');"},
      // Identity (adapters/store/account_store.hpp). Timestamps are RFC 3339 UTC, second precision.
      // Sessions keep only the SHA-256 of their token, and survive restarts (DESIGN.md).
      {2, "accounts and sessions",
       "CREATE TABLE accounts (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, email TEXT NOT NULL, "
       "phone TEXT NOT NULL, real_name TEXT NOT NULL, admin INTEGER NOT NULL DEFAULT 0, "
       "disabled INTEGER NOT NULL DEFAULT 0, grants TEXT NOT NULL DEFAULT '[]', networks TEXT NOT NULL DEFAULT '[]', "
       "created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
       "CREATE TABLE sessions (id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, "
       "username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE, "
       "created_at TEXT NOT NULL, last_used TEXT NOT NULL);"
       "CREATE INDEX sessions_username ON sessions(username);"},
      // Audit log (adapters/store/audit_store.hpp), with the indexes of behavior-core.md §1.4.
      // Settings defaults are seeded by settings_store::open at every start (INSERT OR IGNORE), from
      // the one list in core/settings.cpp, so a default added later needs no migration.
      {3, "audit log", audit_log_schema},
      // Package repositories in list order, credentials beside the URL (adapters/store/repository_store.hpp).
      {4, "package repositories", repositories_schema},
      // Install records, the operation journal and last answers (adapters/store/package_store.hpp).
      {5, "package installs", packages_schema},
      // Failed-login aggregation and the retention index (adapters/store/audit_store.hpp).
      {6, "audit counts", audit_log_counts_schema},
      // Kept versions of upgraded packages (adapters/store/package_store.hpp).
      {7, "package snapshots", package_snapshots_schema},
      // The local DNS zone's records, serial and RBL/DNSBL lists (adapters/store/dns_store.hpp).
      {8, "dns records", dns_schema},
      // Static pages (adapters/store/page_store.hpp).
      {9, "pages", pages_schema},
  }};
  return steps;
}

}  // namespace sc::store
