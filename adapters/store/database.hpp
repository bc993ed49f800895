#pragma once
// The SQLite store: one connection, opened once at start, WAL, numbered schema migrations.
// Used only from the loop thread (statements are ~20 µs; batch hot writes).

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
