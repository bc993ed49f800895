#include "adapters/store/database.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

#include <filesystem>

namespace sc::store {

problem database_failure(std::string_view what, const std::exception& e) {
  if (const auto* sql = dynamic_cast<const SQLite::Exception*>(&e)) {
    const int primary = sql->getErrorCode() & 0xFF;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      problem p = problem::unavailable("the database is busy, try again");
      p.retry_after = 1;
      p.internal = std::string(what) + ": " + e.what();
      return p;
    }
  }
  return problem::internal_error(std::string(what) + ": " + e.what());
}

database::database(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
database::~database() = default;

result<std::unique_ptr<database>> database::open(const std::string& path) {
  return open(path, schema_migrations());
}

result<std::unique_ptr<database>> database::open(const std::string& path, std::span<const migration> steps) {
  try {
    std::filesystem::path file(path);
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    auto db =
        std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec("PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=ON");
    db->setBusyTimeout(busy_timeout_ms);
    std::unique_ptr<database> store(new database(std::move(db)));
    if (auto migrated = store->migrate(steps); !migrated) return migrated.error();
    return store;
  } catch (const std::exception& e) {
    return problem::internal_error("opening database " + path + ": " + e.what());
  }
}

result<void> database::migrate(std::span<const migration> steps) {
  db_->exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
      "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))");
  int current = schema_version();
  int expected = 1;
  for (const migration& step : steps) {
    if (step.version != expected++) {
      return problem::internal_error("migrations are not numbered 1, 2, 3…: found " + std::to_string(step.version));
    }
    if (step.version <= current) continue;
    SQLite::Transaction transaction(*db_);
    db_->exec(std::string(step.sql));
    SQLite::Statement record(*db_, "INSERT INTO schema_migrations(version, description) VALUES (?, ?)");
    record.bind(1, step.version);
    record.bind(2, std::string(step.description));
    record.exec();
    transaction.commit();
  }
  if (current > static_cast<int>(steps.size())) {
    return problem::internal_error("database schema version " + std::to_string(current) +
                                   " is newer than this binary knows (" + std::to_string(steps.size()) + ")");
  }
  return {};
}

int database::schema_version() const {
  SQLite::Statement query(*db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  query.executeStep();
  return query.getColumn(0).getInt();
}

result<void> database::check() noexcept {
  try {
    SQLite::Statement query(*db_, "SELECT COUNT(*) FROM schema_migrations");
    query.executeStep();
    return {};
  } catch (const std::exception& e) {
    return database_failure("database", e);
  }
}

}  // namespace sc::store
