#pragma once
// The SQLite store: one connection, opened once at start, WAL, numbered schema migrations.
// Used only from the loop thread (statements are ~20 µs; batch hot writes).

#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace SQLite {
class Database;
}

namespace sc::store {

// One schema step. Versions start at 1 and increase by one; a step is applied once, inside a
// transaction, and recorded in `schema_migrations`. Never edit a released step: add a new one.
struct migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// How long a statement waits for a lock another process holds before it fails with SQLITE_BUSY.
// Statements run on the loop thread, so this is also the longest the loop can stall on a locked
// database: short, and the request gets a 503 with Retry-After instead (database_failure).
inline constexpr int busy_timeout_ms = 200;

// The problem for a failed statement: 503 with Retry-After when SQLite stayed busy or locked past
// the busy timeout (another process holds the database, e.g. a backup or a hand-run sqlite3),
// 500 otherwise. `what` names the operation; it goes to `internal` (logged), never to the client.
problem database_failure(std::string_view what, const std::exception& e);

// The project's migrations, in order (adapters/store/migrations.cpp).
std::span<const migration> schema_migrations();

class database {
 public:
  // Opens (creating the file and its directory if needed) and migrates to the newest version.
  static result<std::unique_ptr<database>> open(const std::string& path);
  // Opens with a specific migration list (tests).
  static result<std::unique_ptr<database>> open(const std::string& path, std::span<const migration> steps);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  int schema_version() const;
  // A cheap query proving the file is readable and writable (for /ready).
  result<void> check() noexcept;
  SQLite::Database& sql() noexcept { return *db_; }

 private:
  explicit database(std::unique_ptr<SQLite::Database> db);
  result<void> migrate(std::span<const migration> steps);
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace sc::store
