#pragma once
// The server's own counters, rendered as Prometheus text by GET /metrics. Touched only from the
// loop thread, so plain integers suffice.

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "server/router.hpp"

namespace sc::server {

class metrics {
 public:
  explicit metrics(std::size_t route_count);

  static constexpr std::size_t unmatched = static_cast<std::size_t>(-1);
  // One finished request: `route` is an index into the route table, or `unmatched`.
  void record(std::size_t route, int status, std::chrono::nanoseconds latency);

  void connection_opened() noexcept {
    ++open_connections_;
    ++accepted_connections_;
  }
  void connection_closed() noexcept { --open_connections_; }
  void connection_refused() noexcept { ++refused_connections_; }
  std::int64_t open_connections() const noexcept { return open_connections_; }

  void sse_subscribed() noexcept { ++sse_subscribers_; }
  void sse_unsubscribed() noexcept { --sse_subscribers_; }
  std::int64_t sse_subscribers() const noexcept { return sse_subscribers_; }

  struct gauges {
    std::size_t running_children = 0;
    // Children awaited to their end, the wall time spent awaiting them, and the time spent
    // awaiting systemd's replies and jobs (what an operation waits on that is not its own work).
    std::uint64_t children_awaited = 0;
    double children_wait_seconds = 0;
    double systemd_wait_seconds = 0;
    double package_start_wait_seconds = 0;  // installs waiting for their apps to come up
    double uptime_seconds = 0;
    double start_time_seconds = 0;
    // The password-hashing memory budget (server/hash_budget.hpp), in bytes, and hashes queued.
    std::uint64_t hash_memory_budget = 0;
    std::uint64_t hash_memory_in_use = 0;
    std::uint64_t hash_memory_peak = 0;
    std::size_t hash_waiting = 0;
    std::size_t upgrades_available = 0;  // entries of GET /packages/upgrades
  };
  std::string render(std::span<const route> routes, const gauges& extra) const;

 private:
  static constexpr std::array<double, 14> bucket_bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                           0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   5.0};
  std::vector<std::array<std::uint64_t, 5>> by_route_;  // per route, per status class 1xx..5xx
  std::array<std::uint64_t, 5> unmatched_{};
  std::array<std::uint64_t, bucket_bounds.size() + 1> latency_buckets_{};  // last: +Inf
  double latency_sum_seconds_ = 0;
  std::uint64_t latency_count_ = 0;
  std::int64_t open_connections_ = 0;
  std::uint64_t accepted_connections_ = 0;
  std::uint64_t refused_connections_ = 0;
  std::int64_t sse_subscribers_ = 0;
};

}  // namespace sc::server
