#include "server/systemd_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "adapters/systemd/systemd_manager.hpp"
#include "core/journal_query.hpp"

namespace sc::server {

namespace asio = boost::asio;

// While the first caller opens the manager, later callers wait on this timer; it is cancelled
// (never expires) when the open has finished, either way.
struct systemd_service::opening {
  explicit opening(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;
  bool in_progress = false;
};

systemd_service::systemd_service(asio::io_context& io, metrics& counters)
    : io_(io), logs_(io, counters), opening_(std::make_unique<opening>(io)) {}

systemd_service::~systemd_service() = default;

asio::awaitable<result<systemd::systemd_manager*>> systemd_service::manager(systemd::bus_connection* bus) {
  if (manager_) co_return manager_.get();
  if (closed_) co_return problem::unavailable("the server is stopping");
  if (bus == nullptr) co_return problem::unavailable("D-Bus is not connected; see /ready");
  if (opening_->in_progress) {
    (void)co_await opening_->done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (manager_) co_return manager_.get();
    co_return problem::unavailable("the systemd manager could not be reached");
  }
  opening_->in_progress = true;
  opening_->done.expires_at(asio::steady_timer::time_point::max());
  // A named argument, not the default one: GCC 12 frees a defaulted by-value coroutine argument
  // while the coroutine still refers to it (ASan, heap-use-after-free).
  systemd::manager_options options;
  auto opened = co_await systemd::systemd_manager::open(*bus, options);
  opening_->in_progress = false;
  opening_->done.cancel();
  if (!opened) co_return opened.error();
  if (closed_) co_return problem::unavailable("the server is stopping");
  manager_ = std::move(*opened);
  co_return manager_.get();
}

asio::awaitable<result<systemd_service::unit_summary>> systemd_service::summary(systemd::bus_connection* bus) {
  constexpr auto fresh_for = std::chrono::seconds(2);
  auto now = std::chrono::steady_clock::now();
  if (summary_ && now - summary_at_ < fresh_for) co_return *summary_;
  auto manager = co_await this->manager(bus);
  if (!manager) co_return manager.error();
  std::vector<std::string> states;
  std::vector<std::string> patterns{std::string(journal_query::package_unit_prefix) + "*",
                                    std::string(journal_query::system_unit_prefix) + "*"};
  auto units = co_await (*manager)->list_units_by_patterns(std::move(states), std::move(patterns));
  if (!units) co_return units.error();
  std::unordered_set<std::string_view> failed_units;
  for (const auto& u : *units) {
    if (u.active_state == "failed") failed_units.insert(u.name);
  }
  unit_summary counted;
  for (const auto& u : *units) {
    auto kind = journal_query::classify_unit(u.name);
    unit_counts* bucket = nullptr;
    bool failed = u.active_state == "failed";
    if (kind == journal_query::unit_kind::package_service) {
      bucket = &counted.packages;
      const std::string controller = journal_query::network_unit_of(u.name);
      failed = failed || failed_units.contains(std::string_view(controller));
    } else if (kind == journal_query::unit_kind::system_service) {
      bucket = &counted.system;
    }
    if (bucket == nullptr) continue;
    ++bucket->total;
    if (failed) {
      ++bucket->failed;
    } else if (u.active_state == "active") {
      ++bucket->active;
    }
  }
  summary_ = counted;
  summary_at_ = std::chrono::steady_clock::now();
  co_return counted;
}

std::unique_ptr<systemd::systemd_manager> systemd_service::release_manager() {
  summary_.reset();
  return std::move(manager_);
}

void systemd_service::stop_streams() {
  logs_.stop();
}

void systemd_service::close() {
  closed_ = true;
  logs_.stop();
  manager_.reset();
  opening_->done.cancel();
}

}  // namespace sc::server
