#pragma once
// The one error type. Expected failures travel as values (`sc::result<T>`); the HTTP edge renders
// them as RFC 9457 problem+json. `detail` is what the client sees (sanitised once more when
// rendered); `internal` is only ever logged.

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sc {

struct field_error {
  std::string field;    // JSON path of the offending member, e.g. "fields.email"
  std::string message;  // human text, never echoes a secret value
};

struct problem {
  // Not an aggregate on purpose: result<T, problem> must never take a T for a problem.
  problem() = default;
  problem(int status_code, std::string detail_text) : status(status_code), detail(std::move(detail_text)) {}

  int status = 500;
  std::string detail;
  std::string internal;
  std::vector<field_error> errors;           // rendered as "errors" (422 mostly)
  std::optional<std::uint32_t> retry_after;  // seconds; rendered as a Retry-After header (429, 503)
  // The last lines of a unit's journal, when a unit did not start (rendered as "journal").
  std::vector<std::string> journal;

  static problem bad_request(std::string detail);
  static problem unauthorized(std::string detail);
  static problem forbidden(std::string detail);
  static problem not_found(std::string detail);
  static problem method_not_allowed();
  static problem conflict(std::string detail);
  static problem payload_too_large(std::string detail);
  static problem unsupported_media_type(std::string detail);
  static problem unprocessable(std::string field, std::string message);
  static problem too_many_requests(std::string detail, std::uint32_t retry_after_seconds);
  static problem unavailable(std::string detail);
  static problem bad_gateway(std::string detail);  // a server the controller relies on answered wrongly
  static problem gateway_timeout(std::string detail);
  // A fault of ours, not the client's: the client sees a fixed text, `internal` is logged.
  static problem internal_error(std::string internal);
};

template <class T>
using result = boost::system::result<T, problem>;

// `result<T>::value()` on an error throws this (found by ADL). Handlers may throw it too; the edge
// renders it like a returned problem.
struct problem_exception : std::exception {
  explicit problem_exception(problem p) : problem_(std::move(p)) {}
  const char* what() const noexcept override { return problem_.detail.c_str(); }
  problem problem_;
};
[[noreturn]] void throw_exception_from_error(const problem& p, const boost::source_location& location);

// The HTTP reason phrase for a status ("Unprocessable Entity"), as Go's http.StatusText.
std::string_view reason_phrase(int status) noexcept;

// Rewrites `password=…`, `"token": "…"` and the like to `password=[REDACTED]`, so that a detail can
// never carry a credential even when it quotes client input (behavior-core.md §3).
std::string redact_secrets(std::string_view text);

// `{"type":"about:blank#<status>","title":…,"status":…,"detail":…[,"errors":[…]]}` + '\n'.
std::string render_problem_json(const problem& p);

}  // namespace sc
