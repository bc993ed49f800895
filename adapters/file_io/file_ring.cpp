#include "adapters/file_io/file_ring.hpp"

#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace sc::file_io {

namespace {

namespace asio = boost::asio;

enum class op_kind { read, write, fsync };

struct request {
  op_kind kind = op_kind::read;
  int fd = -1;
  void* buffer = nullptr;
  unsigned length = 0;
  std::uint64_t offset = 0;
};

// One awaited kernel operation. With io_uring its address is the SQE's user_data, and it is owned
// by the ring from submission until its completion is reaped.
struct pending_op {
  // Constructed, never assigned: any_completion_handler's move assignment in Boost 1.81 recurses
  // without end (it copies from an lvalue through its unconstrained converting constructor).
  pending_op(const request& r, asio::any_completion_handler<void(int)> h, asio::any_io_executor ex,
             asio::cancellation_slot s)
      : what(r), handler(std::move(h)), executor(std::move(ex)), slot(s) {}

  request what;
  asio::any_completion_handler<void(int)> handler;
  // The awaiter's executor, taken at initiation (any_completion_handler's own executor type cannot
  // be posted to in Boost 1.81).
  asio::any_io_executor executor;
  // The awaiter's cancellation slot, holding our cancel hook; cleared before the handler runs.
  asio::cancellation_slot slot;
  bool cancel_sent = false;
};

// One kernel operation moves at most this much: the kernel caps a read or write at 0x7ffff000
// bytes anyway, and the byte count must fit the int result of a completion.
constexpr std::size_t max_chunk = std::size_t{1} << 30;

// Every completion is posted, never invoked inline: the awaiting coroutine may start new
// operations or destroy the ring, which must not happen while we walk the completion queue.
void complete(std::unique_ptr<pending_op> op, int result) {
  if (op->slot.is_connected()) op->slot.clear();
  auto executor = op->executor;
  asio::post(executor, [handler = std::move(op->handler), result]() mutable { std::move(handler)(result); });
}

int run_blocking(const request& r) {
  for (;;) {
    ssize_t done = 0;
    switch (r.kind) {
      case op_kind::read:
        done = ::pread(r.fd, r.buffer, r.length, static_cast<off_t>(r.offset));
        break;
      case op_kind::write:
        done = ::pwrite(r.fd, r.buffer, r.length, static_cast<off_t>(r.offset));
        break;
      case op_kind::fsync:
        done = ::fsync(r.fd);
        break;
    }
    if (done >= 0) return static_cast<int>(done);
    if (errno != EINTR) return -errno;
  }
}

const char* op_name(op_kind kind) {
  switch (kind) {
    case op_kind::read:
      return "read";
    case op_kind::write:
      return "write";
    case op_kind::fsync:
      return "fsync";
  }
  return "?";
}

}  // namespace

struct file_ring_state : std::enable_shared_from_this<file_ring_state> {
  file_ring_state(asio::any_io_executor executor, const file_ring_options& options) : loop(std::move(executor)) {
    if (options.disable_io_uring) {
      fallback_reason = "disabled by configuration";
    } else {
      fallback_reason = set_up_uring(std::clamp(options.entries, 1u, 4096u));
    }
    if (!uring) pool.emplace(std::max(options.fallback_threads, 1u));
  }

  file_ring_state(const file_ring_state&) = delete;
  file_ring_state& operator=(const file_ring_state&) = delete;

  asio::any_io_executor loop;
  bool closed = false;
  std::string fallback_reason;  // why io_uring is not in use; empty when it is

  // --- io_uring ---
  bool uring = false;
  io_uring ring{};
  std::optional<asio::posix::stream_descriptor> wakeup;  // the registered eventfd
  std::optional<asio::steady_timer> retry;               // re-submits after a transient failure
  unsigned capacity = 0;                                 // SQ entries: operations in the kernel at once
  unsigned in_kernel = 0;                                // submitted, completion not yet reaped
  bool waiting_for_wakeup = false;
  bool retry_pending = false;
  std::deque<std::unique_ptr<pending_op>> backlog;  // waiting for room in the ring, FIFO
  std::vector<std::pair<pending_op*, int>> reaped;  // reused by reap_completions

  // --- fallback ---
  std::optional<asio::thread_pool> pool;

  // Returns "" on success, else why io_uring is not usable.
  std::string set_up_uring(unsigned entries) {
    if (int r = ::io_uring_queue_init(entries, &ring, 0); r < 0) {
      return "io_uring_queue_init: " + std::system_category().message(-r);
    }
    io_uring_probe* probe = ::io_uring_get_probe_ring(&ring);
    bool supported = probe != nullptr && ::io_uring_opcode_supported(probe, IORING_OP_READ) &&
                     ::io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
                     ::io_uring_opcode_supported(probe, IORING_OP_FSYNC) &&
                     ::io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
    if (probe != nullptr) ::io_uring_free_probe(probe);
    if (!supported) {
      ::io_uring_queue_exit(&ring);
      return "io_uring lacks READ, WRITE, FSYNC or ASYNC_CANCEL";
    }
    int event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd < 0) {
      int error = errno;
      ::io_uring_queue_exit(&ring);
      return "eventfd: " + std::system_category().message(error);
    }
    if (int r = ::io_uring_register_eventfd(&ring, event_fd); r < 0) {
      ::close(event_fd);
      ::io_uring_queue_exit(&ring);
      return "io_uring_register_eventfd: " + std::system_category().message(-r);
    }
    wakeup.emplace(loop, event_fd);
    retry.emplace(loop);
    capacity = ring.sq.ring_entries;
    uring = true;
    return {};
  }

  // The hook placed in the awaiter's cancellation slot (io_uring only).
  struct cancel_hook {
    // Spelled out: clang before 16 has no parenthesized aggregate initialisation, which emplace needs.
    cancel_hook(std::shared_ptr<file_ring_state> ring, pending_op* pending) : state(std::move(ring)), op(pending) {}
    std::shared_ptr<file_ring_state> state;
    pending_op* op;
    void operator()(asio::cancellation_type_t type) const {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total)) != asio::cancellation_type::none) {
        state->cancel(op);
      }
    }
  };

  void start(std::unique_ptr<pending_op> op) {
    if (closed) {
      complete(std::move(op), -ECANCELED);
      return;
    }
    if (!uring) {
      start_on_pool(std::move(op));
      return;
    }
    if (op->slot.is_connected()) op->slot.emplace<cancel_hook>(shared_from_this(), op.get());
    if (in_kernel < capacity && backlog.empty()) {
      submit(std::move(op));
    } else {
      backlog.push_back(std::move(op));
    }
  }

  // pread/pwrite cannot be interrupted: the fallback ignores cancellation.
  void start_on_pool(std::unique_ptr<pending_op> op) {
    op->slot = {};
    // The guard keeps the awaiter's loop from running out of work while the pool works for it.
    auto work = asio::make_work_guard(op->executor);
    asio::post(*pool, [op = std::move(op), work = std::move(work)]() mutable {
      int result = run_blocking(op->what);
      complete(std::move(op), result);
    });
  }

  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
    if (sqe == nullptr) {
      // Not expected: every start submits at once, so the SQ ring is empty between calls.
      ::io_uring_submit(&ring);
      sqe = ::io_uring_get_sqe(&ring);
    }
    return sqe;
  }

  void submit(std::unique_ptr<pending_op> op) {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
      complete(std::move(op), -EBUSY);
      return;
    }
    const request& r = op->what;
    switch (r.kind) {
      case op_kind::read:
        ::io_uring_prep_read(sqe, r.fd, r.buffer, r.length, r.offset);
        break;
      case op_kind::write:
        ::io_uring_prep_write(sqe, r.fd, r.buffer, r.length, r.offset);
        break;
      case op_kind::fsync:
        ::io_uring_prep_fsync(sqe, r.fd, 0);
        break;
    }
    ::io_uring_sqe_set_data(sqe, op.release());
    ++in_kernel;
    flush();
    wait_for_wakeup();
  }

  // Cancellation requested by the awaiter. The awaiter resumes only with the operation's own
  // completion (-ECANCELED, or its real result if the kernel had already finished it): until then
  // the kernel may still use the buffer.
  void cancel(pending_op* op) {
    auto queued = std::find_if(backlog.begin(), backlog.end(), [op](const auto& p) { return p.get() == op; });
    if (queued != backlog.end()) {
      std::unique_ptr<pending_op> owned = std::move(*queued);
      backlog.erase(queued);
      complete(std::move(owned), -ECANCELED);
      return;
    }
    if (op->cancel_sent || closed) return;
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) return;  // best effort; the operation completes on its own
    op->cancel_sent = true;
    ::io_uring_prep_cancel(sqe, op, 0);
    ::io_uring_sqe_set_data(sqe, nullptr);  // its own completion is ignored
    flush();
  }

  void flush() {
    int r = ::io_uring_submit(&ring);
    if (r >= 0 || retry_pending) return;
    // EAGAIN / EBUSY / ENOMEM: the entries stay queued in the SQ ring; try again shortly rather
    // than failing operations that did nothing wrong.
    retry_pending = true;
    retry->expires_after(std::chrono::milliseconds(1));
    retry->async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->retry_pending = false;
      if (!ec && !self->closed) self->flush();
    });
  }

  void wait_for_wakeup() {
    // Armed only while something is in the kernel, so an idle ring does not keep run() busy.
    if (waiting_for_wakeup || in_kernel == 0 || closed) return;
    waiting_for_wakeup = true;
    // The handler co-owns the state: it may run after the file_ring is gone (with operation_aborted).
    wakeup->async_wait(asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) { self->on_wakeup(ec); });
  }

  void on_wakeup(boost::system::error_code ec) {
    waiting_for_wakeup = false;
    if (closed || ec == asio::error::operation_aborted) return;
    eventfd_t count = 0;
    [[maybe_unused]] ssize_t ignored = ::read(wakeup->native_handle(), &count, sizeof count);  // reset the counter
    reap_completions();
    wait_for_wakeup();
  }

  // Takes every completion the kernel has posted, then refills the ring from the backlog.
  void reap_completions() {
    if (::io_uring_cq_has_overflow(&ring)) ::io_uring_get_events(&ring);  // not expected: in-flight <= SQ < CQ
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    reaped.clear();
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      if (auto* op = static_cast<pending_op*>(::io_uring_cqe_get_data(cqe))) reaped.emplace_back(op, cqe->res);
    }
    ::io_uring_cq_advance(&ring, seen);
    for (auto [op, result] : reaped) {
      --in_kernel;
      complete(std::unique_ptr<pending_op>(op), result);
    }
    reaped.clear();
    while (!closed && !backlog.empty() && in_kernel < capacity) {
      std::unique_ptr<pending_op> next = std::move(backlog.front());
      backlog.pop_front();
      submit(std::move(next));
    }
  }

  // Called by ~file_ring on the loop thread. Leaves no buffer in the kernel's hands.
  void shut_down() {
    closed = true;
    if (!uring) {
      pool->join();  // every queued pread/pwrite runs; their completions are posted to the loop
      return;
    }
    while (!backlog.empty()) {
      std::unique_ptr<pending_op> op = std::move(backlog.front());
      backlog.pop_front();
      complete(std::move(op), -ECANCELED);
    }
    if (in_kernel > 0) {
      // Reads on pipes or sockets could wait forever; file I/O finishes on its own. Ask the kernel
      // to cancel whatever it can, then wait until every operation has completed.
      if (io_uring_sqe* sqe = next_sqe()) {
        ::io_uring_prep_cancel(sqe, nullptr, IORING_ASYNC_CANCEL_ANY);
        ::io_uring_sqe_set_data(sqe, nullptr);
      }
      ::io_uring_submit(&ring);
      while (in_kernel > 0) {
        io_uring_cqe* cqe = nullptr;
        int r = ::io_uring_wait_cqe(&ring, &cqe);
        if (r == -EINTR || r == -EAGAIN) continue;
        if (r < 0) {
          // The kernel may still write into buffers we would hand back: never continue.
          std::fprintf(stderr, "file_ring: io_uring_wait_cqe failed at shutdown: %s\n",
                       std::system_category().message(-r).c_str());
          std::abort();
        }
        reap_completions();
      }
    }
    retry.reset();
    wakeup.reset();  // closes the eventfd; a pending wait completes with operation_aborted
    ::io_uring_queue_exit(&ring);
  }
};

namespace {

asio::awaitable<int> perform(std::shared_ptr<file_ring_state> state, request what) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(int)>(
      [state = std::move(state), what](auto handler) {
        asio::any_io_executor executor = asio::get_associated_executor(handler, state->loop);
        asio::cancellation_slot slot = asio::get_associated_cancellation_slot(handler);
        state->start(std::make_unique<pending_op>(what, std::move(handler), std::move(executor), slot));
      },
      asio::use_awaitable);
}

problem failure(const file_ring_state& state, op_kind kind, int fd, int error) {
  return problem::internal_error(std::string(state.uring ? "io_uring " : "") + op_name(kind) + " fd " +
                                 std::to_string(fd) + ": " + std::system_category().message(error));
}

asio::awaitable<sc::result<std::size_t>> read_all(std::shared_ptr<file_ring_state> state, int fd,
                                                  std::span<std::byte> buffer, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    request r;
    r.kind = op_kind::read;
    r.fd = fd;
    r.buffer = buffer.data() + done;
    r.length = static_cast<unsigned>(std::min(buffer.size() - done, max_chunk));
    r.offset = offset + done;
    int result = co_await perform(state, r);
    if (result == -EINTR || result == -EAGAIN) continue;
    if (result < 0) co_return failure(*state, op_kind::read, fd, -result);
    if (result == 0) break;  // end of file
    done += static_cast<std::size_t>(result);
  }
  co_return done;
}

asio::awaitable<sc::result<std::size_t>> write_all(std::shared_ptr<file_ring_state> state, int fd,
                                                   std::span<const std::byte> data, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < data.size()) {
    request r;
    r.kind = op_kind::write;
    r.fd = fd;
    // The kernel only reads from it (io_uring_prep_write takes a const pointer).
    r.buffer = const_cast<std::byte*>(data.data() + done);
    r.length = static_cast<unsigned>(std::min(data.size() - done, max_chunk));
    r.offset = offset + done;
    int result = co_await perform(state, r);
    if (result == -EINTR || result == -EAGAIN) continue;
    if (result < 0) co_return failure(*state, op_kind::write, fd, -result);
    if (result == 0) co_return failure(*state, op_kind::write, fd, EIO);  // no progress: do not spin
    done += static_cast<std::size_t>(result);
  }
  co_return done;
}

asio::awaitable<sc::result<void>> fsync_one(std::shared_ptr<file_ring_state> state, int fd) {
  request r;
  r.kind = op_kind::fsync;
  r.fd = fd;
  int result = co_await perform(state, r);
  if (result < 0) co_return failure(*state, op_kind::fsync, fd, -result);
  co_return sc::result<void>();
}

}  // namespace

file_ring::file_ring(boost::asio::any_io_executor loop, file_ring_options options)
    : state_(std::make_shared<file_ring_state>(std::move(loop), options)) {}

file_ring::~file_ring() {
  state_->shut_down();
}

const char* file_ring::backend_name() const noexcept {
  return state_->uring ? "io_uring" : "thread_pool";
}

std::string_view file_ring::fallback_reason() const noexcept {
  return state_->fallback_reason;
}

boost::asio::awaitable<sc::result<std::size_t>> file_ring::read(int fd, std::span<std::byte> buffer,
                                                                std::uint64_t offset) {
  return read_all(state_, fd, buffer, offset);
}

boost::asio::awaitable<sc::result<std::size_t>> file_ring::write(int fd, std::span<const std::byte> data,
                                                                 std::uint64_t offset) {
  return write_all(state_, fd, data, offset);
}

boost::asio::awaitable<sc::result<void>> file_ring::fsync(int fd) {
  return fsync_one(state_, fd);
}

}  // namespace sc::file_io
