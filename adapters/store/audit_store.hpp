#pragma once
// The audit log in SQLite (`audit_log`, migration 3): append one entry, list a page.
// Loop thread only; an insert costs ~25 µs (WAL, synchronous=NORMAL) and happens only for
// mutating requests (core/audit.hpp says which).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.hpp"
#include "core/problem.hpp"

namespace SQLite {
class Statement;
}

namespace sc::store {

class database;

// The schema step that creates the table and the indexes of behavior-core.md §1.4.
inline constexpr std::string_view audit_log_schema =
    "CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL DEFAULT '', "
    "action TEXT NOT NULL, path TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', "
    "success INTEGER NOT NULL DEFAULT 1, error TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL);"
    "CREATE INDEX audit_log_id_desc ON audit_log(id DESC);"
    "CREATE INDEX audit_log_account_id ON audit_log(account, id DESC);"
    "CREATE INDEX audit_log_created_at ON audit_log(created_at);"
    "CREATE INDEX audit_log_success_created_at ON audit_log(success, created_at);";

// RFC 3339 UTC with second precision ("2025-05-01T12:00:00Z").
std::string rfc3339_seconds(std::chrono::system_clock::time_point when);

class audit_store {
 public:
  // `db` must outlive the store and have the audit_log table.
  explicit audit_store(database& db);
  ~audit_store();
  audit_store(const audit_store&) = delete;
  audit_store& operator=(const audit_store&) = delete;

  // Appends `e` (its id is ignored; an empty created_at becomes now). Returns the new id.
  result<std::int64_t> record(const audit::entry& e);

  struct page {
    std::vector<audit::entry> entries;
    bool has_more = false;
    std::size_t total_count = 0;  // rows matching the filters (before_id included), ignoring paging
  };
  // One page for an already normalised query (audit::normalize_query). `search` is matched as a
  // literal substring (unlike the original, '%' and '_' are not wildcards).
  result<page> list(const audit::log_query& query);

 private:
  database& db_;
  std::unique_ptr<SQLite::Statement> insert_;  // prepared once: record() is on every mutating request
};

}  // namespace sc::store
