#include "adapters/store/settings_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <charconv>

#include "adapters/store/database.hpp"
#include "core/settings.hpp"

namespace sc::store {

result<std::unique_ptr<settings_store>> settings_store::open(database& db) {
  std::unique_ptr<settings_store> store(new settings_store(db));
  try {
    SQLite::Transaction transaction(db.sql());
    SQLite::Statement seed(db.sql(), "INSERT OR IGNORE INTO settings(key, value) VALUES (?, ?)");
    for (const auto& d : settings::defaults()) {
      seed.bind(1, std::string(d.key));
      seed.bind(2, std::string(d.value));
      seed.exec();
      seed.reset();
    }
    transaction.commit();
    SQLite::Statement rows(db.sql(), "SELECT key, value FROM settings");
    while (rows.executeStep()) store->cache_.emplace(rows.getColumn(0).getString(), rows.getColumn(1).getString());
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("loading settings: ") + e.what());
  }
  return store;
}

std::optional<std::string_view> settings_store::get(std::string_view key) const {
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::int64_t settings_store::integer(std::string_view key, std::int64_t fallback) const {
  auto value = get(key);
  if (!value) return fallback;
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), out);
  return ec == std::errc() && end == value->data() + value->size() ? out : fallback;
}

result<void> settings_store::set(std::string_view key, std::string value) {
  try {
    SQLite::Statement upsert(db_.sql(),
                             "INSERT INTO settings(key, value) VALUES (?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    upsert.bind(1, std::string(key));
    upsert.bind(2, value);
    upsert.exec();
  } catch (const std::exception& e) {
    return database_failure("storing setting " + std::string(key), e);
  }
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    cache_.emplace(std::string(key), std::move(value));
  } else {
    it->second = std::move(value);
  }
  return {};
}

}  // namespace sc::store
