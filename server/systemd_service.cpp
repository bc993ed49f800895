#include "server/systemd_service.hpp"

#include "adapters/systemd/systemd_manager.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

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

void systemd_service::stop_streams() { logs_.stop(); }

void systemd_service::close() {
  closed_ = true;
  logs_.stop();
  manager_.reset();
  opening_->done.cancel();
}

}  // namespace sc::server
