#pragma once
// The fixture repository's definitions (tests/support/fixtures.hpp finds them). A missing fixture
// is a failure, never a skip.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/fixtures.hpp"

namespace sc::test {

inline std::filesystem::path fixture_root() {
  return fixture_packages();
}

struct fixture_file {
  std::string package;
  std::string version;
  std::filesystem::path path;
};

// gtest prints parameters with this instead of a byte dump (it looks the name up as is).
// NOLINTNEXTLINE(readability-identifier-naming): gtest's printer hook must be called PrintTo
inline void PrintTo(const fixture_file& file, std::ostream* out) {
  *out << file.package << "/" << file.version;
}

// Every packages/<name>/<version>.yaml, sorted.
inline std::vector<fixture_file> fixture_files() {
  std::vector<fixture_file> out;
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator(fixture_root() / "packages", ec)) {
    if (!dir.is_directory()) continue;
    for (const auto& file : std::filesystem::directory_iterator(dir.path())) {
      if (file.path().extension() != ".yaml") continue;
      out.push_back({dir.path().filename().string(), file.path().stem().string(), file.path()});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace sc::test

#include "core/packages/compile.hpp"

namespace sc::test {

inline packages::compile_context context_for(std::string name) {
  packages::compile_context c;
  c.repo = "r";
  c.name = name;
  c.version = "1";
  c.effective_name = std::move(name);
  return c;
}

inline packages::question_spec question(std::string key, std::string type,
                                        std::optional<std::string> default_value = std::nullopt,
                                        bool optional = false) {
  packages::question_spec q;
  q.key = std::move(key);
  q.query = "?";
  q.type = std::move(type);
  q.default_value = std::move(default_value);
  q.optional = optional;
  return q;
}

}  // namespace sc::test
