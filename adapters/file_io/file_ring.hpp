#pragma once
// Bulk file I/O for the event loop through io_uring, driven by liburing directly (Asio's own
// io_uring backend is broken on Boost 1.81; see DESIGN.md, "The event loop backend").
//
// One small ring per loop. Completions are signalled through an eventfd registered with the ring,
// which the loop waits on like any other descriptor, so the loop thread never blocks and no extra
// thread is needed. When io_uring cannot be set up (disabled by sysctl or seccomp, old kernel) the
// same operations run as pread/pwrite/fsync on a small thread pool instead; `backend_name()`
// tells which one runs, so the server can log it at start.
//
// Contract:
//   - Construct, use and destroy the ring on its loop's thread; every operation must be awaited on
//     that loop's executor and completes there. Not thread-safe. Destroy it before its io_context.
//   - Meant for regular files: offsets are absolute file positions.
//   - At most `entries` operations are in the kernel at once; further ones wait (FIFO) for a slot
//     instead of failing.
//   - The caller keeps `fd` open and the buffer alive until the awaited operation completes, as
//     with any co_await.
//   - Cancellation (e.g. the losing side of `op || timer`): with io_uring, an operation still
//     waiting for room is dropped, and one in the kernel gets an IORING_OP_ASYNC_CANCEL; either
//     way the awaiter resumes only once the kernel has completed the operation (with ECANCELED,
//     or with its real result if it had already finished), so the kernel never touches a buffer
//     after the awaiter has moved on. Regular-file I/O is usually past the point of cancelling and
//     simply completes. The thread-pool fallback cannot interrupt pread/pwrite and ignores
//     cancellation. A whole-buffer read or write stops with the error at the cancelled step.
//   - Destroying the ring with operations in flight is safe: it asks the kernel to cancel them
//     and waits (blocking, briefly) until the kernel has let go of every buffer. Their awaiters
//     then resume on the loop with the operation's own result, or ECANCELED if it was cancelled
//     or never submitted; operations started on a destroyed ring fail with ECANCELED.
//   - Errors are values: a failing syscall (EBADF, ENOSPC, EIO, ...) comes back as
//     problem::internal_error naming the operation and the errno text.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/problem.hpp"

namespace sc::file_io {

struct file_ring_state;  // defined in file_ring.cpp

struct file_ring_options {
  unsigned entries = 64;          // submission queue size = operations in the kernel at once
  bool disable_io_uring = false;  // force the thread-pool fallback (tests; a misbehaving kernel)
  unsigned fallback_threads = 2;  // pool size of the fallback
};

class file_ring {
 public:
  explicit file_ring(boost::asio::any_io_executor loop, file_ring_options options = {});
  ~file_ring();
  file_ring(const file_ring&) = delete;
  file_ring& operator=(const file_ring&) = delete;

  // "io_uring", or "thread_pool" when io_uring could not be set up (or was disabled).
  const char* backend_name() const noexcept;
  // Why the fallback runs ("io_uring_queue_init: Operation not permitted"); empty with io_uring.
  std::string_view fallback_reason() const noexcept;

  // Reads into `buffer` from `offset` until it is full or the file ends. Returns the bytes read:
  // less than buffer.size() only at end of file, 0 when `offset` is at or past it.
  boost::asio::awaitable<sc::result<std::size_t>> read(int fd, std::span<std::byte> buffer, std::uint64_t offset);

  // Writes all of `data` at `offset` (retrying short writes). Returns data.size().
  boost::asio::awaitable<sc::result<std::size_t>> write(int fd, std::span<const std::byte> data, std::uint64_t offset);

  // fsync(2): file data and metadata reach the disk.
  boost::asio::awaitable<sc::result<void>> fsync(int fd);

 private:
  // Shared with pending completion handlers, which may run after the file_ring is gone.
  std::shared_ptr<file_ring_state> state_;
};

}  // namespace sc::file_io
