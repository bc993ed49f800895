#pragma once
// Shared by the libFuzzer targets of tests/fuzz: invariant checks that end the run as a crash
// (so libFuzzer saves the input), and a reader that splits one input into the parts a target needs.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/problem.hpp"

namespace sc::fuzz {

// An invariant the code under test promises; a violation is a finding, reported like a crash.
inline void check(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

// A problem the client could be sent must be a 4xx with a detail, and render as problem+json.
inline void check_client_problem(const problem& p, const char* what) {
  if (p.status < 400 || p.status > 499 || p.detail.empty()) {
    std::fprintf(stderr, "fuzz invariant violated: %s: status %d, detail \"%s\"\n", what, p.status, p.detail.c_str());
    std::abort();
  }
  check(!render_problem_json(p).empty(), "a problem renders");
}

// Consumes an input front to back: single bytes for choices, and separator-delimited pieces.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const noexcept { return rest_.empty(); }
  std::string_view rest() const noexcept { return rest_; }
  // The next byte, or 0 at the end.
  std::uint8_t byte() noexcept {
    if (rest_.empty()) return 0;
    auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Everything up to the next `separator` (consumed), or the whole rest.
  std::string_view piece(char separator) noexcept {
    auto at = rest_.find(separator);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }

 private:
  std::string_view rest_;
};

}  // namespace sc::fuzz
