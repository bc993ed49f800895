#pragma once
// Run one coroutine to completion on a fresh io_context from a test, with a deadline so a hung
// awaitable fails the test instead of hanging the suite.

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <exception>
#include <optional>

namespace sc::test {

namespace detail {

// Runs `io` until `done` is set by the coroutine's completion, or `deadline` passes.
template <class Start>
void run_until_done(boost::asio::io_context& io, std::chrono::milliseconds deadline, bool& done, Start start) {
  boost::asio::steady_timer guard(io, deadline);
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec && !done) io.stop();
  });
  start([&] {
    done = true;
    guard.cancel();
    io.stop();  // long-lived watchers (D-Bus, journal) would keep run() busy forever
  });
  io.restart();
  io.run();
  if (!done) throw std::runtime_error("coroutine did not finish before the test deadline");
}

}  // namespace detail

template <class T>
T run_to_completion(boost::asio::io_context& io, boost::asio::awaitable<T> coroutine,
                    std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  std::optional<T> value;
  std::exception_ptr failure;
  bool done = false;
  detail::run_until_done(io, deadline, done, [&](auto finished) {
    boost::asio::co_spawn(io, std::move(coroutine), [&, finished](const std::exception_ptr& e, T v) {
      failure = e;
      if (!e) value.emplace(std::move(v));
      finished();
    });
  });
  if (failure) std::rethrow_exception(failure);
  return std::move(*value);
}

inline void run_to_completion(boost::asio::io_context& io, boost::asio::awaitable<void> coroutine,
                              std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  std::exception_ptr failure;
  bool done = false;
  detail::run_until_done(io, deadline, done, [&](auto finished) {
    boost::asio::co_spawn(io, std::move(coroutine), [&, finished](const std::exception_ptr& e) {
      failure = e;
      finished();
    });
  });
  if (failure) std::rethrow_exception(failure);
}

}  // namespace sc::test
