#pragma once
// Packing a directory tree into tar.gz / tar.bz2 / tar.xz as a stream (libarchive), for downloads.
// Blocking: run it on the work pool. Output goes into `sink` in chunks of about 64 KiB; when the
// sink is full the packer waits (up to `stall_timeout` per chunk), so memory stays constant for any
// size. Symlinks are stored as symlinks (never followed); member names are relative to `root`.

#include <chrono>
#include <string>
#include <vector>

#include "adapters/archive/byte_pipe.hpp"
#include "core/problem.hpp"
#include "core/storage.hpp"

namespace sc::archive {

struct pack_report {
  std::uint64_t entries = 0;
  std::uint64_t bytes_out = 0;  // compressed bytes handed to the sink
};

// `paths` are validated relative paths (core/storage download_path; "." for the whole root).
// Closes the producer side of `sink` on success, aborts it on failure.
result<pack_report> pack(byte_pipe& sink, const std::string& root, const std::vector<std::string>& paths,
                         storage::archive_format format, std::chrono::milliseconds stall_timeout);

}  // namespace sc::archive
