#include "adapters/store/page_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>

#include "adapters/store/database.hpp"

namespace sc::store {

namespace {

void bind_fields(SQLite::Statement& s, const pages::page& p) {
  s.bind(1, p.name);
  s.bind(2, std::string(pages::to_string(p.source)));
  s.bind(3, p.repo_url);
  s.bind(4, p.branch);
  s.bind(5, p.image);
  s.bind(6, p.image_directory);
  s.bind(7, p.domain);
  s.bind(8, p.status);
  s.bind(9, p.error);
  s.bind(10, p.network);
  s.bind(11, p.content);
  s.bind(12, p.created_at);
  s.bind(13, p.updated_at);
}

}  // namespace

result<std::unique_ptr<page_store>> page_store::open(database& db) {
  std::unique_ptr<page_store> store(new page_store(db));
  try {
    SQLite::Statement rows(db.sql(),
                           "SELECT name, source_type, repo_url, branch, image, image_directory, domain, status, error, "
                           "network, content, created_at, updated_at FROM pages ORDER BY name");
    while (rows.executeStep()) {
      pages::page p;
      p.name = rows.getColumn(0).getString();
      auto type = pages::parse_source_type(rows.getColumn(1).getString());
      if (!type) continue;  // a row this version does not know is left alone
      p.source = *type;
      p.repo_url = rows.getColumn(2).getString();
      p.branch = rows.getColumn(3).getString();
      p.image = rows.getColumn(4).getString();
      p.image_directory = rows.getColumn(5).getString();
      p.domain = rows.getColumn(6).getString();
      p.status = rows.getColumn(7).getString();
      p.error = rows.getColumn(8).getString();
      p.network = rows.getColumn(9).getString();
      p.content = rows.getColumn(10).getString();
      p.created_at = rows.getColumn(11).getString();
      p.updated_at = rows.getColumn(12).getString();
      store->pages_.push_back(std::move(p));
    }
  } catch (const std::exception& e) {
    return database_failure("loading pages", e);
  }
  return store;
}

const pages::page* page_store::find(std::string_view name) const noexcept {
  for (const auto& p : pages_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const pages::page* page_store::find_domain(std::string_view domain) const noexcept {
  for (const auto& p : pages_) {
    if (p.domain == domain) return &p;
  }
  return nullptr;
}

result<void> page_store::insert(pages::page p) {
  if (find(p.name) != nullptr) return problem::conflict("page " + p.name + " already exists");
  if (const auto* other = find_domain(p.domain); other != nullptr)
    return problem::conflict("the domain " + p.domain + " is page " + other->name + "'s");
  try {
    SQLite::Statement insert(db_.sql(),
                             "INSERT INTO pages(name, source_type, repo_url, branch, image, image_directory, domain, "
                             "status, error, network, content, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_fields(insert, p);
    insert.exec();
  } catch (const std::exception& e) {
    return database_failure("adding a page", e);
  }
  auto at = std::lower_bound(pages_.begin(), pages_.end(), p.name,
                             [](const pages::page& a, const std::string& name) { return a.name < name; });
  pages_.insert(at, std::move(p));
  return {};
}

result<void> page_store::update(pages::page p) {
  auto found = std::find_if(pages_.begin(), pages_.end(), [&](const pages::page& e) { return e.name == p.name; });
  if (found == pages_.end()) return problem::not_found("no page " + p.name);
  if (const auto* other = find_domain(p.domain); other != nullptr && other->name != p.name)
    return problem::conflict("the domain " + p.domain + " is page " + other->name + "'s");
  try {
    SQLite::Statement update(db_.sql(),
                             "UPDATE pages SET source_type = ?2, repo_url = ?3, branch = ?4, image = ?5, "
                             "image_directory = ?6, domain = ?7, status = ?8, error = ?9, network = ?10, "
                             "content = ?11, created_at = ?12, updated_at = ?13 WHERE name = ?1");
    bind_fields(update, p);
    update.exec();
  } catch (const std::exception& e) {
    return database_failure("updating a page", e);
  }
  *found = std::move(p);
  return {};
}

result<void> page_store::remove(std::string_view name) {
  auto found = std::find_if(pages_.begin(), pages_.end(), [&](const pages::page& e) { return e.name == name; });
  if (found == pages_.end()) return problem::not_found("no page " + std::string(name));
  try {
    SQLite::Statement erase(db_.sql(), "DELETE FROM pages WHERE name = ?");
    erase.bind(1, std::string(name));
    erase.exec();
  } catch (const std::exception& e) {
    return database_failure("removing a page", e);
  }
  pages_.erase(found);
  return {};
}

}  // namespace sc::store
