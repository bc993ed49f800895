#pragma once
// Static pages (issue 16): the `pages` table (core/pages.hpp's record), cached in memory and sorted
// by name. Every mutation is one SQLite statement; the cache changes only after it committed.
// Loop thread only.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/pages.hpp"
#include "core/problem.hpp"

namespace sc::store {

class database;

// Migration 9 (adapters/store/migrations.cpp). `content` is the generation served now (internal).
inline constexpr std::string_view pages_schema =
    "CREATE TABLE pages (name TEXT PRIMARY KEY, source_type TEXT NOT NULL, repo_url TEXT NOT NULL DEFAULT '', "
    "branch TEXT NOT NULL DEFAULT 'main', image TEXT NOT NULL DEFAULT '', image_directory TEXT NOT NULL DEFAULT '', "
    "domain TEXT NOT NULL UNIQUE, status TEXT NOT NULL DEFAULT 'pending', error TEXT NOT NULL DEFAULT '', "
    "network TEXT NOT NULL DEFAULT '', content TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL);";

class page_store {
 public:
  // Loads every page. `db` must outlive the store.
  static result<std::unique_ptr<page_store>> open(database& db);

  const std::vector<pages::page>& all() const noexcept { return pages_; }
  // Null when there is no page of that name.
  const pages::page* find(std::string_view name) const noexcept;
  // Null when no page serves `domain`.
  const pages::page* find_domain(std::string_view domain) const noexcept;

  // 409 when the name or the domain is taken.
  result<void> insert(pages::page p);
  // Replaces the row of `p.name` (404 when missing; 409 when its new domain is another page's).
  result<void> update(pages::page p);
  // 404 when missing.
  result<void> remove(std::string_view name);

 private:
  explicit page_store(database& db) : db_(db) {}
  database& db_;
  std::vector<pages::page> pages_;
};

}  // namespace sc::store
