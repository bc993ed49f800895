#pragma once
// The programs this project executes, from the one list core/required_programs.txt (embedded by
// the build; tools/check-fresh reads the same file). GET /ready checks the `daemon` ones, so a box
// missing podman's network backend says so instead of failing the first install.

#include <cstdint>
#include <span>
#include <string_view>

namespace sc {

// Who executes a program (the "used by" column), as bits.
enum class program_user : std::uint8_t { daemon = 1, sandbox = 2, build = 4, tests = 8, bench = 16 };

struct required_program {
  std::string_view program;  // a bare name (looked up in PATH) or an absolute path
  std::uint8_t users = 0;    // program_user bits
  std::string_view package;  // the Debian package that provides it

  bool used_by(program_user user) const noexcept { return (users & static_cast<std::uint8_t>(user)) != 0; }
};

// Every entry of the list, in file order. Parsed once; the views point into static storage. The
// list is part of the build, so a malformed line aborts at the first call (the core tests call it).
std::span<const required_program> required_programs();

}  // namespace sc
