#include "server/identity.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>

#include "adapters/crypto/password.hpp"
#include "core/json_writer.hpp"
#include "core/log.hpp"

namespace sc::server {

namespace {

std::int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Pool jobs get copies only: they run on another thread while the loop goes on.
struct verify_job {
  std::string password;
  std::string hash;  // empty: verify against the dummy hash (unknown user), same cost
  bool operator()() const {
    const std::string& against = hash.empty() ? crypto::dummy_hash() : hash;
    return crypto::verify_password(password, against);
  }
};

struct hash_job {
  std::string password;
  result<std::string> operator()() const { return crypto::hash_password(password); }
};

// What hashing a new password costs (crypto::argon2_params' default memory).
const std::uint64_t default_cost_kib = crypto::argon2_params{}.memory_kib;

// glibc keeps freed memory in its arenas (one per pool thread and per argon2 lane thread): after a
// burst of logins that is megabytes of anonymous memory the process holds for nothing.
void give_memory_back() {
  ::malloc_trim(0);
}

problem invalid_credentials() {
  return problem::unauthorized("invalid credentials");
}

}  // namespace

identity::identity(store::database& db, boost::asio::io_context& io, pool::work_queue& hashing, options opts)
    : store_(db),
      policy_(opts.session_policy),
      throttle_(opts.throttle),
      now_(opts.now ? std::move(opts.now) : std::function<std::int64_t()>(system_now)),
      hash_budget_(io,
                   [&opts] {
                     auto budget = opts.hash_memory;
                     if (!budget.on_idle) budget.on_idle = give_memory_back;
                     return budget;
                   }()),
      hash_pool_(hashing) {}

template <class Job>
boost::asio::awaitable<result<std::invoke_result_t<Job&>>> identity::hash_within_budget(Job job,
                                                                                        std::uint64_t cost_kib) {
  auto granted = co_await hash_budget_.acquire(cost_kib);
  // In place: a problem converts both to the value (itself a result for hash jobs) and the error.
  if (!granted) co_return result<std::invoke_result_t<Job&>>(boost::system::in_place_error, granted.error());
  // The grant is held until the hash is done, and released here, on the loop.
  co_return co_await hash_pool_.run(std::move(job));
}

result<std::unique_ptr<identity>> identity::open(store::database& db, boost::asio::io_context& io,
                                                 pool::work_queue& hashing, options opts) {
  std::unique_ptr<identity> service(new identity(db, io, hashing, std::move(opts)));
  auto loaded = service->store_.load_accounts();
  if (!loaded) return loaded.error();
  service->accounts_ = std::move(*loaded);
  service->recount_admins();
  auto stored = service->store_.load_sessions();
  if (!stored) return stored.error();
  std::int64_t now = service->now_();
  std::vector<std::string> expired;
  for (auto& s : *stored) {
    if (sessions::is_expired(s, now, service->policy_)) {
      expired.push_back(s.id);
      continue;
    }
    service->digest_by_id_[s.id] = s.token_sha256;
    std::string digest = s.token_sha256;
    service->sessions_.emplace(std::move(digest), std::move(s));
  }
  if (auto dropped = service->store_.delete_sessions(expired); !dropped) return dropped.error();
  return service;
}

void identity::recount_admins() noexcept {
  enabled_admins_ =
      static_cast<std::size_t>(std::count_if(accounts_.begin(), accounts_.end(), accounts::is_enabled_admin));
}

const accounts::account* identity::find(std::string_view username) const {
  auto it = std::lower_bound(accounts_.begin(), accounts_.end(), username,
                             [](const accounts::account& a, std::string_view name) { return a.username < name; });
  if (it == accounts_.end() || it->username != username) return nullptr;
  return &*it;
}

accounts::account* identity::find_mutable(std::string_view username) {
  account_json_.clear();  // the caller is about to change an account
  return const_cast<accounts::account*>(static_cast<const identity*>(this)->find(username));
}

std::string_view identity::account_json(const accounts::account& a) const {
  if (account_json_.size() != accounts_.size()) {
    account_json_.clear();
    account_json_.reserve(accounts_.size());
    for (const auto& each : accounts_) {
      std::string text;
      json_writer writer(text);
      accounts::write_json(writer, each);
      account_json_.push_back(std::move(text));
    }
  }
  return account_json_[static_cast<std::size_t>(&a - accounts_.data())];
}

void identity::remove_sessions_where(const std::function<bool(const sessions::session&)>& predicate) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (predicate(it->second)) {
      digest_by_id_.erase(it->second.id);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<principal> identity::validate(std::string_view token) {
  if (!sessions::is_well_formed_token(token)) return std::nullopt;
  auto found = sessions_.find(crypto::sha256_hex(token));
  if (found == sessions_.end()) return std::nullopt;
  sessions::session& s = found->second;
  std::int64_t now = now_();
  if (sessions::is_expired(s, now, policy_)) {
    // Best effort: a row left behind is dropped again at the next start.
    [[maybe_unused]] auto removed = store_.delete_session(s.id);
    digest_by_id_.erase(s.id);
    sessions_.erase(found);
    return std::nullopt;
  }
  const accounts::account* owner = find(s.username);
  if (owner == nullptr || owner->disabled) return std::nullopt;
  s.last_used = now;
  if (sessions::should_persist(s, now, policy_)) {
    if (auto touched = store_.touch_session(s.id, now); touched) {
      s.persisted_last_used = now;
    } else {
      log::warning(touched.error().internal);
    }
  }
  principal caller{owner->username, s.id, owner->admin, false, {}};
  if (!owner->admin && !owner->grants.empty()) caller.grants = owner->grants;  // rare: restricted accounts
  return caller;
}

boost::asio::awaitable<result<identity::login>> identity::authenticate(std::string username, std::string password,
                                                                       std::string source) {
  if (auto wait = throttle_.retry_after(source, now_())) {
    co_return problem::too_many_requests("too many failed login attempts, try again later", *wait);
  }
  verify_job job;
  job.password = std::move(password);
  if (const accounts::account* known = find(username)) job.hash = known->password_hash;
  // Unknown users are checked against the dummy hash, made with the default parameters.
  const std::uint64_t cost = job.hash.empty() ? default_cost_kib : argon2_cost_kib(job.hash, default_cost_kib);
  auto verified = co_await hash_within_budget(std::move(job), cost);
  if (!verified) co_return verified.error();
  // Looked up again: the account may have changed (disabled, deleted) while the hash ran.
  const accounts::account* account = find(username);
  if (!*verified || account == nullptr || account->disabled) {
    throttle_.record_failure(source, now_());
    co_return invalid_credentials();
  }
  throttle_.record_success(source);

  std::int64_t now = now_();
  std::vector<std::string> expired;
  for (const auto& [digest, s] : sessions_) {
    if (sessions::is_expired(s, now, policy_)) expired.push_back(s.id);
  }
  if (!expired.empty()) {
    if (auto dropped = store_.delete_sessions(expired); !dropped) co_return dropped.error();
    remove_sessions_where([&](const sessions::session& s) { return sessions::is_expired(s, now, policy_); });
  }

  login out;
  out.token = crypto::random_token();
  sessions::session s;
  s.id = crypto::random_uuid();
  s.token_sha256 = crypto::sha256_hex(out.token);
  s.username = account->username;
  s.created_at = now;
  s.last_used = now;
  s.persisted_last_used = now;
  if (auto stored = store_.insert_session(s); !stored) co_return stored.error();
  digest_by_id_[s.id] = s.token_sha256;
  std::string digest = s.token_sha256;
  sessions_.emplace(std::move(digest), std::move(s));
  out.account = *account;
  co_return out;
}

boost::asio::awaitable<result<accounts::account>> identity::create(accounts::new_account request, bool caller_admin) {
  auto prepared = accounts::prepare_new_account(std::move(request), accounts_.empty());
  if (!prepared) co_return prepared.error();
  if (find(prepared->username) != nullptr) co_return problem::conflict("username already exists");

  hash_job job{prepared->password};
  auto hashed = co_await hash_within_budget(std::move(job), default_cost_kib);
  if (!hashed) co_return hashed.error();
  if (!*hashed) co_return hashed->error();

  // The world may have moved while hashing: another create may have closed bootstrap or taken the name.
  if (!caller_admin && !bootstrap_open()) co_return problem::forbidden("admin access required");
  if (find(prepared->username) != nullptr) co_return problem::conflict("username already exists");
  accounts::account a;
  a.username = std::move(prepared->username);
  a.password_hash = std::move(**hashed);
  a.email = std::move(prepared->email);
  a.phone = std::move(prepared->phone);
  a.real_name = std::move(prepared->real_name);
  a.admin = prepared->admin || accounts_.empty();
  a.grants = a.admin ? std::vector<std::string>{} : std::move(prepared->grants);
  a.networks = std::move(prepared->networks);
  a.created_at = sessions::format_timestamp(now_());
  a.updated_at = a.created_at;
  if (auto stored = store_.insert_account(a); !stored) co_return stored.error();
  auto at = std::lower_bound(accounts_.begin(), accounts_.end(), a.username,
                             [](const accounts::account& x, const std::string& name) { return x.username < name; });
  auto inserted = accounts_.insert(at, a);
  account_json_.clear();
  recount_admins();
  co_return *inserted;
}

boost::asio::awaitable<result<accounts::account>> identity::update(std::string username,
                                                                   accounts::account_changes changes) {
  const accounts::account* current = find(username);
  if (current == nullptr) co_return problem::not_found("account not found");
  auto prepared = accounts::prepare_changes(std::move(changes), *current);
  if (!prepared) co_return prepared.error();
  std::string new_hash;
  if (prepared->password) {
    hash_job job{*prepared->password};
    auto hashed = co_await hash_within_budget(std::move(job), default_cost_kib);
    if (!hashed) co_return hashed.error();
    if (!*hashed) co_return hashed->error();
    new_hash = std::move(**hashed);
  }
  accounts::account* target = find_mutable(username);
  if (target == nullptr) co_return problem::not_found("account not found");
  accounts::account updated = *target;
  accounts::apply_changes(updated, *prepared, std::move(new_hash), sessions::format_timestamp(now_()));
  if (auto stored = store_.update_account(updated); !stored) co_return stored.error();
  *target = std::move(updated);
  co_return *target;
}

result<void> identity::set_disabled(std::string_view username, bool disabled) {
  accounts::account* target = find_mutable(username);
  if (target == nullptr) return problem::not_found("account not found");
  std::string now = sessions::format_timestamp(now_());
  if (auto stored = store_.set_disabled(username, disabled, now); !stored) return stored.error();
  target->disabled = disabled;
  target->updated_at = std::move(now);
  if (disabled) {
    remove_sessions_where([&](const sessions::session& s) { return s.username == username; });
  }
  recount_admins();
  return {};
}

std::vector<sessions::session> identity::sessions_of(std::string_view username) const {
  std::vector<sessions::session> out;
  for (const auto& [digest, s] : sessions_) {
    if (s.username == username) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const sessions::session& a, const sessions::session& b) {
    if (a.last_used != b.last_used) return a.last_used > b.last_used;
    return a.created_at > b.created_at;
  });
  return out;
}

result<void> identity::revoke(const principal& caller, std::string_view session_id) {
  auto digest = digest_by_id_.find(std::string(session_id));
  const sessions::session* target = nullptr;
  if (digest != digest_by_id_.end()) {
    auto found = sessions_.find(digest->second);
    if (found != sessions_.end()) target = &found->second;
  }
  if (!caller.admin && (target == nullptr || target->username != caller.username)) {
    return problem::forbidden("this account may only revoke its own sessions");
  }
  if (target == nullptr) return problem::not_found("session not found");
  if (auto removed = store_.delete_session(session_id); !removed && removed.error().status != 404) {
    return removed.error();
  }
  sessions_.erase(digest->second);
  digest_by_id_.erase(digest);
  return {};
}

}  // namespace sc::server
