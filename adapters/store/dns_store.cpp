#include "adapters/store/dns_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>
#include <chrono>

#include "adapters/store/database.hpp"

namespace sc::store {

result<std::unique_ptr<dns_store>> dns_store::open(database& db) {
  std::unique_ptr<dns_store> store(new dns_store(db));
  try {
    SQLite::Statement rows(db.sql(), "SELECT name, type, value, ttl FROM dns_records ORDER BY id");
    while (rows.executeStep()) {
      auto type = dns::parse_record_type(rows.getColumn(1).getString());
      if (!type) continue;  // a row this version does not know is left alone, never rendered
      store->records_.push_back({rows.getColumn(0).getString(), *type, rows.getColumn(2).getString(),
                                 static_cast<std::uint32_t>(rows.getColumn(3).getInt64())});
    }
    SQLite::Statement serial(db.sql(), "SELECT value FROM dns_state WHERE key = 'serial'");
    if (serial.executeStep()) store->serial_ = static_cast<std::uint32_t>(std::stoul(serial.getColumn(0).getString()));
    SQLite::Statement lists(db.sql(), "SELECT list, entry FROM dns_list_entries ORDER BY list, entry");
    while (lists.executeStep())
      store->lists_.emplace_back(lists.getColumn(0).getString(), lists.getColumn(1).getString());
  } catch (const std::exception& e) {
    return database_failure("loading DNS records", e);
  }
  return store;
}

result<void> dns_store::add(dns::record r) {
  if (auto fits = dns::check_coexistence(records_, r); !fits) return fits.error();
  if (records_.size() >= dns::max_records)
    return problem::payload_too_large("the zone holds " + std::to_string(dns::max_records) + " records at most");
  try {
    SQLite::Statement insert(db_.sql(), "INSERT INTO dns_records(name, type, value, ttl) VALUES (?, ?, ?, ?)");
    insert.bind(1, r.name);
    insert.bind(2, std::string(dns::to_string(r.type)));
    insert.bind(3, r.value);
    insert.bind(4, static_cast<std::int64_t>(r.ttl));
    insert.exec();
  } catch (const std::exception& e) {
    return database_failure("adding a DNS record", e);
  }
  records_.push_back(std::move(r));
  return {};
}

result<std::size_t> dns_store::remove(std::string_view name, dns::record_type type, std::string_view value) {
  auto matches = [&](const dns::record& r) {
    return r.name == name && r.type == type && (value.empty() || r.value == value);
  };
  std::size_t count = static_cast<std::size_t>(std::count_if(records_.begin(), records_.end(), matches));
  if (count == 0)
    return problem::not_found("no " + std::string(dns::to_string(type)) + " record at " + std::string(name));
  try {
    SQLite::Statement erase(db_.sql(), value.empty()
                                           ? "DELETE FROM dns_records WHERE name = ? AND type = ?"
                                           : "DELETE FROM dns_records WHERE name = ? AND type = ? AND value = ?");
    erase.bind(1, std::string(name));
    erase.bind(2, std::string(dns::to_string(type)));
    if (!value.empty()) erase.bind(3, std::string(value));
    erase.exec();
  } catch (const std::exception& e) {
    return database_failure("removing a DNS record", e);
  }
  std::erase_if(records_, matches);
  return count;
}

result<std::uint32_t> dns_store::next_serial() {
  // Starts from the clock, so a zone made again from scratch (a new database) still outranks what a
  // secondary might remember; then grows by one per change.
  auto now = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::uint32_t next = std::max(serial_ + 1, serial_ == 0 ? now : serial_ + 1);
  try {
    SQLite::Statement upsert(db_.sql(),
                             "INSERT INTO dns_state(key, value) VALUES ('serial', ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    upsert.bind(1, std::to_string(next));
    upsert.exec();
  } catch (const std::exception& e) {
    return database_failure("storing the DNS serial", e);
  }
  serial_ = next;
  return next;
}

std::vector<std::string> dns_store::list(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [list, entry] : lists_) {
    if (list == name) out.push_back(entry);
  }
  std::sort(out.begin(), out.end());
  return out;
}

result<void> dns_store::add_to_list(std::string_view name, std::string entry) {
  for (const auto& [list, e] : lists_) {
    if (list == name && e == entry) return problem::conflict("\"" + entry + "\" is already listed");
  }
  try {
    SQLite::Statement insert(db_.sql(), "INSERT INTO dns_list_entries(list, entry) VALUES (?, ?)");
    insert.bind(1, std::string(name));
    insert.bind(2, entry);
    insert.exec();
  } catch (const std::exception& e) {
    return database_failure("adding a DNS list entry", e);
  }
  lists_.emplace_back(std::string(name), std::move(entry));
  return {};
}

result<void> dns_store::remove_from_list(std::string_view name, std::string_view entry) {
  auto found = std::find_if(lists_.begin(), lists_.end(),
                            [&](const auto& item) { return item.first == name && item.second == entry; });
  if (found == lists_.end()) return problem::not_found("\"" + std::string(entry) + "\" is not listed");
  try {
    SQLite::Statement erase(db_.sql(), "DELETE FROM dns_list_entries WHERE list = ? AND entry = ?");
    erase.bind(1, std::string(name));
    erase.bind(2, std::string(entry));
    erase.exec();
  } catch (const std::exception& e) {
    return database_failure("removing a DNS list entry", e);
  }
  lists_.erase(found);
  return {};
}

}  // namespace sc::store
