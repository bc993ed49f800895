#pragma once
// Unpacking an archive that arrives as a stream (tar, tar.gz/.bz2/.xz, zip; detected by content)
// into a directory, treating the archive as hostile. Blocking: run it on the work pool.
//
// What it guarantees, whatever the archive says:
//   * every member path is checked by core/storage (no absolute path, no "..", no NUL) and then
//     resolved under the target fd one component at a time with O_NOFOLLOW: nothing is written
//     through a symlink, so a "link -> /etc" member followed by "link/passwd" is refused;
//   * symlinks must resolve (lexically) inside the target; hardlinks must name a member path
//     inside the target and are made without following symlinks;
//   * device nodes, FIFOs and sockets are skipped (counted); setuid/setgid/sticky bits are dropped;
//     owners are never taken from the archive (files belong to the server's user);
//   * at most `max_entries` members and `max_bytes` bytes of file data (declared sizes are checked
//     before writing, so a sparse 1 TiB member is refused at once); a quota hit (EDQUOT/ENOSPC)
//     is reported as such;
//   * the deadline is checked between reads and writes; on any failure everything this run created
//     is removed again (files it overwrote stay overwritten).
// Failures: 400 not an archive / corrupt, 422 a member refused (names it), 413 too many members,
// too many bytes or quota exceeded, 408 deadline passed, 500 unexpected I/O errors.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "adapters/archive/byte_pipe.hpp"
#include "core/problem.hpp"

struct archive;

namespace sc::archive {

// libarchive's message for the last error on `a`; libarchive returns NULL when it set none (seen
// with a mutated 7z), which must never reach a std::string.
std::string error_text(struct ::archive* a);

struct extract_limits {
  std::uint64_t max_bytes = 0;  // total file data
  std::uint64_t max_entries = 100'000;
  std::chrono::steady_clock::time_point deadline;
};

struct extract_report {
  std::uint64_t entries = 0;  // members created or updated
  std::uint64_t bytes = 0;    // file data written
  std::uint64_t skipped = 0;  // device nodes, FIFOs, sockets
  std::string format;         // libarchive's name of the format, e.g. "GNU tar format"
};

// Reads the archive from `source` (pop_blocking until the producer closes) and unpacks it under
// `subpath` of the directory `target` (an fd, borrowed, not closed: the volume as the caller
// resolved it beneath its root; the validated `subpath` components are created as needed, without
// following symlinks). Closes the consumer side of `source` when done.
//
// Member data is written with pwrite(2) on the pool thread, not through the loop's io_uring file
// ring: libarchive decodes on this thread and hands out one block at a time, valid only until the
// next read; sending each block to the loop and waiting for its completion would add a thread
// round trip per 64 KiB block for a page-cache write (bench/file_ring_bench.cpp: a 64 KiB pwrite
// takes ~10 µs here, the same write through the ring from a pool thread ~38 µs).
result<extract_report> extract(byte_pipe& source, int target, const std::vector<std::string>& subpath,
                               const extract_limits& limits);

}  // namespace sc::archive
