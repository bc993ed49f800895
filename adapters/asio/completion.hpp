#pragma once
// The two completion tokens of the code base (STYLE.md §7), and the completion every detached
// `co_spawn` uses.
//
//   auto [ec, n] = co_await stream.async_read_some(buffer, sc::io_result);  // errors are values
//   auto n = co_await stream.async_read_some(buffer, boost::asio::use_awaitable);  // errors throw
//   boost::asio::co_spawn(executor, job(), sc::log_escaped{"refresh job"});

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <string>

#include "core/log.hpp"

namespace sc {

// Non-throwing: for I/O whose errors are control flow (EOF, cancellation, reset). The operation
// completes with a tuple whose first element is the error_code.
inline constexpr boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>> io_result{};

// Throwing: everywhere else, Asio's own `boost::asio::use_awaitable`.

// The completion of a `co_spawn` that nobody awaits: an exception escaping the coroutine is
// logged with `what` (a string literal: it is not copied) instead of vanishing (`detached`) or
// terminating the loop.
struct log_escaped {
  const char* what;
  void operator()(const std::exception_ptr& escaped) const noexcept {
    if (!escaped) return;
    try {
      std::rethrow_exception(escaped);
    } catch (const std::exception& e) {
      log::error(std::string(what) + ": " + e.what());
    } catch (...) {
      log::error(std::string(what) + ": unknown exception");
    }
  }
};

}  // namespace sc
