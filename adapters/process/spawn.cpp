#include "adapters/process/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>

#include "adapters/asio/completion.hpp"
#include "adapters/asio/one_shot_event.hpp"
#include "core/required_programs.hpp"

extern char** environ;

namespace sc::process {

namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::posix::stream_descriptor;
using steady_clock = std::chrono::steady_clock;

// After the child exits, output still buffered in the pipes is collected, but a grandchild that
// inherited them could keep them open indefinitely; this bounds how long we wait for their EOF.
constexpr std::chrono::milliseconds output_grace_after_exit{1000};
// The same bound after SIGKILL to the group: only a process that left the group (setsid) can still
// hold the pipes then.
constexpr std::chrono::milliseconds output_grace_after_kill{1000};
// Used when neither the request's environment nor ours has a PATH.
constexpr const char* default_search_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::atomic<std::size_t> running_count{0};
std::atomic<std::uint64_t> awaited_count{0};
std::atomic<std::uint64_t> awaited_nanoseconds{0};

std::string errno_text(int error) {
  return std::system_category().message(error);
}

// glibc 2.36 declares pidfd_open in <sys/pidfd.h> without extern "C", so C++ cannot link to it.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u));
}

// ---------------------------------------------------------------------------------------------
// The global cap on concurrent children. Waiters queue FIFO; a released slot is handed straight
// to the oldest waiter (so a newcomer can never overtake it). Waiters may sit on different
// executors (tests run several io_contexts), hence the mutex and the wake-up posted to the
// waiter's own executor: a steady_timer may only be touched from its executor.

struct slot_waiter {
  explicit slot_waiter(const asio::any_io_executor& executor) : wake(executor) {}
  one_shot_event wake;
  bool granted = false;  // guarded by child_slots::mutex_
};

class child_slots {
 public:
  // Takes a slot now (true) or queues `waiter` to be granted one later (false).
  bool take_or_queue(const std::shared_ptr<slot_waiter>& waiter) {
    std::lock_guard lock(mutex_);
    if (in_use_ < limit_ && queue_.empty()) {
      ++in_use_;
      return true;
    }
    queue_.push_back(waiter);
    return false;
  }

  // The waiter stops waiting (deadline or cancellation). True when a slot was granted to it in
  // the meantime: then it owns that slot and must release it.
  bool withdraw(const std::shared_ptr<slot_waiter>& waiter) {
    std::lock_guard lock(mutex_);
    if (waiter->granted) return true;
    std::erase(queue_, waiter);
    return false;
  }

  void release() {
    std::lock_guard lock(mutex_);
    --in_use_;
    grant_locked();
  }

  std::size_t set_limit(std::size_t limit) {
    std::lock_guard lock(mutex_);
    std::size_t previous = limit_;
    limit_ = std::max<std::size_t>(limit, 1);
    limit_mirror_.store(limit_, std::memory_order_relaxed);
    grant_locked();
    return previous;
  }

  std::size_t limit() const noexcept { return limit_mirror_.load(std::memory_order_relaxed); }

 private:
  void grant_locked() {
    while (in_use_ < limit_ && !queue_.empty()) {
      std::shared_ptr<slot_waiter> waiter = std::move(queue_.front());
      queue_.pop_front();
      waiter->granted = true;
      ++in_use_;
      // The lambda owns the waiter, so the event outlives a waiter that already gave up.
      asio::post(waiter->wake.get_executor(), [waiter] { waiter->wake.set(); });
    }
  }

  std::mutex mutex_;
  std::size_t limit_ = 128;
  std::atomic<std::size_t> limit_mirror_{128};
  std::size_t in_use_ = 0;
  std::deque<std::shared_ptr<slot_waiter>> queue_;
};

child_slots& slots() {
  static child_slots instance;
  return instance;
}

struct slot_lease {
  bool held = false;
  slot_lease() = default;
  slot_lease(const slot_lease&) = delete;
  slot_lease& operator=(const slot_lease&) = delete;
  ~slot_lease() {
    if (held) slots().release();
  }
};

// ---------------------------------------------------------------------------------------------
// File descriptors and the spawn itself (synchronous: posix_spawn returns once the child has
// exec'd or failed to).

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Both ends close-on-exec and numbered 3 or above: the child's dup2 onto 0..2 can then never
// overwrite another pipe end (possible when this process was started with 0..2 closed).
int make_pipe(unique_fd& read_end, unique_fd& write_end) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return errno;
  read_end.reset(ends[0]);
  write_end.reset(ends[1]);
  for (unique_fd* end : {&read_end, &write_end}) {
    if (end->get() > 2) continue;
    int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return errno;
    end->reset(moved);
  }
  return 0;
}

class spawn_file_actions {
 public:
  spawn_file_actions() { ::posix_spawn_file_actions_init(&actions_); }
  ~spawn_file_actions() { ::posix_spawn_file_actions_destroy(&actions_); }
  spawn_file_actions(const spawn_file_actions&) = delete;
  spawn_file_actions& operator=(const spawn_file_actions&) = delete;
  posix_spawn_file_actions_t* get() noexcept { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class spawn_attributes {
 public:
  spawn_attributes() { ::posix_spawnattr_init(&attributes_); }
  ~spawn_attributes() { ::posix_spawnattr_destroy(&attributes_); }
  spawn_attributes(const spawn_attributes&) = delete;
  spawn_attributes& operator=(const spawn_attributes&) = delete;
  posix_spawnattr_t* get() noexcept { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

problem spawn_failure(const spawn_request& request, const char* step, int error) {
  return problem::internal_error("spawn " + request.argv.front() + ": " + step + ": " + errno_text(error));
}

std::string search_path_of(const spawn_request& request) {
  if (request.env) {
    for (const std::string& entry : *request.env) {
      if (entry.starts_with("PATH=")) return entry.substr(5);
    }
    return default_search_path;
  }
  const char* ours = std::getenv("PATH");
  return ours != nullptr ? ours : default_search_path;
}

// posix_spawnp would search PATH from *our* environment and include relative entries ("" means
// the working directory); a daemon must not run whatever sits in its cwd.
int resolve_in(std::string_view name, const std::string& path, std::string& program) {
  if (name.empty()) return ENOENT;
  if (name.find('/') != std::string_view::npos) {
    // Checked here, not left to exec: the exec is setpriv's (below), which could only exit non-zero.
    struct stat info {};
    if (::stat(std::string(name).c_str(), &info) != 0) return errno;
    if (!S_ISREG(info.st_mode) || ::access(std::string(name).c_str(), X_OK) != 0) return EACCES;
    program = name;
    return 0;
  }
  int failure = ENOENT;
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    std::string directory = path.substr(begin, end - begin);
    begin = end + 1;
    if (directory.empty() || directory.front() != '/') continue;
    std::string candidate = directory + "/";
    candidate += name;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    if (::access(candidate.c_str(), X_OK) != 0) {
      failure = EACCES;
      continue;
    }
    program = std::move(candidate);
    return 0;
  }
  return failure;
}

int resolve_program(const spawn_request& request, std::string& program) {
  return resolve_in(request.argv.front(), search_path_of(request), program);
}

// posix_spawn cannot set PR_SET_PDEATHSIG, so every child starts as `setpriv --pdeathsig KILL --
// <program> ...`: setpriv sets it and execs the program in the same process (same pid, same group).
// Without it a child outlived a SIGKILLed controller (a `git clone` kept writing into a
// repository directory after the restarted controller had swept it). The signal follows the
// spawning thread, which is the event loop's and lives as long as the daemon. Empty when this host
// lacks setpriv (util-linux is Essential in Debian, so only a stripped host): then children are
// spawned directly and only the unit's cgroup ends them with the controller.
const std::string& death_signal_wrapper() {
  static const std::string wrapper = [] {
    std::string found;
    return resolve_in("setpriv", default_search_path, found) == 0 ? found : std::string{};
  }();
  return wrapper;
}

struct started_child {
  pid_t pid = -1;
  unique_fd pidfd;
  unique_fd out;  // read end of the child's stdout
  unique_fd err;  // read end of the child's stderr
  unique_fd in;   // write end of the child's stdin, non-blocking; -1 when there is no input
};

sc::result<started_child> start_child(const spawn_request& request) {
  std::string program;
  if (int error = resolve_program(request, program)) {
    // A missing part of the host, not a fault of ours: 503 naming it and its package (from the one
    // list, core/required_programs.txt), as /ready does.
    if (error == ENOENT && request.argv.front().find('/') == std::string::npos) {
      std::string detail = request.argv.front() + " is not installed";
      for (const required_program& known : required_programs()) {
        if (known.program == request.argv.front()) detail += " (Debian package " + std::string(known.package) + ")";
      }
      problem p = problem::unavailable(std::move(detail));
      p.internal = "spawn " + request.argv.front() + ": not found on PATH";
      return p;
    }
    return spawn_failure(request, "program lookup", error);
  }

  started_child child;
  unique_fd out_write, err_write, in_read;
  if (int error = make_pipe(child.out, out_write)) return spawn_failure(request, "pipe2", error);
  if (int error = make_pipe(child.err, err_write)) return spawn_failure(request, "pipe2", error);
  const bool has_input = !request.stdin_data.empty();
  if (has_input) {
    if (int error = make_pipe(in_read, child.in)) return spawn_failure(request, "pipe2", error);
    // Only our end: the child must see an ordinary blocking stdin.
    int flags = ::fcntl(child.in.get(), F_GETFL);
    if (flags < 0 || ::fcntl(child.in.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
      return spawn_failure(request, "fcntl", errno);
    }
  }

  spawn_file_actions actions;
  int rc = has_input ? ::posix_spawn_file_actions_adddup2(actions.get(), in_read.get(), 0)
                     : ::posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(actions.get(), out_write.get(), 1);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(actions.get(), err_write.get(), 2);
  // Asio sockets, sd-journal and sd-bus fds need not be close-on-exec; the child gets 0..2 only.
  if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(actions.get(), 3);
  if (rc == 0 && request.cwd) rc = ::posix_spawn_file_actions_addchdir_np(actions.get(), request.cwd->c_str());
  if (rc != 0) return spawn_failure(request, "file actions", rc);

  spawn_attributes attributes;
  sigset_t all_signals;
  sigfillset(&all_signals);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  // The server ignores SIGPIPE (and may ignore others); exec keeps ignored dispositions, so reset
  // every signal explicitly, and start with nothing blocked.
  rc = ::posix_spawnattr_setsigdefault(attributes.get(), &all_signals);
  if (rc == 0) rc = ::posix_spawnattr_setsigmask(attributes.get(), &no_signals);
  if (rc == 0) rc = ::posix_spawnattr_setpgroup(attributes.get(), 0);
  if (rc == 0) {
    rc = ::posix_spawnattr_setflags(attributes.get(),
                                    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  if (rc != 0) return spawn_failure(request, "attributes", rc);

  static constexpr std::array<const char*, 4> wrapper_options{"setpriv", "--pdeathsig", "KILL", "--"};
  const std::string& wrapper = death_signal_wrapper();
  std::vector<char*> argv;
  argv.reserve(wrapper_options.size() + request.argv.size() + 1);
  if (!wrapper.empty()) {
    for (const char* option : wrapper_options) argv.push_back(const_cast<char*>(option));
    argv.push_back(program.data());  // resolved above: setpriv must not search its own PATH
  } else {
    argv.push_back(const_cast<char*>(request.argv.front().c_str()));
  }
  for (std::size_t i = 1; i < request.argv.size(); ++i) argv.push_back(const_cast<char*>(request.argv[i].c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (request.env) {
    envp.reserve(request.env->size() + 1);
    for (const std::string& entry : *request.env) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
  }

  pid_t pid = -1;
  rc = ::posix_spawn(&pid, wrapper.empty() ? program.c_str() : wrapper.c_str(), actions.get(), attributes.get(),
                     argv.data(), request.env ? envp.data() : environ);
  if (rc != 0) return spawn_failure(request, "posix_spawn", rc);
  running_count.fetch_add(1, std::memory_order_relaxed);
  child.pid = pid;

  int pidfd = open_pidfd(pid);  // close-on-exec by definition
  if (pidfd < 0) {
    int error = errno;
    // Without a pidfd we cannot await it; end it now (it has barely started).
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    running_count.fetch_sub(1, std::memory_order_relaxed);
    return spawn_failure(request, "pidfd_open", error);
  }
  child.pidfd.reset(pidfd);
  return child;
}

// Kills and reaps synchronously if the supervising coroutine's frame is destroyed before it reaped
// the child (the event loop was destroyed mid-run): better a short block at shutdown than a zombie.
struct child_guard {
  pid_t pid = -1;
  bool reaped = false;
  child_guard() = default;
  child_guard(const child_guard&) = delete;
  child_guard& operator=(const child_guard&) = delete;
  ~child_guard() {
    if (pid <= 0 || reaped) return;
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    running_count.fetch_sub(1, std::memory_order_relaxed);
  }
};

// Called once the pidfd is readable, so the child is a zombie and waitpid returns at once.
void reap(child_guard& guard, spawn_outcome& outcome) {
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(guard.pid, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == 0) {  // not reachable by the pidfd contract; never leave a zombie behind regardless
    do {
      got = ::waitpid(guard.pid, &status, 0);
    } while (got < 0 && errno == EINTR);
  }
  guard.reaped = true;
  running_count.fetch_sub(1, std::memory_order_relaxed);
  if (got != guard.pid) return;  // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN)
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.term_signal = WTERMSIG(status);
}

// A write to the child's stdin after it closed it raises SIGPIPE in *this* thread; block it
// around the write and swallow the one we caused, so that neither the process's disposition
// (tests do not ignore SIGPIPE) nor other threads are affected.
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t size, int& error) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  ssize_t written = ::write(fd, data, size);
  error = written < 0 ? errno : 0;
  if (written < 0 && error == EPIPE && !already_pending) {
    timespec no_wait{};
    while (::sigtimedwait(&pipe_only, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return written;
}

// ---------------------------------------------------------------------------------------------
// The concurrent pieces. Each runs as an operand of `||` / `&&` (its own coroutine thread), takes
// its objects by reference from `supervise`'s frame (which awaits the whole group, so they outlive
// it), never throws, and returns normally when cancelled: an operand checks for cancellation
// before each wait because a cancellation emitted while it was not suspended would otherwise be
// lost.

bool cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

struct capture {
  explicit capture(std::size_t limit) : cap(limit) {}
  std::string data;
  std::size_t cap;
  bool truncated = false;
  bool finished = false;  // end of file or a read error: nothing more will come

  void take(const char* bytes, std::size_t size) {
    std::size_t room = cap > data.size() ? cap - data.size() : 0;
    data.append(bytes, std::min(room, size));
    if (size > room) truncated = true;
  }
};

asio::awaitable<void> drain(stream_descriptor& pipe, capture& into) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::array<char, std::size_t{64} * 1024> buffer;
  while (!into.finished && pipe.is_open()) {
    if (cancelled(co_await asio::this_coro::cancellation_state)) co_return;
    auto [ec, size] = co_await pipe.async_read_some(asio::buffer(buffer), io_result);
    into.take(buffer.data(), size);
    if (ec == asio::error::operation_aborted) co_return;  // data stays in the pipe for a later drain
    if (ec) into.finished = true;
  }
}

asio::awaitable<void> feed(stream_descriptor& pipe, const std::string& data) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::size_t done = 0;
  while (pipe.is_open() && done < data.size()) {
    int error = 0;
    ssize_t written = write_without_sigpipe(pipe.native_handle(), data.data() + done, data.size() - done, error);
    if (written > 0) {
      done += static_cast<std::size_t>(written);
      continue;
    }
    if (written < 0 && (error == EAGAIN || error == EINTR)) {
      if (cancelled(co_await asio::this_coro::cancellation_state)) co_return;
      auto [ec] = co_await pipe.async_wait(stream_descriptor::wait_write, io_result);
      if (ec == asio::error::operation_aborted) co_return;
      if (!ec) continue;
    }
    break;  // EPIPE: the child closed its stdin; the rest of the input is not wanted
  }
  boost::system::error_code ignored;
  pipe.close(ignored);  // end of input for the child
}

asio::awaitable<void> wait_exit(stream_descriptor& pidfd, bool& exited) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (exited || cancelled(co_await asio::this_coro::cancellation_state)) co_return;
  auto [ec] = co_await pidfd.async_wait(stream_descriptor::wait_read, io_result);
  if (!ec) exited = true;
}

asio::awaitable<void> sleep_until(steady_clock::time_point when) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (cancelled(co_await asio::this_coro::cancellation_state)) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, when);
  co_await timer.async_wait(io_result);
}

// Leaves the queue if the waiting frame is destroyed without being resumed (its event loop was
// destroyed): a queued waiter whose timer is gone must never be granted a slot.
struct queued_waiter {
  std::shared_ptr<slot_waiter> waiter;
  explicit queued_waiter(std::shared_ptr<slot_waiter> queued) : waiter(std::move(queued)) {}
  queued_waiter(const queued_waiter&) = delete;
  queued_waiter& operator=(const queued_waiter&) = delete;
  ~queued_waiter() {
    if (waiter && slots().withdraw(waiter)) slots().release();
  }
};

// Waits for the slot; true when it is ours. False when `deadline` passed or we were cancelled.
asio::awaitable<bool> acquire_slot(steady_clock::time_point deadline) {
  auto waiter = std::make_shared<slot_waiter>(co_await asio::this_coro::executor);
  if (slots().take_or_queue(waiter)) co_return true;
  queued_waiter queued(waiter);
  co_await waiter->wake.wait_until(deadline);  // ends on grant, deadline or cancellation
  queued.waiter.reset();
  co_return slots().withdraw(waiter);
}

// Any cancellation the caller sends (terminal, partial, total) stops the child; it reaches the
// operands as terminal, which is what their coroutine threads accept by default.
struct any_as_terminal {
  asio::cancellation_type_t operator()(asio::cancellation_type_t type) const noexcept {
    return type != asio::cancellation_type::none ? asio::cancellation_type::terminal : asio::cancellation_type::none;
  }
};

// Runs on its own coroutine thread (see run_process) so that its cancellation handling
// (throw_if_cancelled(false), the filter) does not leak into the caller's thread.
asio::awaitable<sc::result<spawn_outcome>> supervise(spawn_request request) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation(), any_as_terminal{});
  if (request.argv.empty()) co_return problem::internal_error("run_process: empty argv");

  slot_lease lease;
  lease.held = co_await acquire_slot(steady_clock::now() + request.timeout);
  if (cancelled(co_await asio::this_coro::cancellation_state)) {
    co_return problem::unavailable("operation cancelled");
  }
  if (!lease.held) {
    co_return problem::unavailable("too many child processes are running; try again later");
  }

  sc::result<started_child> started = start_child(request);
  if (!started) co_return started.error();
  // .value() rather than ->: GCC 12 at -O3 flags result's operator-> as a possible null.
  started_child child = std::move(started.value());
  const auto deadline = steady_clock::now() + request.timeout;

  child_guard guard;
  guard.pid = child.pid;
  auto executor = co_await asio::this_coro::executor;
  // Declared after the guard: on frame destruction the fds close first, then the guard reaps.
  stream_descriptor pidfd(executor, child.pidfd.release());
  stream_descriptor out(executor, child.out.release());
  stream_descriptor err(executor, child.err.release());
  stream_descriptor in(executor);
  if (child.in.get() >= 0) in.assign(child.in.release());

  capture out_capture(request.max_output);
  capture err_capture(request.max_output);
  bool exited = false;

  // Phase 1: input, output and exit, until the child is done with all of them or time runs out.
  auto first = co_await ((drain(out, out_capture) && drain(err, err_capture) && feed(in, request.stdin_data)) ||
                         wait_exit(pidfd, exited) || sleep_until(deadline));
  bool was_cancelled = cancelled(co_await asio::this_coro::cancellation_state);
  if (!was_cancelled) {
    if (first.index() == 0) {
      co_await (wait_exit(pidfd, exited) || sleep_until(deadline));
    } else if (first.index() == 1) {
      auto collect_until = std::min(deadline, steady_clock::now() + output_grace_after_exit);
      co_await ((drain(out, out_capture) && drain(err, err_capture)) || sleep_until(collect_until));
    }
    was_cancelled = cancelled(co_await asio::this_coro::cancellation_state);
  }

  spawn_outcome outcome;
  outcome.timed_out = !exited && !was_cancelled;
  if (outcome.timed_out || was_cancelled) {
    // Phase 2: end the group. The leader is not reaped yet, so its pid (= the pgid) cannot have
    // been reused and the group signal cannot hit a stranger.
    if (!exited && request.kill_grace.count() > 0) {
      ::kill(-guard.pid, SIGTERM);
      co_await (wait_exit(pidfd, exited) || sleep_until(steady_clock::now() + request.kill_grace));
    }
    ::kill(-guard.pid, SIGKILL);
    if (!exited) {
      // Not cancellable (an empty slot is bound): a killed child must be reaped, and SIGKILL makes
      // this short.
      auto [ec] = co_await pidfd.async_wait(stream_descriptor::wait_read,
                                            asio::bind_cancellation_slot(asio::cancellation_slot(), io_result));
      exited = !ec;
    }
    co_await ((drain(out, out_capture) && drain(err, err_capture)) ||
              sleep_until(steady_clock::now() + output_grace_after_kill));
  }

  reap(guard, outcome);
  if (was_cancelled) co_return problem::unavailable("operation cancelled");
  outcome.out = std::move(out_capture.data);
  outcome.err = std::move(err_capture.data);
  outcome.out_truncated = out_capture.truncated;
  outcome.err_truncated = err_capture.truncated;
  co_return outcome;
}

}  // namespace

asio::awaitable<sc::result<spawn_outcome>> run_process(spawn_request request) {
  auto executor = co_await asio::this_coro::executor;
  const auto started = steady_clock::now();
  // co_spawn forwards our cancellation slot into supervise's thread.
  auto outcome = co_await asio::co_spawn(executor, supervise(std::move(request)), asio::use_awaitable);
  awaited_count.fetch_add(1, std::memory_order_relaxed);
  awaited_nanoseconds.fetch_add(
      static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(steady_clock::now() - started).count()),
      std::memory_order_relaxed);
  co_return outcome;
}

std::size_t running_children() noexcept {
  return running_count.load(std::memory_order_relaxed);
}

children_totals children_awaited() noexcept {
  return {awaited_count.load(std::memory_order_relaxed), awaited_nanoseconds.load(std::memory_order_relaxed)};
}

std::size_t set_max_children(std::size_t limit) {
  return slots().set_limit(limit);
}

std::size_t max_children() noexcept {
  return slots().limit();
}

std::optional<std::string> find_program(std::string_view program) {
  std::string found;
  if (resolve_in(program, search_path_of(spawn_request{}), found) != 0) return std::nullopt;
  struct stat info {};
  if (::stat(found.c_str(), &info) != 0 || !S_ISREG(info.st_mode) || ::access(found.c_str(), X_OK) != 0) {
    return std::nullopt;
  }
  return found;
}

}  // namespace sc::process
