#pragma once
// Accounts and sessions in SQLite (tables of migration 2). The identity service keeps everything
// in memory and writes through here; this class only reads at start and persists changes.
// Loop thread only (one SQLite connection). Errors: duplicate username → 409, unknown account or
// session → 404, anything else → 500 (internal text logged, not sent).

#include <string>
#include <string_view>
#include <vector>

#include "core/accounts.hpp"
#include "core/problem.hpp"
#include "core/sessions.hpp"

namespace sc::store {

class database;

class account_store {
 public:
  // `db` must outlive the store and be migrated to ≥ 2.
  explicit account_store(database& db) : db_(db) {}

  result<std::vector<accounts::account>> load_accounts();
  // Every stored session (expired ones too; the caller decides).
  result<std::vector<sessions::session>> load_sessions();

  result<void> insert_account(const accounts::account& a);
  // Replaces every column of the row `a.username`.
  result<void> update_account(const accounts::account& a);
  // Sets `disabled` (and updated_at); disabling also deletes all the account's sessions, in one
  // transaction.
  result<void> set_disabled(std::string_view username, bool disabled, std::string_view updated_at);

  result<void> insert_session(const sessions::session& s);
  result<void> touch_session(std::string_view id, std::int64_t last_used);
  result<void> delete_session(std::string_view id);
  result<void> delete_sessions(const std::vector<std::string>& ids);

 private:
  database& db_;
};

// Audit rows with success = 0 created at or after `since` (RFC 3339), for the dashboard's
// recent_errors (behavior-core.md §5.1). 0 when there is no audit_log table.
std::int64_t count_recent_audit_failures(database& db, std::string_view since) noexcept;

}  // namespace sc::store
