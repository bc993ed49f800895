#pragma once
// The repository list (behavior-ops.md §5.1), persisted in the `repositories` table in list order
// and cached in memory. Credentials are stored beside the URL, never inside it. Loop thread only.
// Every mutation is one SQLite transaction; the cache changes only after it committed.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/packages/repository.hpp"
#include "core/problem.hpp"

namespace sc::store {

class database;

// Migration 4 (adapters/store/migrations.cpp).
inline constexpr std::string_view repositories_schema =
    "CREATE TABLE repositories (position INTEGER NOT NULL, name TEXT PRIMARY KEY, url TEXT NOT NULL, "
    "username TEXT NOT NULL DEFAULT '', password TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE repository_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

class repository_store {
 public:
  // Loads the list. On the very first open (nothing ever seeded) it seeds `seed` when given
  // (behavior-ops.md §5.1: the default repository at first boot). `db` must outlive the store.
  static result<std::unique_ptr<repository_store>> open(database& db, std::optional<packages::repository> seed);

  const std::vector<packages::repository>& list() const noexcept { return list_; }
  const packages::repository* find(std::string_view name) const noexcept;

  // 409 when the name exists. Appended at the end.
  result<void> add(packages::repository repo);
  // 404 when unknown.
  result<void> remove(std::string_view name);
  // 404 when unknown; position clamped to [0, size-1].
  result<void> move(std::string_view name, std::int64_t position);

  // When the repositories were last refreshed (unix seconds; 0: never). Persisted, so a restart
  // does not refresh before the interval has passed.
  std::int64_t last_refreshed() const noexcept { return last_refreshed_; }
  result<void> set_last_refreshed(std::int64_t unix_seconds);

 private:
  explicit repository_store(database& db) : db_(db) {}
  result<void> save(const std::vector<packages::repository>& list);
  database& db_;
  std::vector<packages::repository> list_;
  std::int64_t last_refreshed_ = 0;
};

}  // namespace sc::store
