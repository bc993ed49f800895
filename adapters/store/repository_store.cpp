#include "adapters/store/repository_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>

#include "adapters/store/database.hpp"

namespace sc::store {

namespace {

std::optional<std::string> state_value(SQLite::Database& sql, const char* key) {
  SQLite::Statement query(sql, "SELECT value FROM repository_state WHERE key = ?");
  query.bind(1, key);
  if (!query.executeStep()) return std::nullopt;
  return query.getColumn(0).getString();
}

void set_state(SQLite::Database& sql, const char* key, const std::string& value) {
  SQLite::Statement upsert(sql,
                           "INSERT INTO repository_state(key, value) VALUES (?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  upsert.bind(1, key);
  upsert.bind(2, value);
  upsert.exec();
}

}  // namespace

result<std::unique_ptr<repository_store>> repository_store::open(database& db,
                                                                 std::optional<packages::repository> seed) {
  std::unique_ptr<repository_store> store(new repository_store(db));
  try {
    SQLite::Transaction transaction(db.sql());
    if (!state_value(db.sql(), "seeded")) {
      if (seed) {
        SQLite::Statement insert(db.sql(),
                                 "INSERT OR IGNORE INTO repositories(position, name, url, username, password) "
                                 "VALUES (0, ?, ?, ?, ?)");
        insert.bind(1, seed->name);
        insert.bind(2, seed->url);
        insert.bind(3, seed->username);
        insert.bind(4, seed->password);
        insert.exec();
      }
      set_state(db.sql(), "seeded", "1");
    }
    transaction.commit();
    SQLite::Statement rows(db.sql(), "SELECT name, url, username, password FROM repositories ORDER BY position");
    while (rows.executeStep()) {
      store->list_.push_back({rows.getColumn(0).getString(), rows.getColumn(1).getString(),
                              rows.getColumn(2).getString(), rows.getColumn(3).getString()});
    }
    if (auto last = state_value(db.sql(), "last_refreshed")) store->last_refreshed_ = std::stoll(*last);
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("loading repositories: ") + e.what());
  }
  return store;
}

const packages::repository* repository_store::find(std::string_view name) const noexcept {
  for (const auto& r : list_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// The whole list is rewritten: it has a handful of rows, and positions stay dense.
result<void> repository_store::save(const std::vector<packages::repository>& list) {
  try {
    SQLite::Transaction transaction(db_.sql());
    db_.sql().exec("DELETE FROM repositories");
    SQLite::Statement insert(
        db_.sql(), "INSERT INTO repositories(position, name, url, username, password) VALUES (?, ?, ?, ?, ?)");
    for (std::size_t i = 0; i < list.size(); ++i) {
      insert.bind(1, static_cast<std::int64_t>(i));
      insert.bind(2, list[i].name);
      insert.bind(3, list[i].url);
      insert.bind(4, list[i].username);
      insert.bind(5, list[i].password);
      insert.exec();
      insert.reset();
    }
    transaction.commit();
  } catch (const std::exception& e) {
    return database_failure("saving repositories", e);
  }
  list_ = list;
  return {};
}

result<void> repository_store::add(packages::repository repo) {
  if (find(repo.name) != nullptr) return problem::conflict("repository " + repo.name + " already exists");
  auto next = list_;
  next.push_back(std::move(repo));
  return save(next);
}

result<void> repository_store::remove(std::string_view name) {
  if (find(name) == nullptr) return problem::not_found("repository " + std::string(name) + " not found");
  auto next = list_;
  std::erase_if(next, [name](const auto& r) { return r.name == name; });
  return save(next);
}

result<void> repository_store::move(std::string_view name, std::int64_t position) {
  auto it = std::find_if(list_.begin(), list_.end(), [name](const auto& r) { return r.name == name; });
  if (it == list_.end()) return problem::not_found("repository " + std::string(name) + " not found");
  auto next = list_;
  auto index = static_cast<std::size_t>(it - list_.begin());
  packages::repository moving = std::move(next[index]);
  next.erase(next.begin() + static_cast<std::ptrdiff_t>(index));
  auto target = static_cast<std::size_t>(std::clamp<std::int64_t>(position, 0, static_cast<std::int64_t>(next.size())));
  next.insert(next.begin() + static_cast<std::ptrdiff_t>(target), std::move(moving));
  return save(next);
}

result<void> repository_store::set_last_refreshed(std::int64_t unix_seconds) {
  try {
    set_state(db_.sql(), "last_refreshed", std::to_string(unix_seconds));
  } catch (const std::exception& e) {
    return database_failure("saving last_refreshed", e);
  }
  last_refreshed_ = unix_seconds;
  return {};
}

}  // namespace sc::store
