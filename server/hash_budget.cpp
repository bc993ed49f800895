#include "server/hash_budget.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <string_view>

namespace sc::server {

namespace asio = boost::asio;

// Lives in the frame of the coroutine that waits; unlinks itself whatever way the frame ends.
struct hash_budget::waiter {
  waiter(hash_budget& b, std::uint64_t k) : budget(b), kib(k), wake(b.io_, asio::steady_timer::time_point::max()) {}
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;
  ~waiter() {
    if (queued) budget.waiting_.erase(position);
    // Granted but never resumed (the coroutine was destroyed): the cost goes back at once.
    if (granted && !taken) budget.give_back(kib);
  }
  hash_budget& budget;
  std::uint64_t kib;
  asio::steady_timer wake;
  std::list<waiter*>::iterator position;
  bool queued = false;
  bool granted = false;
  bool taken = false;
};

hash_budget::grant& hash_budget::grant::operator=(grant&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    kib_ = other.kib_;
    other.owner_ = nullptr;
  }
  return *this;
}

void hash_budget::grant::release() noexcept {
  if (owner_ == nullptr) return;
  auto* owner = owner_;
  owner_ = nullptr;
  owner->give_back(kib_);
}

hash_budget::hash_budget(asio::io_context& io, options opts) : io_(io), options_(std::move(opts)) {}

hash_budget::~hash_budget() = default;

bool hash_budget::fits(std::uint64_t kib) const noexcept {
  // Alone, anything runs: a cost above the whole budget must not wait forever.
  return in_use_kib_ == 0 || in_use_kib_ + kib <= options_.total_kib;
}

void hash_budget::take(std::uint64_t kib) noexcept {
  in_use_kib_ += kib;
  if (in_use_kib_ > peak_kib_) peak_kib_ = in_use_kib_;
}

void hash_budget::give_back(std::uint64_t kib) noexcept {
  in_use_kib_ -= kib <= in_use_kib_ ? kib : in_use_kib_;
  wake_waiters();
  if (in_use_kib_ == 0 && waiting_.empty() && options_.on_idle) options_.on_idle();
}

void hash_budget::wake_waiters() noexcept {
  // Strictly in order: a small cost never overtakes a large one that waits longer (no starvation).
  while (!waiting_.empty() && fits(waiting_.front()->kib)) {
    waiter* next = waiting_.front();
    waiting_.pop_front();
    next->queued = false;
    next->granted = true;
    take(next->kib);
    next->wake.cancel();
  }
}

void hash_budget::set_total_kib(std::uint64_t kib) {
  options_.total_kib = kib;
  wake_waiters();
}

asio::awaitable<result<hash_budget::grant>> hash_budget::acquire(std::uint64_t kib) {
  if (waiting_.empty() && fits(kib)) {
    take(kib);
    co_return grant(this, kib);
  }
  auto busy = [] { return problem::too_many_requests("too many password checks at once, try again", 1); };
  if (waiting_.size() >= options_.max_waiting) co_return busy();
  waiter w(*this, kib);
  w.position = waiting_.insert(waiting_.end(), &w);
  w.queued = true;
  w.wake.expires_after(options_.max_wait);
  (void)co_await w.wake.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!w.granted) co_return busy();  // timed out; the destructor unlinks it
  w.taken = true;
  co_return grant(this, kib);
}

std::uint64_t argon2_cost_kib(std::string_view phc, std::uint64_t fallback) noexcept {
  // $argon2id$v=19$m=65536,t=1,p=4$salt$hash
  auto at = phc.find("$m=");
  if (at == std::string_view::npos) return fallback;
  std::uint64_t kib = 0;
  const char* begin = phc.data() + at + 3;
  auto [end, ec] = std::from_chars(begin, phc.data() + phc.size(), kib);
  if (ec != std::errc{} || end == begin || kib == 0) return fallback;
  return kib;
}

}  // namespace sc::server
