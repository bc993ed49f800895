#include "core/packages/version.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>

namespace sc::packages {

namespace {

std::string_view next_segment(std::string_view& rest) {
  auto dot = rest.find('.');
  std::string_view segment = rest.substr(0, dot);
  rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  return segment;
}

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Integers of any length compare by value without overflow: strip leading zeros, then longer is
// bigger, then lexical.
int compare_numeric(std::string_view a, std::string_view b) noexcept {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

bool is_alnum(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) noexcept {
  while (!a.empty() || !b.empty()) {
    std::string_view left = next_segment(a);
    std::string_view right = next_segment(b);
    int order = 0;
    if (all_digits(left) && all_digits(right)) {
      order = compare_numeric(left, right);
    } else {
      int c = left.compare(right);
      order = c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (order != 0) return order;
  }
  return 0;
}

bool valid_version(std::string_view version) noexcept {
  if (version.empty() || version.size() > 64 || !is_alnum(version.front())) return false;
  if (version.find("..") != std::string_view::npos) return false;
  for (char c : version) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool valid_package_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64 || !is_alnum(name.front())) return false;
  if (name.find("--dep--") != std::string_view::npos || name == "subpackages") return false;
  for (char c : name) {
    if (!is_alnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace sc::packages
