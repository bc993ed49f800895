#include "adapters/store/audit_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <ctime>

#include "adapters/store/database.hpp"

namespace sc::store {

std::string rfc3339_seconds(std::chrono::system_clock::time_point when) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, n);
}

audit_store::audit_store(database& db) : db_(db) {}
audit_store::~audit_store() = default;

result<std::int64_t> audit_store::record(const audit::entry& e) {
  try {
    if (!insert_) {
      insert_ = std::make_unique<SQLite::Statement>(
          db_.sql(),
          "INSERT INTO audit_log(account, action, path, detail, success, error, created_at) VALUES (?,?,?,?,?,?,?)");
    }
    insert_->reset();
    insert_->clearBindings();
    insert_->bind(1, e.account);
    insert_->bind(2, e.action);
    insert_->bind(3, e.path);
    insert_->bind(4, e.detail);
    insert_->bind(5, e.success ? 1 : 0);
    insert_->bind(6, e.error);
    insert_->bind(7, e.created_at.empty() ? rfc3339_seconds(std::chrono::system_clock::now()) : e.created_at);
    insert_->exec();
    insert_->reset();
    return static_cast<std::int64_t>(db_.sql().getLastInsertRowid());
  } catch (const std::exception& ex) {
    insert_.reset();  // a statement left mid-step must not poison the next record()
    return database_failure("recording audit entry", ex);
  }
}

namespace {

// '%', '_' and the escape character itself are literals in the user's term.
std::string like_pattern(std::string_view term) {
  std::string out = "%";
  for (char c : term) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

}  // namespace

result<audit_store::page> audit_store::list(const audit::log_query& query) {
  // Column names come from the normalised whitelist, never from the client verbatim.
  std::string where = " WHERE 1=1";
  if (query.before_id > 0) where += " AND id < :before";
  if (!query.account.empty()) where += " AND account = :account";
  if (!query.search.empty()) {
    where +=
        " AND (account LIKE :search ESCAPE '\\' OR action LIKE :search ESCAPE '\\' OR path LIKE :search ESCAPE '\\'"
        " OR detail LIKE :search ESCAPE '\\')";
  }
  auto bind_filters = [&](SQLite::Statement& s) {
    if (query.before_id > 0) s.bind(":before", static_cast<std::int64_t>(query.before_id));
    if (!query.account.empty()) s.bind(":account", query.account);
    if (!query.search.empty()) s.bind(":search", like_pattern(query.search));
  };
  const char* direction = query.ascending ? " ASC" : " DESC";
  try {
    page out;
    SQLite::Statement rows(db_.sql(),
                           "SELECT id, account, action, path, detail, success, error, created_at FROM "
                           "audit_log" +
                               where + " ORDER BY " + query.sort_by + direction +
                               (query.sort_by == "id" ? std::string() : std::string(", id") + direction) +
                               " LIMIT :limit OFFSET :offset");
    bind_filters(rows);
    rows.bind(":limit", static_cast<std::int64_t>(query.limit + 1));
    rows.bind(":offset", static_cast<std::int64_t>(query.offset));
    while (rows.executeStep()) {
      if (out.entries.size() == query.limit) {
        out.has_more = true;
        break;
      }
      audit::entry e;
      e.id = rows.getColumn(0).getInt64();
      e.account = rows.getColumn(1).getString();
      e.action = rows.getColumn(2).getString();
      e.path = rows.getColumn(3).getString();
      e.detail = rows.getColumn(4).getString();
      e.success = rows.getColumn(5).getInt() != 0;
      e.error = rows.getColumn(6).getString();
      e.created_at = rows.getColumn(7).getString();
      out.entries.push_back(std::move(e));
    }
    SQLite::Statement count(db_.sql(), "SELECT COUNT(*) FROM audit_log" + where);
    bind_filters(count);
    count.executeStep();
    out.total_count = static_cast<std::size_t>(count.getColumn(0).getInt64());
    return out;
  } catch (const std::exception& ex) {
    return database_failure("listing audit log", ex);
  }
}

}  // namespace sc::store
