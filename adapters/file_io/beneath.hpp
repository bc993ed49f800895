#pragma once
// Resolving paths that come from outside (the API, an archive, a package definition, a volume's own
// contents) beneath a directory fd, never by joining strings (DESIGN.md, "Paths from outside never
// escape"). Every lookup goes through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS): a symlink anywhere in the path, including its last component, a ".."
// that climbs out, an absolute path or a magic /proc link is refused by the kernel, race-free. The
// caller then acts on the fds it got (unlinkat, renameat2, fstatat(AT_SYMLINK_NOFOLLOW), ...).
//
// Blocking syscalls of microseconds (path lookups in the dentry cache): fine on the loop thread.
// Thread-safe (no shared state). Every fd is O_CLOEXEC.
//
// Errors are values, mapped for the API: 422 naming `field` for a path that crosses a symlink
// (ELOOP), leaves the root (EXDEV) or is too long (ENAMETOOLONG); 404 for a missing component
// (ENOENT) or a component that is not a directory (ENOTDIR); 503 when the tree kept changing under
// the lookup (EAGAIN after retries); 500 for anything else.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>

#include "core/problem.hpp"

namespace sc::file_io {

// An owned file descriptor (closed on destruction; -1 when empty).
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// What a failed lookup is reported as: `field` names the request member (422s), `what` the thing
// looked up in 404 texts ("filesystem", "path media/x").
struct lookup_names {
  std::string_view field = "path";
  std::string_view what = "path";
};

// openat2(dir, relative, flags | O_CLOEXEC | O_NOFOLLOW, mode) with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS. "" and "." open `dir` itself again. `flags` are
// open(2) flags (O_RDONLY | O_DIRECTORY, O_WRONLY | O_CREAT | O_EXCL, O_PATH, ...); with O_PATH too a
// trailing symlink is refused, not opened.
result<unique_fd> open_beneath(int dir, std::string_view relative, int flags, mode_t mode = 0, lookup_names names = {});

// The directory holding the last component of `relative`, opened beneath `dir` as above, and that
// last component (a single name: no '/', never "", "." or ".."). For acting on a leaf with the *at()
// calls. 422 when `relative` is empty or ends in "." / "..".
struct parent_and_leaf {
  unique_fd parent;
  std::string leaf;
};
result<parent_and_leaf> open_parent_beneath(int dir, std::string_view relative, lookup_names names = {});

// The problem for a failed lookup of `relative` with `error` (an errno), mapped as the header says.
problem lookup_problem(int error, std::string_view relative, lookup_names names);

}  // namespace sc::file_io
