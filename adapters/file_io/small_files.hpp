#pragma once
// Whole small files the controller owns (unit files, env files, the DNS zone, the local CA): read
// at once, and written so that a reader sees the old file or the new one, never half of one.
// Paths are the controller's (configuration), not input from outside. Both block: call them off
// the loop or where a few small writes are expected (start-up).

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::file_io {

// Writes `content` to `path` through `<path>.tmp` (opened without following a link, given `mode`),
// fsync and a rename; the temporary file is removed on failure.
result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode);

// The content of `path`; nullopt when it cannot be read.
std::optional<std::string> read_small_file(const std::filesystem::path& path);

}  // namespace sc::file_io
