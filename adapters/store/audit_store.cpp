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
  return insert(e, {});
}

result<std::int64_t> audit_store::insert(const audit::entry& e, std::string_view source) {
  try {
    if (!insert_) {
      insert_ = std::make_unique<SQLite::Statement>(db_.sql(),
                                                    "INSERT INTO audit_log(account, action, path, detail, success, "
                                                    "error, created_at, count, source) VALUES (?,?,?,?,?,?,?,?,?)");
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
    insert_->bind(8, e.count);
    insert_->bind(9, std::string(source));
    insert_->exec();
    insert_->reset();
    ++inserted_;
    return static_cast<std::int64_t>(db_.sql().getLastInsertRowid());
  } catch (const std::exception& ex) {
    insert_.reset();  // a statement left mid-step must not poison the next record()
    return database_failure("recording audit entry", ex);
  }
}

result<std::int64_t> audit_store::record_failed_login(const audit::entry& e, std::string_view source,
                                                      std::chrono::system_clock::time_point now) {
  const auto window = std::chrono::seconds(audit::failed_login_window_seconds);
  std::string key(source);
  if (auto open = windows_.find(key); open != windows_.end() && now - open->second.started < window) {
    try {
      if (!bump_) {
        bump_ = std::make_unique<SQLite::Statement>(db_.sql(),
                                                    "UPDATE audit_log SET count = count + 1, error = ? WHERE id = ?");
      }
      bump_->reset();
      bump_->bind(1, e.error);
      bump_->bind(2, open->second.row);
      // No row changed: it was pruned meanwhile; the attempt starts a new one below.
      if (bump_->exec() == 1) return open->second.row;
    } catch (const std::exception& ex) {
      bump_.reset();
      return problem::internal_error(std::string("counting a failed login: ") + ex.what());
    }
  }
  if (windows_.size() >= max_tracked_sources) {
    std::erase_if(windows_, [&](const auto& item) { return now - item.second.started >= window; });
    // Every window still open, from that many addresses: forget them all. Their next attempts
    // start new rows, so the count stays exact and memory stays bounded.
    if (windows_.size() >= max_tracked_sources) windows_.clear();
  }
  audit::entry row = e;
  row.count = 1;
  if (row.created_at.empty()) row.created_at = rfc3339_seconds(now);
  auto id = insert(row, key);
  if (!id) return id;
  windows_[std::move(key)] = open_window{*id, now};
  return id;
}

audit_pruner::audit_pruner(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
audit_pruner::~audit_pruner() = default;

result<std::unique_ptr<audit_pruner>> audit_pruner::open(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE);
    // The loop's connection may hold the write lock for one statement: wait for it, on the pool.
    db->exec("PRAGMA busy_timeout=5000");
    return std::unique_ptr<audit_pruner>(new audit_pruner(std::move(db)));
  } catch (const std::exception& ex) {
    return problem::internal_error(std::string("opening the audit pruner: ") + ex.what());
  }
}

result<std::size_t> audit_pruner::prune_batch(const audit_retention& retention,
                                              std::chrono::system_clock::time_point now, std::size_t batch) {
  try {
    std::size_t deleted = 0;
    // Too old: by the created_at index, oldest first.
    SQLite::Statement aged(*db_,
                           "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE created_at < ? "
                           "ORDER BY created_at LIMIT ?)");
    aged.bind(1, rfc3339_seconds(now - std::chrono::hours(24) * retention.days));
    aged.bind(2, static_cast<std::int64_t>(batch));
    deleted += static_cast<std::size_t>(aged.exec());
    if (deleted >= batch) return deleted;
    // Too many: everything at or below the id of the row just past the newest max_rows.
    SQLite::Statement surplus(*db_,
                              "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE id <= "
                              "(SELECT id FROM audit_log ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?)");
    surplus.bind(1, retention.max_rows);
    surplus.bind(2, static_cast<std::int64_t>(batch - deleted));
    deleted += static_cast<std::size_t>(surplus.exec());
    return deleted;
  } catch (const std::exception& ex) {
    return problem::internal_error(std::string("pruning the audit log: ") + ex.what());
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
                           "SELECT id, account, action, path, detail, success, error, created_at, count FROM "
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
      e.count = rows.getColumn(8).getInt64();
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
