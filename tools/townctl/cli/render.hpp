#pragma once
// How townctl shows answers to people: tables for lists, KEY: VALUE lines for objects, a progress
// bar for operations and transfers. Pure functions of their input (the terminal decision is the
// caller's): no escape codes unless `terminal` is true.

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sc::townctl {

// A JSON answer for people. Lists (the {"entries":…} envelope or a bare array) of objects become
// a table with `columns` (comma-separated; "" = the scalar members of the first entries), with a
// "page x of y" footer when there is more; arrays of scalars one per line; objects KEY: VALUE.
std::string render_human(simdjson::dom::element answer, std::string_view columns);

// A text table: a header row, then rows, columns padded to their widest cell.
std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// 1536 → "1.5 KiB".
std::string human_bytes(std::uint64_t bytes);

// One line of a transfer's progress: "12.0 MiB / 40.0 MiB  30%  4.1 MiB/s  ETA 7s". With
// `terminal` it starts with "\r" and a bar and ends with "\x1b[K" (redrawn in place).
std::string transfer_line(std::uint64_t done, std::uint64_t total, std::chrono::steady_clock::duration elapsed,
                          bool terminal);

// The steps an operation goes through, for the bar's length (what the server's lifecycle
// publishes, server/lifecycle.cpp); unknown steps still count.
std::size_t expected_steps(std::string_view operation);
// One progress line for step `index` (1-based) named `step` of `total`: with `terminal`, a bar
// redrawn in place; otherwise "[3/6] installing_services\n".
std::string step_line(std::size_t index, std::size_t total, std::string_view step, bool terminal);

// A journal entry of /systemd/logs as one line: "2026-01-02T03:04:05Z unit: message".
std::string journal_line(simdjson::dom::element entry);

}  // namespace sc::townctl
