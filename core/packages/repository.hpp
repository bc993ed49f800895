#pragma once
// Package repositories (behavior-ops.md §5): what a repository is, and the rules for its name and
// URL. Credentials are kept apart from the URL from the moment it is parsed: the public URL (no
// userinfo) is what git's argv, logs, errors and the API ever see.

#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::packages {

struct repository {
  std::string name;
  std::string url;       // without credentials
  std::string username;  // shown by GET /repository
  std::string password;  // never shown, searched, logged or put in argv
};

struct parsed_repository_url {
  std::string url;  // scheme://host/path without userinfo
  std::string username;
  std::string password;
};

// Schemes: https, http, ssh, git and file. `file` is accepted because repositories are managed by
// administrators only (who can already read the host's disk through the API) and because local
// mirrors are a real deployment; ext::, fd:: and transport helpers are never accepted. 422 naming
// `url` otherwise (also for control characters, spaces, or a URL starting with '-').
result<parsed_repository_url> parse_repository_url(std::string_view url);

// The name derived from a URL when none is given: the last path segment without ".git".
std::string repository_name_from_url(std::string_view url);

// 1–64 characters of [A-Za-z0-9_-] starting with an alphanumeric (it becomes a directory and part
// of unit names).
bool valid_repository_name(std::string_view name) noexcept;

}  // namespace sc::packages
