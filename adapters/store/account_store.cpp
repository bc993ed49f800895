#include "adapters/store/account_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

#include "adapters/store/database.hpp"
#include "core/json_reader.hpp"
#include "core/json_writer.hpp"

namespace sc::store {

namespace {

std::string names_to_json(const std::vector<std::string>& names) {
  return json_string([&](json_writer& w) { w.value(names); });
}

std::vector<std::string> names_from_json(const std::string& text) {
  return json::string_array(text).value_or(std::vector<std::string>{});
}

problem failure(std::string_view what, const std::exception& e) {
  return database_failure(what, e);
}

void bind_account(SQLite::Statement& q, const accounts::account& a) {
  q.bind(1, a.username);
  q.bind(2, a.password_hash);
  q.bind(3, a.email);
  q.bind(4, a.phone);
  q.bind(5, a.real_name);
  q.bind(6, a.admin ? 1 : 0);
  q.bind(7, a.disabled ? 1 : 0);
  q.bind(8, names_to_json(a.grants));
  q.bind(9, names_to_json(a.networks));
  q.bind(10, a.created_at);
  q.bind(11, a.updated_at);
}

}  // namespace

result<std::vector<accounts::account>> account_store::load_accounts() {
  try {
    SQLite::Statement q(db_.sql(),
                        "SELECT username, password_hash, email, phone, real_name, admin, disabled, grants, networks, "
                        "created_at, updated_at FROM accounts ORDER BY username");
    std::vector<accounts::account> out;
    while (q.executeStep()) {
      accounts::account a;
      a.username = q.getColumn(0).getString();
      a.password_hash = q.getColumn(1).getString();
      a.email = q.getColumn(2).getString();
      a.phone = q.getColumn(3).getString();
      a.real_name = q.getColumn(4).getString();
      a.admin = q.getColumn(5).getInt() != 0;
      a.disabled = q.getColumn(6).getInt() != 0;
      a.grants = names_from_json(q.getColumn(7).getString());
      a.networks = names_from_json(q.getColumn(8).getString());
      a.created_at = q.getColumn(9).getString();
      a.updated_at = q.getColumn(10).getString();
      out.push_back(std::move(a));
    }
    return out;
  } catch (const std::exception& e) {
    return failure("load accounts", e);
  }
}

result<std::vector<sessions::session>> account_store::load_sessions() {
  try {
    SQLite::Statement q(db_.sql(), "SELECT id, token_sha256, username, created_at, last_used FROM sessions");
    std::vector<sessions::session> out;
    while (q.executeStep()) {
      sessions::session s;
      s.id = q.getColumn(0).getString();
      s.token_sha256 = q.getColumn(1).getString();
      s.username = q.getColumn(2).getString();
      // An unreadable timestamp makes the session look ancient: it expires instead of living forever.
      s.created_at = sessions::parse_timestamp(q.getColumn(3).getString()).value_or(0);
      s.last_used = sessions::parse_timestamp(q.getColumn(4).getString()).value_or(0);
      s.persisted_last_used = s.last_used;
      out.push_back(std::move(s));
    }
    return out;
  } catch (const std::exception& e) {
    return failure("load sessions", e);
  }
}

result<void> account_store::insert_account(const accounts::account& a) {
  try {
    SQLite::Statement q(db_.sql(),
                        "INSERT INTO accounts (username, password_hash, email, phone, real_name, admin, disabled, "
                        "grants, networks, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    bind_account(q, a);
    q.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_CONSTRAINT) return problem::conflict("username already exists");
    return failure("insert account", e);
  } catch (const std::exception& e) {
    return failure("insert account", e);
  }
}

result<void> account_store::update_account(const accounts::account& a) {
  try {
    SQLite::Statement q(db_.sql(),
                        "UPDATE accounts SET username=?1, password_hash=?2, email=?3, phone=?4, real_name=?5, "
                        "admin=?6, disabled=?7, grants=?8, networks=?9, created_at=?10, updated_at=?11 "
                        "WHERE username=?1");
    bind_account(q, a);
    if (q.exec() == 0) return problem::not_found("account not found");
    return {};
  } catch (const std::exception& e) {
    return failure("update account", e);
  }
}

result<void> account_store::set_disabled(std::string_view username, bool disabled, std::string_view updated_at) {
  try {
    SQLite::Transaction transaction(db_.sql());
    SQLite::Statement q(db_.sql(), "UPDATE accounts SET disabled=?, updated_at=? WHERE username=?");
    q.bind(1, disabled ? 1 : 0);
    q.bind(2, std::string(updated_at));
    q.bind(3, std::string(username));
    if (q.exec() == 0) return problem::not_found("account not found");
    if (disabled) {
      SQLite::Statement d(db_.sql(), "DELETE FROM sessions WHERE username=?");
      d.bind(1, std::string(username));
      d.exec();
    }
    transaction.commit();
    return {};
  } catch (const std::exception& e) {
    return failure("disable account", e);
  }
}

result<void> account_store::insert_session(const sessions::session& s) {
  try {
    SQLite::Statement q(db_.sql(),
                        "INSERT INTO sessions (id, token_sha256, username, created_at, last_used) VALUES (?,?,?,?,?)");
    q.bind(1, s.id);
    q.bind(2, s.token_sha256);
    q.bind(3, s.username);
    q.bind(4, sessions::format_timestamp(s.created_at));
    q.bind(5, sessions::format_timestamp(s.last_used));
    q.exec();
    return {};
  } catch (const std::exception& e) {
    return failure("create session", e);
  }
}

result<void> account_store::touch_session(std::string_view id, std::int64_t last_used) {
  try {
    SQLite::Statement q(db_.sql(), "UPDATE sessions SET last_used=? WHERE id=?");
    q.bind(1, sessions::format_timestamp(last_used));
    q.bind(2, std::string(id));
    q.exec();
    return {};
  } catch (const std::exception& e) {
    return failure("touch session", e);
  }
}

result<void> account_store::delete_session(std::string_view id) {
  try {
    SQLite::Statement q(db_.sql(), "DELETE FROM sessions WHERE id=?");
    q.bind(1, std::string(id));
    if (q.exec() == 0) return problem::not_found("session not found");
    return {};
  } catch (const std::exception& e) {
    return failure("delete session", e);
  }
}

result<void> account_store::delete_sessions(const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  try {
    SQLite::Transaction transaction(db_.sql());
    SQLite::Statement q(db_.sql(), "DELETE FROM sessions WHERE id=?");
    for (const auto& id : ids) {
      q.bind(1, id);
      q.exec();
      q.reset();
    }
    transaction.commit();
    return {};
  } catch (const std::exception& e) {
    return failure("delete sessions", e);
  }
}

std::int64_t count_recent_audit_failures(database& db, std::string_view since) noexcept {
  try {
    SQLite::Statement exists(db.sql(), "SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit_log'");
    if (!exists.executeStep()) return 0;
    SQLite::Statement q(db.sql(), "SELECT COUNT(*) FROM audit_log WHERE success = 0 AND created_at >= ?");
    q.bind(1, std::string(since));
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace sc::store
