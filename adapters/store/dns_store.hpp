#pragma once
// The local DNS zone's persistent part (issue 15): the records added through the API, the zone's
// SOA serial, and the RBL/DNSBL lists (the local RBL and the DNSBL allowlist). Package names are
// not stored: they are derived from the install records at every render, so they can never
// disagree with what is installed. Cached in memory; every mutation is one SQLite statement or
// transaction, and the cache changes only after it committed. Loop thread only.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dns.hpp"
#include "core/problem.hpp"

namespace sc::store {

class database;

// Migration 8 (adapters/store/migrations.cpp). Names are relative to the zone (core/dns.hpp), so a
// TLD change moves them without a rewrite.
inline constexpr std::string_view dns_schema =
    "CREATE TABLE dns_records (id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, "
    "value TEXT NOT NULL, ttl INTEGER NOT NULL, UNIQUE(name, type, value));"
    "CREATE TABLE dns_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE dns_list_entries (list TEXT NOT NULL, entry TEXT NOT NULL, PRIMARY KEY(list, entry));";

class dns_store {
 public:
  // Loads the records, the serial and the lists. `db` must outlive the store.
  static result<std::unique_ptr<dns_store>> open(database& db);

  const std::vector<dns::record>& records() const noexcept { return records_; }
  // 409 on a duplicate or a CNAME conflict (dns::check_coexistence); 413 past dns::max_records.
  result<void> add(dns::record r);
  // Removes the records at `name` of `type` (only the one with `value` when it is not empty);
  // 404 when none matched. Returns how many went.
  result<std::size_t> remove(std::string_view name, dns::record_type type, std::string_view value);

  // The next SOA serial (persisted before it is returned: a serial is never reused).
  result<std::uint32_t> next_serial();

  // "rbl_local" or "dnsbl_allowlist": entries sorted.
  std::vector<std::string> list(std::string_view name) const;
  result<void> add_to_list(std::string_view name, std::string entry);            // 409 when present
  result<void> remove_from_list(std::string_view name, std::string_view entry);  // 404 when absent

 private:
  explicit dns_store(database& db) : db_(db) {}
  database& db_;
  std::vector<dns::record> records_;
  std::uint32_t serial_ = 0;
  std::vector<std::pair<std::string, std::string>> lists_;
};

}  // namespace sc::store
