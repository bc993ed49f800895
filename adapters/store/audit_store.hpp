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
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/audit.hpp"
#include "core/problem.hpp"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

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

// Migration 5: how many attempts a row stands for (core/audit.hpp, failed logins) and the address
// they came from.
inline constexpr std::string_view audit_log_counts_schema =
    "ALTER TABLE audit_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE audit_log ADD COLUMN source TEXT NOT NULL DEFAULT '';";

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

  // A failed anonymous login from `source` (the peer address) at `now`: the first one in a window
  // (audit::failed_login_window_seconds) is a new row; later ones in that window add to its
  // count and replace its error. Returns the row's id. At most `max_tracked_sources` addresses
  // are remembered; beyond that, finished windows are forgotten first.
  result<std::int64_t> record_failed_login(const audit::entry& e, std::string_view source,
                                           std::chrono::system_clock::time_point now);
  static constexpr std::size_t max_tracked_sources = 4096;

  // Rows inserted since take_inserted() (the app prunes after a threshold).
  std::size_t inserted() const noexcept { return inserted_; }
  std::size_t take_inserted() noexcept { return std::exchange(inserted_, 0); }

  struct page {
    std::vector<audit::entry> entries;
    bool has_more = false;
    std::size_t total_count = 0;  // rows matching the filters (before_id included), ignoring paging
  };
  // One page for an already normalised query (audit::normalize_query). `search` is matched as a
  // literal substring (unlike the original, '%' and '_' are not wildcards).
  result<page> list(const audit::log_query& query);

 private:
  result<std::int64_t> insert(const audit::entry& e, std::string_view source);

  database& db_;
  std::unique_ptr<SQLite::Statement> insert_;  // prepared once: record() is on every mutating request
  std::unique_ptr<SQLite::Statement> bump_;    // count + 1 on an aggregated row
  struct open_window {
    std::int64_t row = 0;
    std::chrono::system_clock::time_point started;
  };
  std::unordered_map<std::string, open_window> windows_;
  std::size_t inserted_ = 0;
};

// How long audit rows are kept (settings audit_retention_days and audit_max_rows).
struct audit_retention {
  std::int64_t days = 90;
  std::int64_t max_rows = 1'000'000;
};

// Deletes audit rows outside the retention through a connection of its own, so that it runs on a
// pool thread while the loop keeps its connection (WAL: readers are never blocked; the loop's
// writes wait at most one batch). One thread at a time.
class audit_pruner {
 public:
  static result<std::unique_ptr<audit_pruner>> open(const std::string& path);
  ~audit_pruner();
  audit_pruner(const audit_pruner&) = delete;
  audit_pruner& operator=(const audit_pruner&) = delete;

  // Deletes at most `batch` of the oldest rows that are older than `retention.days` before `now`
  // or beyond the newest `retention.max_rows`. Returns how many went: less than `batch` means
  // nothing is left to prune.
  result<std::size_t> prune_batch(const audit_retention& retention, std::chrono::system_clock::time_point now,
                                  std::size_t batch);

 private:
  explicit audit_pruner(std::unique_ptr<SQLite::Database> db);
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace sc::store
