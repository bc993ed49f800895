#pragma once
// System settings, persisted in the `settings` table and cached in memory: every read (each
// request may consult `locale` or `dns_tld`) is a map lookup, never SQLite. Writes go through to
// SQLite first, then to the cache, so the cache never holds a value the file does not.
// Loop thread only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::store {

class database;

class settings_store {
 public:
  using values = std::map<std::string, std::string, std::less<>>;

  // Seeds the defaults of core/settings.hpp with INSERT OR IGNORE (a stored value is never
  // overwritten; a default added in a later release appears at the next start without a
  // migration), then loads every row. `db` must outlive the store.
  static result<std::unique_ptr<settings_store>> open(database& db);

  // The cached value of `key`.
  std::optional<std::string_view> get(std::string_view key) const;
  // A numeric key's value (stored as canonical decimal text); `fallback` when the key is not stored
  // or its text is not a decimal integer. 0 stays 0: for byte limits it means "no limit".
  std::int64_t integer(std::string_view key, std::int64_t fallback) const;
  // Every setting, sorted by key.
  const values& all() const noexcept { return cache_; }
  // Stores `value` as given (validate with sc::settings::validate first). 500 on a SQLite failure,
  // with the cache unchanged.
  result<void> set(std::string_view key, std::string value);

 private:
  explicit settings_store(database& db) : db_(db) {}
  database& db_;
  values cache_;
};

}  // namespace sc::store
