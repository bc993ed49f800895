#pragma once
// The one way this project runs a child process (btrfs, podman, git, ...): posix_spawn with an
// explicit argv (no shell), awaited on the caller's event loop through a pidfd. See DESIGN.md,
// "Known pitfalls" (Spawning) for why not Boost.Process.
//
// What every child gets, whatever the request says:
//   - exactly fds 0, 1, 2: stdin is a pipe fed with `stdin_data` (or /dev/null when it is empty),
//     stdout and stderr are pipes captured up to `max_output` bytes each; every other fd is closed
//     in the child (close_range from 3), even ones the parent forgot to mark close-on-exec;
//   - every signal at its default disposition (the server ignores SIGPIPE; children must not) and
//     an empty signal mask;
//   - its own process group (pgid = its pid), so a timeout or a cancellation kills it together with
//     everything it started in that group (SIGKILL to the group, after an optional SIGTERM grace).
//   - SIGKILL when the controller dies (PR_SET_PDEATHSIG, set by `setpriv --pdeathsig KILL`, which
//     execs the program in place): no child outlives a crashed or SIGKILLed daemon.
//
// At most `max_children()` children run at once across the whole process (default 128); further
// calls wait their turn in FIFO order.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::process {

struct spawn_request {
  // argv[0] is the program: a path containing '/' is used as is; a bare name is looked up in the
  // absolute directories of PATH (the child's PATH when `env` is given, else ours; empty and
  // relative entries are skipped, so the working directory is never searched).
  std::vector<std::string> argv;
  // "KEY=value" entries; nullopt inherits this process's environment.
  std::optional<std::vector<std::string>> env;
  // Working directory of the child; nullopt keeps ours.
  std::optional<std::string> cwd;
  // Written to the child's stdin, which is then closed. A child that exits without reading it is
  // fine (the rest is dropped; this process gets no SIGPIPE).
  std::string stdin_data;
  // How long the child may run, counted from the spawn. The same duration also bounds the wait for
  // a free child slot before the spawn (then the result is problem::unavailable).
  std::chrono::milliseconds timeout{30000};
  // On timeout or cancellation: 0 sends SIGKILL to the group at once; otherwise SIGTERM first and
  // SIGKILL after this grace.
  std::chrono::milliseconds kill_grace{0};
  // Bytes kept of stdout and of stderr, each. Output beyond it is read and discarded (so a chatty
  // child never blocks on a full pipe) and the matching `*_truncated` flag is set.
  std::size_t max_output = std::size_t{1} << 20;
};

struct spawn_outcome {
  int exit_code = -1;      // the child's exit status; -1 when it was ended by a signal
  int term_signal = 0;     // the signal that ended it (SIGKILL after a timeout), else 0
  bool timed_out = false;  // the timeout expired and the group was killed
  std::string out;
  std::string err;
  bool out_truncated = false;
  bool err_truncated = false;

  bool ok() const noexcept { return exit_code == 0 && !timed_out; }
};

// Spawns `request.argv` and completes when the child has exited and been reaped, and its output
// has been collected. Must be awaited on the executor of the thread that runs the event loop; it
// completes on that executor.
//
// Returns an error only when the child could not be started: a program not found on PATH is 503
// problem::unavailable naming it and its package ("git is not installed (Debian package git)";
// /ready says the same, see find_program), any other failure (non-executable program, bad cwd, fd
// exhaustion) is problem::internal_error carrying the errno text; or when no child slot became
// free within `timeout` (problem::unavailable), or when the awaiting coroutine was cancelled
// (problem::unavailable). A child that runs and fails is a value: look at `exit_code`,
// `term_signal`, `timed_out`.
//
// Cancellation (of any type that reaches it, e.g. the losing side of `op || timer`): the child's
// process group gets the kill sequence above, the child is reaped and all pipes are closed before
// the coroutine completes, so nothing leaks. After a normal exit, output is collected until the
// pipes close, but at most one more second: a grandchild that keeps the pipes open does not hold
// the caller up (it is left running; only a timeout or a cancellation kills the group).
//
// If the event loop is destroyed while a child runs, the child's group is killed and the child
// reaped synchronously while the coroutine frame is destroyed.
boost::asio::awaitable<sc::result<spawn_outcome>> run_process(spawn_request request);

// Children spawned and not yet reaped, across the process (for /metrics). Thread-safe.
std::size_t running_children() noexcept;
// Children run to completion so far, and the wall time callers spent awaiting them (run_process
// from call to return), across the process (for /metrics; bench/install.sh splits an install's
// time by them). Thread-safe.
struct children_totals {
  std::uint64_t count = 0;
  std::uint64_t wait_nanoseconds = 0;
};
children_totals children_awaited() noexcept;

// The cap on concurrently running children (default 128, at least 1). Changing it takes effect at
// once: raising it admits waiting callers. Returns the previous cap. Thread-safe.
std::size_t set_max_children(std::size_t limit);
std::size_t max_children() noexcept;

// Where a spawn without `env` would find `program` (the lookup of spawn_request::argv[0]), or
// nullopt when it is missing or not an executable regular file there. Blocks on a few stat calls.
std::optional<std::string> find_program(std::string_view program);

}  // namespace sc::process
