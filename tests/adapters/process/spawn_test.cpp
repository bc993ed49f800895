#include "adapters/process/spawn.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/asio/completion.hpp"
#include "adapters/asio/one_shot_event.hpp"
#include "tests/support/loop.hpp"
#include "tests/support/sandbox.hpp"

extern char** environ;

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sc::process::run_process;
using sc::process::spawn_outcome;
using sc::process::spawn_request;
using steady_clock = std::chrono::steady_clock;

spawn_request make_request(std::vector<std::string> argv) {
  spawn_request request;
  request.argv = std::move(argv);
  request.timeout = 20s;
  return request;
}

sc::result<spawn_outcome> run(spawn_request request) {
  asio::io_context io;
  return sc::test::run_to_completion(io, run_process(std::move(request)));
}

spawn_outcome run_ok(spawn_request request) {
  sc::result<spawn_outcome> result = run(std::move(request));
  if (!result) {
    ADD_FAILURE() << "spawn failed: " << result.error().internal << " " << result.error().detail;
    return {};
  }
  return *result;
}

// Runs every coroutine at once on `io`; returns when all have finished, failing the test if they
// do not within `deadline`.
void run_concurrently(asio::io_context& io, std::vector<asio::awaitable<void>> tasks,
                      std::chrono::milliseconds deadline = 60s) {
  std::size_t remaining = tasks.size();
  bool expired = false;
  asio::steady_timer guard(io, deadline);
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      expired = true;
      io.stop();
    }
  });
  for (auto& task : tasks) {
    asio::co_spawn(io, std::move(task), [&](const std::exception_ptr& failure) {
      if (failure) {
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          ADD_FAILURE() << "task threw: " << e.what();
        }
      }
      if (--remaining == 0) guard.cancel();
    });
  }
  io.run();
  EXPECT_FALSE(expired) << remaining << " tasks still running at the deadline";
}

// Stores the result of one run in `slot` (owned by the test, which outlives the io_context run).
asio::awaitable<void> run_into(spawn_request request, sc::result<spawn_outcome>& slot) {
  slot = co_await run_process(std::move(request));
}

bool process_has_exited(pid_t pid, std::chrono::milliseconds within) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u));  // <sys/pidfd.h> lacks extern "C" in glibc 2.36
  if (pidfd < 0) return errno == ESRCH;                              // gone and reaped
  pollfd readable{pidfd, POLLIN, 0};
  // A killed process may still be a zombie waiting for its new parent to reap it: exited is what
  // matters, and the pidfd turns readable exactly then.
  int ready = ::poll(&readable, 1, static_cast<int>(within.count()));
  ::close(pidfd);
  return ready == 1;
}

TEST(Process, ReportsExitCodes) {
  EXPECT_EQ(run_ok(make_request({"/bin/true"})).exit_code, 0);
  spawn_outcome seven = run_ok(make_request({"/bin/sh", "-c", "exit 7"}));
  EXPECT_EQ(seven.exit_code, 7);
  EXPECT_EQ(seven.term_signal, 0);
  EXPECT_FALSE(seven.ok());
  EXPECT_FALSE(seven.timed_out);
}

TEST(Process, ReportsTheSignalThatEndedTheChild) {
  spawn_outcome killed = run_ok(make_request({"/bin/sh", "-c", "kill -TERM $$"}));
  EXPECT_EQ(killed.exit_code, -1);
  EXPECT_EQ(killed.term_signal, SIGTERM);
  EXPECT_FALSE(killed.ok());
}

TEST(Process, CapturesStdoutAndStderrSeparately) {
  spawn_outcome outcome = run_ok(make_request({"/bin/sh", "-c", "echo to-out; echo to-err >&2; echo more-out"}));
  EXPECT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.out, "to-out\nmore-out\n");
  EXPECT_EQ(outcome.err, "to-err\n");
  EXPECT_FALSE(outcome.out_truncated);
  EXPECT_FALSE(outcome.err_truncated);
}

TEST(Process, PassesStdinThrough) {
  spawn_request request = make_request({"/bin/cat"});
  // Larger than a pipe buffer on both sides: input and output must flow concurrently.
  for (int i = 0; request.stdin_data.size() < std::size_t{300} * 1024; ++i)
    request.stdin_data += "line " + std::to_string(i) + "\n";
  spawn_outcome outcome = run_ok(request);
  EXPECT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.out.size(), request.stdin_data.size());
  EXPECT_TRUE(outcome.out == request.stdin_data);
}

TEST(Process, StdinIsDevNullWithoutInput) {
  spawn_outcome outcome = run_ok(make_request({"/bin/cat"}));
  EXPECT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.out, "");
}

TEST(Process, ChildThatIgnoresItsInputDoesNotRaiseSigpipeHere) {
  // This test binary does not ignore SIGPIPE: a careless write to the closed pipe would kill it.
  struct sigaction current {};
  ::sigaction(SIGPIPE, nullptr, &current);
  ASSERT_EQ(current.sa_handler, SIG_DFL);
  spawn_request request = make_request({"/bin/true"});
  request.stdin_data.assign(4 << 20, 'x');
  spawn_outcome outcome = run_ok(request);
  EXPECT_TRUE(outcome.ok());
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST(Process, CapsOutputButKeepsDraining) {
  spawn_request request =
      make_request({"/bin/sh", "-c", "head -c 10485760 /dev/zero; head -c 10485760 /dev/zero >&2; echo tail >&2"});
  spawn_outcome outcome = run_ok(request);
  EXPECT_TRUE(outcome.ok()) << "a child writing past the cap must not block";
  EXPECT_EQ(outcome.out.size(), std::size_t{1} << 20);
  EXPECT_EQ(outcome.err.size(), std::size_t{1} << 20);
  EXPECT_TRUE(outcome.out_truncated);
  EXPECT_TRUE(outcome.err_truncated);

  request.argv = {"/bin/sh", "-c", "echo 0123456789; echo short >&2"};
  request.max_output = 4;
  outcome = run_ok(request);
  EXPECT_EQ(outcome.out, "0123");
  EXPECT_TRUE(outcome.out_truncated);
  EXPECT_EQ(outcome.err, "shor");
}

TEST(Process, TimeoutKillsTheChildAndItsGrandchild) {
  spawn_request request = make_request({"/bin/sh", "-c", "sleep 100 & echo $!; wait"});
  request.timeout = 300ms;
  auto started = steady_clock::now();
  spawn_outcome outcome = run_ok(request);
  auto elapsed = steady_clock::now() - started;
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.term_signal, SIGKILL);
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(sc::process::running_children(), 0u);
  pid_t grandchild = std::atoi(outcome.out.c_str());
  ASSERT_GT(grandchild, 0) << "output: " << outcome.out;
  EXPECT_TRUE(process_has_exited(grandchild, 5s)) << "grandchild " << grandchild << " survived the timeout";
}

TEST(Process, KillGraceSendsSigtermFirst) {
  // The shell traps TERM and exits 3; its background sleep shares the group and is killed too.
  spawn_request request =
      make_request({"/bin/sh", "-c", "trap 'echo got-term; exit 3' TERM; sleep 100 & echo $! >&2; wait"});
  request.timeout = 300ms;
  request.kill_grace = 10s;
  auto started = steady_clock::now();
  spawn_outcome outcome = run_ok(request);
  EXPECT_LT(steady_clock::now() - started, 5s) << "the child exited on SIGTERM; the grace must end early";
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.out, "got-term\n");
  pid_t grandchild = std::atoi(outcome.err.c_str());
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(process_has_exited(grandchild, 5s));
}

TEST(Process, ChildSeesOnlyStandardFds) {
  // A descriptor this process forgot to mark close-on-exec, at a number ls will not reuse
  // (F_DUPFD takes the lowest free one from 100 up, so nobody else's fd is clobbered).
  int opened = ::open("/dev/null", O_RDONLY);  // NOLINT: deliberately not O_CLOEXEC
  ASSERT_GE(opened, 0);
  int leaked = ::fcntl(opened, F_DUPFD, 100);
  ::close(opened);
  ASSERT_GE(leaked, 100);
  ASSERT_EQ(::fcntl(leaked, F_GETFD) & FD_CLOEXEC, 0);

  spawn_outcome outcome = run_ok(make_request({"/bin/ls", "/proc/self/fd"}));
  ::close(leaked);
  ASSERT_TRUE(outcome.ok()) << outcome.err;
  std::set<std::string> fds;
  std::istringstream lines(outcome.out);
  for (std::string line; std::getline(lines, line);) fds.insert(line);
  // 0, 1, 2, and the directory ls itself opened to list /proc/self/fd.
  EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "3"})) << outcome.out;
}

std::string status_field(const std::string& status, const std::string& name) {
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(name + ":")) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return {};
}

TEST(Process, ChildGetsDefaultSignalsAndAnEmptyMask) {
  // What the server does at start: ignore SIGPIPE. And a blocked signal on the spawning thread.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigset_t previous_mask;
  ::pthread_sigmask(SIG_BLOCK, &usr1, &previous_mask);

  spawn_outcome outcome = run_ok(make_request({"/bin/cat", "/proc/self/status"}));

  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_TRUE(outcome.ok());
  unsigned long long ignored = std::stoull(status_field(outcome.out, "SigIgn"), nullptr, 16);
  unsigned long long blocked = std::stoull(status_field(outcome.out, "SigBlk"), nullptr, 16);
  EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << "SIGPIPE is still ignored in the child";
  // Signals 32 and 33 are glibc's own (thread cancellation, setxid); its posix_spawn ignores them
  // in the child on purpose, and no program can use them.
  const unsigned long long glibc_internal = (1ull << 31) | (1ull << 32);
  EXPECT_EQ(ignored & ~glibc_internal, 0u);
  EXPECT_EQ(blocked, 0u);
}

TEST(Process, ChildLeadsItsOwnProcessGroup) {
  spawn_outcome outcome = run_ok(make_request({"/bin/cat", "/proc/self/stat"}));
  ASSERT_TRUE(outcome.ok());
  // pid (comm) state ppid pgrp ...
  std::istringstream fields(outcome.out.substr(outcome.out.rfind(')') + 2));
  std::string state;
  pid_t parent = 0;
  pid_t group = 0;
  fields >> state >> parent >> group;
  pid_t pid = std::atoi(outcome.out.c_str());
  EXPECT_EQ(parent, ::getpid());
  EXPECT_EQ(group, pid);
  EXPECT_NE(group, ::getpgrp());
}

// A child must not outlive a controller that is SIGKILLed mid-run (kill_consistency restarts the
// daemon that way; an orphaned `git clone` kept writing after the restart). A forked copy of this
// test plays the controller: it spawns a shell that records its pid and execs a long sleep.
TEST(Process, ChildDiesWithTheControllerThatSpawnedIt) {
  const std::filesystem::path pid_file =
      std::filesystem::temp_directory_path() / ("sc-pdeathsig-" + std::to_string(::getpid()));
  std::filesystem::remove(pid_file);
  pid_t controller = ::fork();
  ASSERT_GE(controller, 0);
  if (controller == 0) {
    spawn_request request = make_request(
        {"/bin/sh", "-c", "echo $$ > \"$1.tmp\" && mv \"$1.tmp\" \"$1\" && exec sleep 30", "sh", pid_file.string()});
    (void)run(std::move(request));
    ::_exit(0);
  }
  pid_t child = 0;
  for (auto until = steady_clock::now() + 20s; child == 0 && steady_clock::now() < until;) {
    std::ifstream in(pid_file);
    if (!(in >> child)) {
      child = 0;
      std::this_thread::sleep_for(10ms);  // polls for the file, bounded by the deadline above
    }
  }
  ::kill(controller, SIGKILL);
  while (::waitpid(controller, nullptr, 0) < 0 && errno == EINTR) {
  }
  std::filesystem::remove(pid_file);
  ASSERT_GT(child, 0) << "the spawned shell never wrote its pid";
  EXPECT_TRUE(process_has_exited(child, 10s)) << "pid " << child << " outlived its controller";
  if (!process_has_exited(child, 0ms)) ::kill(child, SIGKILL);
}

TEST(Process, UsesEnvAndCwd) {
  spawn_request request = make_request({"/usr/bin/env"});
  request.env = std::vector<std::string>{"FOO=bar", "EMPTY="};
  EXPECT_EQ(run_ok(request).out, "FOO=bar\nEMPTY=\n");

  request = make_request({"/bin/pwd"});
  request.cwd = "/usr/share";
  EXPECT_EQ(run_ok(request).out, "/usr/share\n");

  request.cwd = "/no/such/directory";
  sc::result<spawn_outcome> missing = run(request);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().internal.find("No such file or directory"), std::string::npos) << missing.error().internal;
}

TEST(Process, InheritsEnvironmentByDefault) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
  ASSERT_EQ(::setenv("SC_SPAWN_TEST_MARKER", "inherited", 1), 0);
  spawn_outcome outcome = run_ok(make_request({"/bin/sh", "-c", "echo $SC_SPAWN_TEST_MARKER"}));
  // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
  ::unsetenv("SC_SPAWN_TEST_MARKER");
  EXPECT_EQ(outcome.out, "inherited\n");
}

TEST(Process, SearchesOnlyAbsolutePathEntries) {
  spawn_request request = make_request({"true"});
  request.env = std::vector<std::string>{"PATH=/nonexistent:/usr/bin"};
  EXPECT_TRUE(run_ok(request).ok());

  // An executable in the working directory must not be found through "" or "." in PATH.
  std::string dir = sc::test::make_temp_dir("sc-spawn-path");
  std::string script = dir + "/sc-probe";
  {
    std::ofstream file(script);
    file << "#!/bin/sh\necho found\n";
  }
  ::chmod(script.c_str(), 0755);
  request = make_request({"sc-probe"});
  request.cwd = dir;
  request.env = std::vector<std::string>{"PATH=:.:relative"};
  sc::result<spawn_outcome> result = run(request);
  EXPECT_FALSE(result) << "ran " << script << " from the working directory";
  request.env = std::vector<std::string>{"PATH=" + dir};
  EXPECT_EQ(run_ok(request).out, "found\n");
  std::filesystem::remove_all(dir);
}

TEST(Process, MissingOrNonExecutableProgramIsAnError) {
  sc::result<spawn_outcome> missing = run(make_request({"/nonexistent/sc-binary", "arg"}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().status, 500);
  EXPECT_NE(missing.error().internal.find("No such file or directory"), std::string::npos) << missing.error().internal;
  EXPECT_NE(missing.error().internal.find("/nonexistent/sc-binary"), std::string::npos);

  // A bare name missing from PATH is a missing part of the host, not our fault: 503 naming it, and
  // its Debian package when core/required_programs.txt lists it (/ready says the same).
  sc::result<spawn_outcome> not_in_path = run(make_request({"sc-no-such-program-anywhere"}));
  ASSERT_FALSE(not_in_path);
  EXPECT_EQ(not_in_path.error().status, 503);
  EXPECT_EQ(not_in_path.error().detail, "sc-no-such-program-anywhere is not installed");
  EXPECT_NE(not_in_path.error().internal.find("not found on PATH"), std::string::npos) << not_in_path.error().internal;
  spawn_request git = make_request({"git", "--version"});
  git.env = std::vector<std::string>{"PATH=/nonexistent"};
  sc::result<spawn_outcome> no_git = run(git);
  ASSERT_FALSE(no_git);
  EXPECT_EQ(no_git.error().status, 503);
  EXPECT_EQ(no_git.error().detail, "git is not installed (Debian package git)");

  std::string dir = sc::test::make_temp_dir("sc-spawn-noexec");
  std::string plain = dir + "/plain";
  std::ofstream(plain) << "#!/bin/sh\n";
  ::chmod(plain.c_str(), 0644);
  sc::result<spawn_outcome> denied = run(make_request({plain}));
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().internal.find("Permission denied"), std::string::npos) << denied.error().internal;
  std::filesystem::remove_all(dir);

  sc::result<spawn_outcome> empty = run(make_request({}));
  EXPECT_FALSE(empty);
  EXPECT_EQ(sc::process::running_children(), 0u);
}

// Reads the child's pid from the FIFO it writes to, then returns: as the winner of `||` this
// cancels the run_process on the other side. `pid` belongs to the test body, which awaits us.
asio::awaitable<void> read_pid(std::string fifo_path, pid_t& pid) {
  int fd = ::open(fifo_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open fifo");
  asio::posix::stream_descriptor fifo(co_await asio::this_coro::executor, fd);
  asio::streambuf line;
  for (;;) {
    // A non-blocking FIFO reads EOF until the writer opens it: wait for readability then retry.
    auto [ec, size] = co_await asio::async_read_until(fifo, line, '\n', sc::io_result);
    if (!ec) break;
    if (ec != asio::error::eof) throw boost::system::system_error(ec);
    co_await fifo.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
  }
  std::string text(asio::buffers_begin(line.data()), asio::buffers_end(line.data()));
  pid = std::atoi(text.c_str());
}

asio::awaitable<void> cancel_when_started(spawn_request request, std::string fifo_path, pid_t& pid, int& winner) {
  using namespace asio::experimental::awaitable_operators;
  auto which = co_await (run_process(std::move(request)) || read_pid(std::move(fifo_path), pid));
  winner = static_cast<int>(which.index());
}

TEST(Process, CancellationKillsAndReapsTheChild) {
  std::string dir = sc::test::make_temp_dir("sc-spawn-cancel");
  std::string fifo = dir + "/pid";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  spawn_request request = make_request({"/bin/sh", "-c", "echo $$ > \"$0\"; exec sleep 100", fifo});
  request.timeout = 100s;
  pid_t child = 0;
  int winner = -1;
  asio::io_context io;
  auto started = steady_clock::now();
  sc::test::run_to_completion(io, cancel_when_started(request, fifo, child, winner), 30s);
  EXPECT_LT(steady_clock::now() - started, 10s);
  EXPECT_EQ(winner, 1);
  ASSERT_GT(child, 0);
  // Reaped, not a zombie: kill(pid, 0) succeeds on a zombie.
  EXPECT_EQ(::kill(child, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(::waitpid(child, nullptr, WNOHANG), -1);
  EXPECT_EQ(sc::process::running_children(), 0u);
  std::filesystem::remove_all(dir);
}

TEST(Process, CancellationThroughABoundSlotStopsTheChild) {
  asio::io_context io;
  asio::cancellation_signal signal;
  sc::result<spawn_outcome> result = spawn_outcome{};
  bool done = false;
  spawn_request request = make_request({"/bin/sleep", "100"});
  request.timeout = 100s;
  asio::steady_timer guard(io, 20s);
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  asio::co_spawn(
      io, run_process(request),
      asio::bind_cancellation_slot(signal.slot(), [&](const std::exception_ptr&, sc::result<spawn_outcome> r) {
        result = std::move(r);
        done = true;
        guard.cancel();
      }));
  asio::steady_timer later(io, 100ms);
  later.async_wait([&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); });
  auto started = steady_clock::now();
  io.run();
  EXPECT_LT(steady_clock::now() - started, 10s);
  ASSERT_TRUE(done);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().status, 503);
  EXPECT_EQ(sc::process::running_children(), 0u);
}

TEST(Process, GrandchildHoldingThePipesDoesNotHoldTheCaller) {
  // The background sleep inherits stdout and stderr and outlives the shell by far.
  auto started = steady_clock::now();
  spawn_outcome outcome = run_ok(make_request({"/bin/sh", "-c", "sleep 30 & echo $!; echo done"}));
  auto elapsed = steady_clock::now() - started;
  EXPECT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_LT(elapsed, 5s);
  std::istringstream lines(outcome.out);
  pid_t grandchild = 0;
  std::string second;
  lines >> grandchild >> second;
  EXPECT_EQ(second, "done");
  ASSERT_GT(grandchild, 0);
  // Only a timeout or a cancellation kills the group; clean up here.
  ::kill(grandchild, SIGKILL);
  EXPECT_TRUE(process_has_exited(grandchild, 5s));
}

TEST(Process, DestroyingTheLoopMidRunKillsAndReapsTheChild) {
  std::size_t previous = sc::process::set_max_children(1);
  auto started = steady_clock::now();
  {
    asio::io_context io;
    spawn_request request = make_request({"/bin/sleep", "100"});
    request.timeout = 100s;
    asio::co_spawn(io, run_process(request), asio::detached);
    asio::co_spawn(io, run_process(request), asio::detached);  // queued behind the first
    io.poll();
    EXPECT_EQ(sc::process::running_children(), 1u);
  }
  EXPECT_EQ(sc::process::running_children(), 0u);
  EXPECT_LT(steady_clock::now() - started, 10s);
  // The queued caller left the queue with its loop: the slot is free for the next one.
  spawn_request quick = make_request({"/bin/true"});
  quick.timeout = 2s;
  EXPECT_TRUE(run_ok(quick).ok());
  sc::process::set_max_children(previous);
}

TEST(Process, HundredConcurrentChildrenOnOneLoop) {
  asio::io_context io;
  std::vector<sc::result<spawn_outcome>> results(100);
  std::vector<asio::awaitable<void>> tasks;
  for (std::size_t i = 0; i < results.size(); ++i) {
    tasks.push_back(
        run_into(make_request({"/bin/sh", "-c", "echo $0; echo err-$0 >&2", std::to_string(i)}), results[i]));
  }
  run_concurrently(io, std::move(tasks));
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i]) << i;
    EXPECT_TRUE(results[i]->ok()) << i;
    EXPECT_EQ(results[i]->out, std::to_string(i) + "\n");
    EXPECT_EQ(results[i]->err, "err-" + std::to_string(i) + "\n");
  }
  EXPECT_EQ(sc::process::running_children(), 0u);
}

// Samples running_children() every millisecond until `stop` is set (by the test body, which owns
// both references and outlives the loop).
asio::awaitable<void> sample_running(std::size_t& peak, const bool& stop) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stop) {
    peak = std::max(peak, sc::process::running_children());
    timer.expires_after(1ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> run_batch(std::vector<spawn_request> requests, std::vector<sc::result<spawn_outcome>>& results,
                                bool& stop) {
  auto executor = co_await asio::this_coro::executor;
  std::size_t remaining = requests.size();
  sc::one_shot_event all_done(executor);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    asio::co_spawn(executor, run_into(std::move(requests[i]), results[i]), [&](const std::exception_ptr&) {
      if (--remaining == 0) all_done.set();
    });
  }
  co_await all_done.wait();
  stop = true;
}

TEST(Process, ExcessChildrenWaitForASlot) {
  std::size_t previous = sc::process::set_max_children(3);
  EXPECT_EQ(sc::process::max_children(), 3u);
  asio::io_context io;
  std::vector<spawn_request> requests;
  requests.reserve(9);
  for (int i = 0; i < 9; ++i) requests.push_back(make_request({"/bin/sleep", "0.2"}));
  std::vector<sc::result<spawn_outcome>> results(requests.size());
  std::size_t peak = 0;
  bool stop = false;
  std::vector<asio::awaitable<void>> tasks;
  tasks.push_back(sample_running(peak, stop));
  tasks.push_back(run_batch(std::move(requests), results, stop));
  auto started = steady_clock::now();
  run_concurrently(io, std::move(tasks));
  auto elapsed = steady_clock::now() - started;
  sc::process::set_max_children(previous);
  for (auto& result : results) {
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->ok());
  }
  EXPECT_LE(peak, 3u);
  EXPECT_GE(peak, 1u);
  EXPECT_GE(elapsed, 600ms) << "9 children of 0.2 s through 3 slots take three rounds";
}

TEST(Process, SlotWaitIsBoundedByTheTimeout) {
  std::size_t previous = sc::process::set_max_children(1);
  asio::io_context io;
  std::vector<sc::result<spawn_outcome>> results(2);
  spawn_request holder = make_request({"/bin/sleep", "1"});
  spawn_request hurried = make_request({"/bin/true"});
  hurried.timeout = 100ms;
  std::vector<asio::awaitable<void>> tasks;
  tasks.push_back(run_into(holder, results[0]));
  tasks.push_back(run_into(hurried, results[1]));
  run_concurrently(io, std::move(tasks));
  sc::process::set_max_children(previous);
  ASSERT_TRUE(results[0]);
  EXPECT_TRUE(results[0]->ok());
  ASSERT_FALSE(results[1]);
  EXPECT_EQ(results[1].error().status, 503);
}

asio::awaitable<void> run_sequentially(int count, spawn_request request, int& failures) {
  for (int i = 0; i < count; ++i) {
    sc::result<spawn_outcome> result = co_await run_process(request);
    if (!result || !result->ok()) ++failures;
  }
}

TEST(Process, MeasureSpawnThroughput) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  int failures = 0;
  asio::io_context io;
  auto started = steady_clock::now();
  sc::test::run_to_completion(io, run_sequentially(100, make_request({"/bin/true"}), failures));
  auto sequential = duration_cast<microseconds>(steady_clock::now() - started);
  EXPECT_EQ(failures, 0);

  asio::io_context io2;
  std::vector<sc::result<spawn_outcome>> results(100);
  std::vector<asio::awaitable<void>> tasks;
  tasks.reserve(results.size());
  for (auto& result : results) tasks.push_back(run_into(make_request({"/bin/true"}), result));
  started = steady_clock::now();
  run_concurrently(io2, std::move(tasks));
  auto concurrent = duration_cast<microseconds>(steady_clock::now() - started);
  for (auto& result : results) EXPECT_TRUE(result && result->ok());

  std::cout << "[ figures  ] 100 sequential /bin/true: " << static_cast<double>(sequential.count()) / 1000.0
            << " ms; 100 concurrent: " << static_cast<double>(concurrent.count()) / 1000.0 << " ms\n";
  RecordProperty("sequential_100_true_us", std::to_string(sequential.count()));
  RecordProperty("concurrent_100_true_us", std::to_string(concurrent.count()));
  EXPECT_LT(sequential, 30s);
  EXPECT_LT(concurrent, 30s);
}

// ---- against the sandbox host ----------------------------------------------------------------

TEST(ProcessSandbox, BtrfsSubvolumeListSucceeds) {
  std::string root = sc::test::sandbox_env("SC_BTRFS_ROOT");
  ASSERT_FALSE(root.empty());
  spawn_outcome outcome = run_ok(make_request({"btrfs", "subvolume", "list", root}));
  EXPECT_TRUE(outcome.ok()) << "exit " << outcome.exit_code << ": " << outcome.err;
  EXPECT_EQ(outcome.err, "");
}

TEST(ProcessSandbox, PodmanRunPrintsHi) {
  std::string image = sc::test::sandbox_env("SC_PODMAN_IMAGE");
  std::string containers_conf = sc::test::sandbox_env("CONTAINERS_CONF");
  std::string storage_conf = sc::test::sandbox_env("CONTAINERS_STORAGE_CONF");
  ASSERT_FALSE(image.empty());
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (text.starts_with("CONTAINERS_CONF=") || text.starts_with("CONTAINERS_STORAGE_CONF=")) continue;
    env.emplace_back(text);
  }
  env.push_back("CONTAINERS_CONF=" + containers_conf);
  env.push_back("CONTAINERS_STORAGE_CONF=" + storage_conf);
  spawn_request request = make_request({"podman", "run", "--rm", image, "echo", "hi"});
  request.env = std::move(env);
  request.timeout = 120s;
  auto started = steady_clock::now();
  spawn_outcome outcome = run_ok(request);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started);
  EXPECT_TRUE(outcome.ok()) << "exit " << outcome.exit_code << ": " << outcome.err;
  EXPECT_EQ(outcome.out, "hi\n");
  std::cout << "[ figures  ] podman run --rm " << image << " echo hi: " << elapsed.count() << " ms\n";
  EXPECT_EQ(sc::process::running_children(), 0u);
}

}  // namespace
