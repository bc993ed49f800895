#pragma once
// One memory budget for password hashing (issue 11 §5): argon2id takes its whole memory cost
// (64 MiB at the default parameters) for the length of a hash, so the number of hashes running at
// once is bounded by the sum of their costs, not by a thread count. A hash whose cost does not fit
// waits, first come first served, in a bounded queue for a bounded time; beyond either bound it is
// refused with 429 and Retry-After. A cost larger than the whole budget runs alone.
//
// When the last grant is released and nobody waits, `on_idle` runs (the identity service gives the
// allocator's free memory back to the kernel then: bursts must not leave the process fat).
//
// Loop-thread only: acquire() must be awaited on the loop of the io_context given at construction
// and completes there; grants must be released there too. The budget must outlive its grants.
// Cancellation: destroying an awaiting coroutine leaves the queue cleanly (a grant that had been
// handed to it is released at once).

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string_view>

#include "core/problem.hpp"

namespace boost::asio {
class io_context;
}

namespace sc::server {

class hash_budget {
 public:
  struct options {
    std::uint64_t total_kib = std::uint64_t{128} * 1024;  // the budget: 128 MiB, two default hashes
    std::size_t max_waiting = 16;                         // queued hashes beyond that → 429 at once
    std::chrono::milliseconds max_wait{10'000};           // queued longer → 429
    std::function<void()> on_idle;                        // the budget went back to zero in use
  };

  // Returns its cost to the budget when destroyed (or on release()). Move-only.
  class grant {
   public:
    grant() = default;
    grant(hash_budget* owner, std::uint64_t kib) noexcept : owner_(owner), kib_(kib) {}
    grant(grant&& other) noexcept : owner_(other.owner_), kib_(other.kib_) { other.owner_ = nullptr; }
    grant& operator=(grant&& other) noexcept;
    grant(const grant&) = delete;
    grant& operator=(const grant&) = delete;
    ~grant() { release(); }
    void release() noexcept;

   private:
    hash_budget* owner_ = nullptr;
    std::uint64_t kib_ = 0;
  };

  hash_budget(boost::asio::io_context& io, options opts);
  ~hash_budget();
  hash_budget(const hash_budget&) = delete;
  hash_budget& operator=(const hash_budget&) = delete;

  // A grant of `kib` once it fits; 429 (Retry-After) when the queue is full or the wait too long.
  boost::asio::awaitable<result<grant>> acquire(std::uint64_t kib);

  // Changes the budget (the `password_hash_memory` setting); waiters that now fit start at once.
  void set_total_kib(std::uint64_t kib);

  std::uint64_t total_kib() const noexcept { return options_.total_kib; }
  std::uint64_t in_use_kib() const noexcept { return in_use_kib_; }
  std::size_t waiting() const noexcept { return waiting_.size(); }
  // High-water mark of in_use_kib(), for tests and /metrics.
  std::uint64_t peak_kib() const noexcept { return peak_kib_; }

 private:
  struct waiter;
  bool fits(std::uint64_t kib) const noexcept;
  void take(std::uint64_t kib) noexcept;
  void give_back(std::uint64_t kib) noexcept;
  void wake_waiters() noexcept;

  boost::asio::io_context& io_;
  options options_;
  std::uint64_t in_use_kib_ = 0;
  std::uint64_t peak_kib_ = 0;
  std::list<waiter*> waiting_;  // FIFO; each waiter lives in its awaiting coroutine's frame
};

// The memory cost in KiB of verifying against the PHC string `phc` (its `m=` parameter), or
// `fallback` when the string carries none (a malformed hash is verified at the default cost).
std::uint64_t argon2_cost_kib(std::string_view phc, std::uint64_t fallback) noexcept;

}  // namespace sc::server
