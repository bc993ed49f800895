#include "adapters/file_io/beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace sc::file_io {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

problem lookup_problem(int error, std::string_view relative, lookup_names names) {
  const std::string field(names.field);
  switch (error) {
    case ELOOP:
      return problem::unprocessable(field, "path passes through a symbolic link; links are never followed");
    case EXDEV:
      return problem::unprocessable(field, "path leaves its root");
    case ENAMETOOLONG:
      return problem::unprocessable(field, "path or one of its components is too long");
    case ENOENT:
      return problem::not_found(std::string(names.what) + " not found");
    case ENOTDIR:
      return problem::not_found(std::string(names.what) + " not found (a component is not a directory)");
    case EAGAIN:
      return problem::unavailable("the directory tree kept changing during the lookup; try again");
    case EDQUOT:
    case ENOSPC:
      return problem::payload_too_large("the subvolume's quota or space is exhausted");
    default:
      return problem::internal_error("openat2 " + std::string(relative) + ": " +
                                     std::generic_category().message(error));
  }
}

namespace {

// With O_DIRECTORY the kernel reports a trailing symlink as ENOTDIR, not ELOOP: look again with
// O_PATH, which (with O_NOFOLLOW) opens the link itself, so that a link is always reported as one.
bool trailing_symlink(int dir, const std::string& path, open_how how) {
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.mode = 0;
  long fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
  if (fd < 0) return false;
  struct stat info {};
  const bool link = ::fstat(static_cast<int>(fd), &info) == 0 && S_ISLNK(info.st_mode);
  ::close(static_cast<int>(fd));
  return link;
}

}  // namespace

result<unique_fd> open_beneath(int dir, std::string_view relative, int flags, mode_t mode, lookup_names names) {
  const std::string path = relative.empty() ? std::string(".") : std::string(relative);
  if (path.find('\0') != std::string::npos) return problem::unprocessable(std::string(names.field), "path holds NUL");
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  // EAGAIN: RESOLVE_BENEATH saw a concurrent rename somewhere on the filesystem and could not
  // prove the walk stayed inside; the kernel asks for a retry.
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
    if (fd >= 0) {
      unique_fd opened(static_cast<int>(fd));
      // O_PATH | O_NOFOLLOW opens a trailing symlink itself instead of failing: refuse it too.
      struct stat info {};
      if ((flags & O_PATH) != 0 && (::fstat(opened.get(), &info) != 0 || S_ISLNK(info.st_mode))) {
        return lookup_problem(ELOOP, relative, names);
      }
      return opened;
    }
    int error = errno;
    if ((error == EAGAIN || error == EINTR) && attempt < 16) continue;
    if (error == ENOTDIR && trailing_symlink(dir, path, how)) error = ELOOP;
    return lookup_problem(error, relative, names);
  }
}

result<parent_and_leaf> open_parent_beneath(int dir, std::string_view relative, lookup_names names) {
  if (!relative.empty() && relative.front() == '/') return lookup_problem(EXDEV, relative, names);
  while (relative.size() > 1 && relative.back() == '/') relative.remove_suffix(1);
  const std::size_t slash = relative.rfind('/');
  std::string_view leaf = slash == std::string_view::npos ? relative : relative.substr(slash + 1);
  std::string_view parent = slash == std::string_view::npos ? std::string_view(".") : relative.substr(0, slash);
  if (leaf.empty() || leaf == "." || leaf == ".." || leaf.size() > 255) {
    return problem::unprocessable(std::string(names.field), "path must end in a name of 1 to 255 bytes");
  }
  auto opened = open_beneath(dir, parent, O_RDONLY | O_DIRECTORY, 0, names);
  if (!opened) return opened.error();
  return parent_and_leaf{std::move(*opened), std::string(leaf)};
}

}  // namespace sc::file_io
