#pragma once
// A failed call as the client sees it: the server's problem+json (RFC 9457, core/problem.hpp is
// the server side of the same document) as a typed value, or a transport failure (status 0: no
// HTTP answer at all: refused, reset, timed out). Never carries a credential: the server redacts
// its details, and the client never puts a token or password into one.

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::client {

// What kind of failure, for callers that branch on it (townctl maps it to its exit code).
enum class error_class {
  refused,      // 400, 413, 422, 429 and other 4xx: the request itself was not acceptable
  auth,         // 401, 403
  not_found,    // 404
  conflict,     // 409
  unavailable,  // no answer, or 5xx
};

struct api_error {
  // Not an aggregate: result<T, api_error> must never take a T for an error.
  api_error() = default;
  api_error(int status_code, std::string detail_text) : status(status_code), detail(std::move(detail_text)) {}

  int status = 0;  // the HTTP status; 0 when there was no answer
  std::string type;
  std::string title;
  std::string detail;
  std::vector<field_error> errors;           // per-field messages (422)
  std::vector<std::string> journal;          // a unit's last log lines, when a unit did not start
  std::optional<std::uint32_t> retry_after;  // seconds (429, 503)

  error_class classify() const noexcept;
  // One line for people: "404 Not Found: package gitea is not installed", then one indented line
  // per field error.
  std::string describe() const;
};

template <class T>
using result = boost::system::result<T, api_error>;

// `result<T>::value()` on an error throws this (found by ADL).
struct api_exception : std::exception {
  explicit api_exception(api_error e) : error_(std::move(e)) {}
  const char* what() const noexcept override { return error_.detail.c_str(); }
  api_error error_;
};
[[noreturn]] void throw_exception_from_error(const api_error& e, const boost::source_location& location);

// The error an answer with `status` (>= 300) stands for: its problem+json body when it has one,
// otherwise the status and its reason phrase (a proxy's HTML page is not echoed).
api_error parse_problem(int status, std::string_view body);
// No HTTP answer: status 0, type "about:blank#unavailable".
api_error transport_error(std::string detail);

}  // namespace sc::client
