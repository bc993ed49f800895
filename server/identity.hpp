#pragma once
// The identity service: accounts and sessions, held in memory and written through to SQLite
// (adapters/store/account_store.hpp). Token validation is a hash-map lookup by SHA-256 of the
// token — no SQLite on the request path; `last_used` reaches the store at most once a minute per
// session. Password hashing runs on a bounded pool, admitted by one memory budget
// (server/hash_budget.hpp: by default 128 MiB, two argon2id hashes at 64 MiB; the rest wait in a
// bounded queue for a bounded time, then get 429 with Retry-After). After a burst the allocator's
// free memory is handed back to the kernel.
//
// Everything here runs on the loop thread; the awaitable members resume on it. Pointers and
// references returned by the lookups are valid until the next co_await or mutation.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "adapters/pool/work_pool.hpp"
#include "adapters/store/account_store.hpp"
#include "core/accounts.hpp"
#include "core/sessions.hpp"
#include "server/hash_budget.hpp"
#include "server/router.hpp"

namespace boost::asio {
class io_context;
}
namespace sc::store {
class database;
}

namespace sc::server {

class identity {
 public:
  struct options {
    sessions::policy session_policy;
    sessions::login_throttle::limits throttle;
    hash_budget::options hash_memory;   // total, queue length and wait of the hashing budget
    std::function<std::int64_t()> now;  // Unix seconds; default the system clock
  };

  // Loads accounts and sessions (dropping expired sessions). `db` and `hashing` (the work queue
  // argon2id runs on: a backstop on threads and waiting jobs; the memory budget decides how many
  // hash at once) must outlive the service.
  static result<std::unique_ptr<identity>> open(store::database& db, boost::asio::io_context& io,
                                                pool::work_queue& hashing, options opts);
  static result<std::unique_ptr<identity>> open(store::database& db, boost::asio::io_context& io,
                                                pool::work_queue& hashing) {
    return open(db, io, hashing, options{});
  }

  // The principal of a presented bearer token, or nullopt (unknown, expired, disabled account).
  // Slides the session's idle expiry.
  std::optional<principal> validate(std::string_view token);

  // The absolute session lifetime in seconds (the `session_lifetime` setting); applies at once to
  // existing sessions too.
  void set_absolute_lifetime(std::int64_t seconds) noexcept { policy_.absolute = seconds; }
  // True while no enabled administrator exists (POST /account/create is then public).
  bool bootstrap_open() const noexcept { return enabled_admins_ == 0; }

  struct login {
    std::string token;  // returned once; only its digest is kept
    accounts::account account;
  };
  // 429 (throttled or hash pool full, with Retry-After), 401 "invalid credentials" (unknown user,
  // wrong password or disabled account — identical text and cost).
  boost::asio::awaitable<result<login>> authenticate(std::string username, std::string password, std::string source);

  // Validates, hashes and stores. `caller_admin`: the caller is an administrator (or local root);
  // without it the creation is allowed only while bootstrap is open (checked again after hashing).
  boost::asio::awaitable<result<accounts::account>> create(accounts::new_account request, bool caller_admin);
  // Applies prepared-and-authorised changes (the handler checks who may change what).
  boost::asio::awaitable<result<accounts::account>> update(std::string username, accounts::account_changes changes);
  // Disabling revokes every session of the account at once; enabling revives none.
  result<void> set_disabled(std::string_view username, bool disabled);

  const accounts::account* find(std::string_view username) const;
  const std::vector<accounts::account>& all() const noexcept { return accounts_; }
  // `a` (an element of all()) as its JSON object, serialised once and reused until an account
  // changes: GET /account spent two thirds of its instructions re-serialising the same accounts.
  std::string_view account_json(const accounts::account& a) const;
  std::size_t enabled_admins() const noexcept { return enabled_admins_; }

  // The sessions of `username`, most recently used first.
  std::vector<sessions::session> sessions_of(std::string_view username) const;
  // 404 when no such session; 403 when `caller` is not an admin and the session is not theirs
  // (unknown and foreign are indistinguishable to non-admins: both 403).
  result<void> revoke(const principal& caller, std::string_view session_id);

  std::int64_t now() const { return now_(); }

  // The hashing memory budget (the --password-hash-memory flag, the password_hash_memory setting).
  hash_budget& hashing_budget() noexcept { return hash_budget_; }

 private:
  identity(store::database& db, boost::asio::io_context& io, pool::work_queue& hashing, options opts);
  // Runs `job` on the hash queue once `cost_kib` fits the memory budget.
  template <class Job>
  boost::asio::awaitable<result<std::invoke_result_t<Job&>>> hash_within_budget(Job job, std::uint64_t cost_kib);
  accounts::account* find_mutable(std::string_view username);
  void recount_admins() noexcept;
  void remove_sessions_where(const std::function<bool(const sessions::session&)>& predicate);

  store::account_store store_;
  sessions::policy policy_;
  sessions::login_throttle throttle_;
  std::function<std::int64_t()> now_;
  std::vector<accounts::account> accounts_;  // sorted by username (the default list order)
  // account_json()'s cache, parallel to accounts_; emptied by every mutable access (find_mutable,
  // insertion) and rebuilt whole on the next read.
  mutable std::vector<std::string> account_json_;
  std::unordered_map<std::string, sessions::session> sessions_;  // by token digest
  std::unordered_map<std::string, std::string> digest_by_id_;
  std::size_t enabled_admins_ = 0;
  hash_budget hash_budget_;
  pool::work_queue& hash_pool_;
};

}  // namespace sc::server
