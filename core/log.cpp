#include "core/log.hpp"

#include <unistd.h>

#include <string>

namespace sc::log {

namespace {
level threshold = level::info;
}

void set_threshold(level max_level) noexcept {
  threshold = max_level;
}
bool enabled(level l) noexcept {
  return static_cast<int>(l) <= static_cast<int>(threshold);
}

void write(level l, std::string_view message) noexcept {
  if (!enabled(l)) return;
  try {
    std::string line = "<" + std::to_string(static_cast<int>(l)) + ">";
    line += message;
    line += '\n';
    // One write(2) per line keeps lines whole when several processes share stderr.
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {
  }
}

}  // namespace sc::log
