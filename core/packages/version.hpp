#pragma once
// Package versions are compared the way the original compares them (behavior-ops.md §5.5): split
// on '.', segment by segment, numerically when both segments are integers, lexically otherwise; a
// missing segment is the empty string. So 1.10 > 1.9 and 2.0 > 1.10.

#include <string_view>

namespace sc::packages {

// <0, 0, >0 as `a` is lower than, equal to or higher than `b`.
int compare_versions(std::string_view a, std::string_view b) noexcept;

// A version as it may appear in a path: 1–64 characters of [A-Za-z0-9._-], starting with an
// alphanumeric, no "..".
bool valid_version(std::string_view version) noexcept;

// A package or repository name: 1–64 characters of [A-Za-z0-9_-] starting with an alphanumeric,
// never containing "--dep--" (reserved for dependency effective names) nor equal to "subpackages".
bool valid_package_name(std::string_view name) noexcept;

}  // namespace sc::packages
