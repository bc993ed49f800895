#pragma once
// Validation of every name that reaches a path, a unit file or argv. Nothing outside core decides
// whether a name is safe; adapters take already-validated names.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc {

// A systemd unit name: `^[a-zA-Z0-9@._-]+\.(service|timer|mount|socket|target|slice|scope)$`,
// at most 255 bytes, not starting with '-' or '.' (so it can never be read as an option).
result<void> validate_unit_name(std::string_view name);

// A relative path of `[A-Za-z0-9._-]` components: no empty, "." or ".." component, no leading '/',
// no NUL, at most 255 bytes per component and 4096 in all (the kernel's NAME_MAX and PATH_MAX, so
// a name that passes never reaches a syscall as ENAMETOOLONG). Used for subvolume names and paths
// inside them.
result<void> validate_relative_path(std::string_view path);

// `root / relative`, lexically normalised, refused unless it stays at or under `root`.
// `root` must be absolute. This is a lexical check: callers that follow symlinks must open with
// O_NOFOLLOW / openat2(RESOLVE_BENEATH) as well.
result<std::filesystem::path> join_under(const std::filesystem::path& root, std::string_view relative);

// True when `text` holds a control character other than TAB (a newline in a unit file or argv
// would inject a directive).
bool has_control_characters(std::string_view text) noexcept;

}  // namespace sc
