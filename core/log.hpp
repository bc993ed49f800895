#pragma once
// Minimal leveled logging to stderr with sd-daemon priority prefixes ("<3>" …), which journald
// turns into PRIORITY when the controller runs as a unit. Never log secrets: callers pass
// already-redacted text (problem::internal is written for logs, problem::detail for clients).

#include <string_view>

namespace sc::log {

enum class level { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void set_threshold(level max_level) noexcept;
bool enabled(level l) noexcept;
void write(level l, std::string_view message) noexcept;

inline void error(std::string_view m) noexcept {
  write(level::error, m);
}
inline void warning(std::string_view m) noexcept {
  write(level::warning, m);
}
inline void info(std::string_view m) noexcept {
  write(level::info, m);
}
inline void debug(std::string_view m) noexcept {
  write(level::debug, m);
}

}  // namespace sc::log
