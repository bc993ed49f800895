#pragma once
// Question answers (behavior-ops.md §6.1 "Questions"): validation and normalisation per type, and
// the answers generated when one is missing or "auto" (ports from the free range, 64-hex secrets,
// hostnames, boolean defaults).

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/packages/definition.hpp"
#include "core/packages/template.hpp"

namespace sc::packages {

// The value a valid answer substitutes for its marker: ports and booleans normalised, hostnames
// lowercased, bytes as a byte count, durations as seconds. nullopt: the answer does not match the
// type. Answers never hold control characters other than TAB (they reach unit files and argv).
std::optional<std::string> normalize_answer(const question_spec& question, std::string_view answer);

// ParseBytes: a bare integer, or <int>kb|mb|gb|tb (1024-based, case-insensitive; "k", "m", … too).
std::optional<std::uint64_t> parse_bytes(std::string_view text) noexcept;
// <int> or <int>s|m|h|d, in seconds.
std::optional<std::uint64_t> parse_duration(std::string_view text) noexcept;
// strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False.
std::optional<bool> parse_bool(std::string_view text) noexcept;

struct auto_answer_context {
  std::string effective_name;  // for generated hostnames
  std::set<int> used_ports;    // ports already answered by installed packages
  // True when the port can be listened on now; the default accepts every port.
  std::function<bool(int)> port_free;
  // Fills the buffer with cryptographically random bytes; the default uses getrandom(2).
  std::function<void(unsigned char*, std::size_t)> random_bytes;
};

// Fills the answers the caller left empty or "auto": a default where one is given, else a
// generated port (10000–60000, up to 100 tries, skipping used and busy ports), hostname
// (<effective>-<4 hex>), secret (64 hex) or boolean (normalised default, or false). Optional
// questions are left alone. Answers for keys that are no question are kept (compile reports them).
marker_values auto_answers(const package_definition& def, marker_values given, auto_answer_context& context);

}  // namespace sc::packages
