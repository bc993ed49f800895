#pragma once
// Packing a directory tree into tar.gz / tar.bz2 / tar.xz as a stream (libarchive), for downloads.
// Blocking: run it on the work pool. Output goes into `sink` in chunks of about 64 KiB; when the
// sink is full the packer waits (up to `stall_timeout` per chunk), so memory stays constant for any
// size. Member names are relative to the root.
//
// The tree is hostile (containers and shares write it): it is walked on directory fds, every
// requested path resolved beneath the root with openat2 (adapters/file_io/beneath.hpp) and every
// entry below opened relative to its directory's fd with O_NOFOLLOW. Symlinks inside the tree are
// stored as symlinks, never followed; a requested path that crosses or names a symlink is refused
// (422). A file is read from the fd that was opened and checked to be a regular file, so a swap
// during the walk cannot redirect a read. FIFOs, sockets and devices are stored as headers only.
//
// File data is read with read(2) on the pool thread, not through the loop's io_uring file ring:
// libarchive's compressor runs on this thread and wants each block synchronously; a round trip to
// the loop per 64 KiB block would cost more than the read (page-cache reads of ~10 µs; a ring
// round trip from a pool thread costs ~38 µs per 64 KiB block, bench/file_ring_bench.cpp).

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

// `root` is a directory fd (borrowed, not closed). `paths` are validated relative paths
// (core/storage download_path; "." for the whole root). Closes the producer side of `sink` on
// success, aborts it on failure.
result<pack_report> pack(byte_pipe& sink, int root, const std::vector<std::string>& paths,
                         storage::archive_format format, std::chrono::milliseconds stall_timeout);

}  // namespace sc::archive
