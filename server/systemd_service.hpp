#pragma once
// What the /systemd handlers reach through the app: the systemd manager (opened on first use, so
// that the server starts without waiting for Manager.Subscribe) and the live log streams.
// Loop-thread only.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "adapters/journal/journal_reader.hpp"
#include "adapters/pool/work_pool.hpp"
#include "core/journal_query.hpp"
#include "core/problem.hpp"
#include "server/log_stream.hpp"

namespace boost::asio {
class io_context;
}
namespace sc::systemd {
class bus_connection;
class systemd_manager;
}  // namespace sc::systemd

namespace sc::server {

class metrics;

class systemd_service {
 public:
  // `scans` (the work queue journal tail scans run on) must outlive the service.
  systemd_service(boost::asio::io_context& io, metrics& counters, pool::work_queue& scans);
  ~systemd_service();
  systemd_service(const systemd_service&) = delete;
  systemd_service& operator=(const systemd_service&) = delete;

  // The manager over `bus`, opened (and subscribed) by the first caller; concurrent first callers
  // wait for that one open. 503 when there is no bus or after close(). The pointer stays valid
  // until close().
  boost::asio::awaitable<result<systemd::systemd_manager*>> manager(systemd::bus_connection* bus);
  // At startup, before serving: makes the manager's proxy and its D-Bus matches (a synchronous
  // AddMatch round trip that must never run on a request). manager() then only awaits Subscribe.
  // A failure is logged; manager() retries the whole open on first use.
  void prepare(systemd::bus_connection* bus);

  log_hub& logs() noexcept { return logs_; }

  // The entries of a tail (GET /systemd/logs/tail, behavior-ops.md §8.4), chronological. The scan
  // (up to 200,000 entries when a filter matches little) runs on this service's work pool, never
  // on the loop; one scan at a time, a few more queued, else 429. Shutdown (stop_streams) ends a
  // running scan at its next chunk.
  boost::asio::awaitable<result<std::vector<journal::journal_entry>>> tail(journal_query::tail_query query);

  // The dashboard's unit counts (GET /status/ping, behavior-core.md §5.1): installed-package main
  // services (a failed network controller counts as failed, as in GET /systemd/units) and
  // `town-os-system--*` services. One ListUnitsByPatterns call, reused for two seconds: the
  // dashboard and local tools poll the ping.
  struct unit_counts {
    std::size_t total = 0;
    std::size_t active = 0;
    std::size_t failed = 0;
  };
  struct unit_summary {
    unit_counts packages;
    unit_counts system;
  };
  boost::asio::awaitable<result<unit_summary>> summary(systemd::bus_connection* bus);

  // The D-Bus connection was lost: hands over the manager made on it (null if none) so that the
  // caller destroys it before that connection, once no request can still hold it. The next
  // manager() call opens a new one on the bus it is given.
  std::unique_ptr<systemd::systemd_manager> release_manager();

  // Shutdown, first step: ends every log stream (requests in flight keep the manager).
  void stop_streams();
  // Shutdown, last step, before the bus connection goes: releases the manager (calls still in
  // flight complete with 503).
  void close();

 private:
  struct opening;
  boost::asio::io_context& io_;
  log_hub logs_;
  // Read by scans on the pool thread: set once shutdown begins.
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  pool::work_queue& scans_;  // journal tail scans; the app's pool owns it
  std::unique_ptr<systemd::systemd_manager> manager_;
  std::unique_ptr<systemd::systemd_manager> prepared_;  // created at start, not yet subscribed
  std::unique_ptr<opening> opening_;
  bool closed_ = false;
  std::optional<unit_summary> summary_;
  std::chrono::steady_clock::time_point summary_at_;
};

}  // namespace sc::server
