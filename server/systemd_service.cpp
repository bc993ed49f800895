#include "server/systemd_service.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adapters/asio/one_shot_event.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/log.hpp"
#include "core/units.hpp"

namespace sc::server {

namespace asio = boost::asio;
namespace jq = journal_query;

namespace {

using entries = std::vector<journal::journal_entry>;

// Entries of a tail (behavior-ops.md §8.4) in chronological order, read on a pool thread. Reads in
// chunks and stops after `scan_limit` entries, so a grep that matches nothing over a huge journal
// ends in bounded time. The pool cannot be cancelled, so the scan also bounds its time: past
// `give_up_at` it answers what it found, like the entry limit; shutdown (`stopping`) ends it at
// the next chunk with 503.
result<entries> collect_tail(journal::journal_scanner& reader, const jq::tail_query& q,
                             const std::atomic<bool>& stopping, std::chrono::steady_clock::time_point give_up_at) {
  constexpr std::size_t scan_limit = 200'000;
  const bool filtered = !q.grep.empty() || q.priority > 0;
  const std::size_t chunk = filtered ? 512 : q.lines;
  const auto stopped = [] { return problem::unavailable("the server is stopping"); };
  const auto scanned_enough = [&](std::size_t scanned) {
    return scanned >= scan_limit || std::chrono::steady_clock::now() >= give_up_at;
  };
  entries kept;
  std::size_t scanned = 0;
  auto keep = [&q](const journal::journal_entry& e) {
    return jq::entry_matches(e.message, e.priority, q.grep, q.priority);
  };

  if (q.how == jq::tail_query::mode::since || q.how == jq::tail_query::mode::after) {
    const std::uint64_t until_usec = q.until ? static_cast<std::uint64_t>(*q.until) * 1'000'000 : UINT64_MAX;
    result<entries> batch = q.how == jq::tail_query::mode::since
                                ? reader.read_since(static_cast<std::uint64_t>(*q.since) * 1'000'000, chunk)
                                : reader.read_after(q.after, chunk);
    for (;;) {
      if (!batch) return batch.error();
      if (batch->empty()) break;
      // Taken before entries are moved out of the batch.
      std::string from = batch->back().cursor;
      for (auto& e : *batch) {
        if (e.realtime_usec >= until_usec) return kept;
        if (keep(e)) kept.push_back(std::move(e));
        if (kept.size() >= q.lines) return kept;
      }
      scanned += batch->size();
      if (batch->size() < chunk || scanned_enough(scanned)) break;
      if (stopping.load(std::memory_order_relaxed)) return stopped();
      batch = reader.read_after(from, chunk);
    }
    return kept;
  }

  result<entries> batch =
      q.how == jq::tail_query::mode::before ? reader.read_before(q.before, chunk) : reader.read_tail(chunk);
  for (;;) {
    if (!batch) return batch.error();
    if (batch->empty()) break;
    std::string from = batch->front().cursor;  // before entries are moved out of the batch
    bool full = false;
    for (auto it = batch->rbegin(); it != batch->rend() && !full; ++it) {
      if (keep(*it)) kept.push_back(std::move(*it));
      full = kept.size() >= q.lines;
    }
    scanned += batch->size();
    if (full || batch->size() < chunk || scanned_enough(scanned)) break;
    if (stopping.load(std::memory_order_relaxed)) return stopped();
    batch = reader.read_before(from, chunk);
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

}  // namespace

// While the first caller opens the manager, later callers wait for `done`, which is set when the
// open has finished, either way. Each attempt has its own event; waiters keep theirs alive.
struct systemd_service::opening {
  std::shared_ptr<one_shot_event> done;
};

systemd_service::systemd_service(asio::io_context& io, metrics& counters, pool::work_queue& scans)
    : io_(io), logs_(io, counters), scans_(scans), opening_(std::make_unique<opening>()) {}

systemd_service::~systemd_service() = default;

asio::awaitable<result<systemd::systemd_manager*>> systemd_service::manager(systemd::bus_connection* bus) {
  if (manager_) co_return manager_.get();
  if (closed_) co_return problem::unavailable("the server is stopping");
  if (bus == nullptr) co_return problem::unavailable("D-Bus is not connected; see /ready");
  if (opening_->done) {
    auto done = opening_->done;
    (void)co_await done->wait();
    if (manager_) co_return manager_.get();
    co_return problem::unavailable("the systemd manager could not be reached");
  }
  opening_->done = std::make_shared<one_shot_event>(io_.get_executor());
  // A named argument, not the default one: GCC 12 frees a defaulted by-value coroutine argument
  // while the coroutine still refers to it (ASan, heap-use-after-free).
  systemd::manager_options options;
  result<std::unique_ptr<systemd::systemd_manager>> opened = problem::unavailable("not opened");
  if (prepared_) {
    std::unique_ptr<systemd::systemd_manager> prepared = std::move(prepared_);
    auto subscribed = co_await prepared->subscribe();
    if (subscribed) {
      opened = std::move(prepared);
    } else {
      opened = subscribed.error();
    }
  } else {
    opened = co_await systemd::systemd_manager::open(*bus, options);
  }
  std::exchange(opening_->done, nullptr)->set();
  if (!opened) co_return opened.error();
  if (closed_) co_return problem::unavailable("the server is stopping");
  manager_ = std::move(*opened);
  co_return manager_.get();
}

void systemd_service::prepare(systemd::bus_connection* bus) {
  if (bus == nullptr || manager_ || prepared_) return;
  systemd::manager_options options;
  auto created = systemd::systemd_manager::create(*bus, std::move(options));
  if (!created) {
    log::warning("systemd manager: " +
                 (created.error().internal.empty() ? created.error().detail : created.error().internal));
    return;
  }
  prepared_ = std::move(*created);
}

asio::awaitable<result<systemd_service::unit_summary>> systemd_service::summary(systemd::bus_connection* bus) {
  constexpr auto fresh_for = std::chrono::seconds(2);
  auto now = std::chrono::steady_clock::now();
  if (summary_ && now - summary_at_ < fresh_for) co_return *summary_;
  auto manager = co_await this->manager(bus);
  if (!manager) co_return manager.error();
  std::vector<std::string> states;
  std::vector<std::string> patterns{std::string(units::package_unit_prefix) + "*",
                                    std::string(units::system_unit_prefix) + "*"};
  auto listed = co_await (*manager)->list_units_by_patterns(std::move(states), std::move(patterns));
  if (!listed) co_return listed.error();
  std::unordered_map<std::string_view, std::string_view> state_of;
  for (const auto& u : *listed) state_of.emplace(u.name, u.active_state);
  unit_summary counted;
  for (const auto& u : *listed) {
    auto kind = units::classify_unit(u.name);
    unit_counts* bucket = nullptr;
    std::string_view state = u.active_state;
    if (kind == units::unit_kind::package_service) {
      bucket = &counted.packages;
      auto controller = state_of.find(units::network_unit_of(u.name));
      state = units::combine_package_state(
                  state, controller == state_of.end() ? std::nullopt : std::optional(controller->second))
                  .active_state;
    } else if (kind == units::unit_kind::system_service) {
      bucket = &counted.system;
    }
    if (bucket == nullptr) continue;
    ++bucket->total;
    if (state == "failed") {
      ++bucket->failed;
    } else if (state == "active") {
      ++bucket->active;
    }
  }
  summary_ = counted;
  summary_at_ = std::chrono::steady_clock::now();
  co_return counted;
}

std::unique_ptr<systemd::systemd_manager> systemd_service::release_manager() {
  summary_.reset();
  // A manager prepared on the lost connection and never opened goes with that connection too.
  if (!manager_) return std::move(prepared_);
  prepared_.reset();
  return std::move(manager_);
}

asio::awaitable<result<entries>> systemd_service::tail(jq::tail_query query) {
  if (closed_ || stopping_->load()) co_return problem::unavailable("the server is stopping");
  // Everything the job touches is its own (the query, the flag's shared owner): it may outlive
  // the request if the request is cancelled meanwhile.
  // A tail is an interactive read: after 5 s the scan answers what it found (as at the entry
  // limit), well inside the route's deadline (server/router.hpp) and a client's patience.
  const auto give_up_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto scan = [query = std::move(query), stopping = stopping_, give_up_at]() -> result<entries> {
    auto opened = journal::journal_scanner::open();
    if (!opened) return opened.error();
    if (!query.unit.empty()) {
      std::vector<std::string> units{query.unit};
      if (auto ok = (*opened)->match_units(units); !ok) return ok.error();
    }
    return collect_tail(**opened, query, *stopping, give_up_at);
  };
  auto done = co_await scans_.run(std::move(scan));
  if (!done) co_return done.error();
  co_return std::move(*done);
}

void systemd_service::stop_streams() {
  stopping_->store(true);
  logs_.stop();
}

void systemd_service::close() {
  closed_ = true;
  stopping_->store(true);
  prepared_.reset();
  logs_.stop();
  manager_.reset();
  if (opening_->done) opening_->done->set();
}

}  // namespace sc::server
