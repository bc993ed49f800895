#include "adapters/journal/journal_reader.hpp"

#include <systemd/sd-journal.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include "adapters/asio/completion.hpp"
#include "core/names.hpp"

namespace sc::journal {

namespace asio = boost::asio;

struct journal_reader::state {
  state(asio::io_context& io, sd_journal* j, journal_options options)
      : io_(io), journal_(j), descriptor_(io), options_(std::move(options)) {}

  ~state() {
    // The inotify fd belongs to sd-journal: stop watching it, hand it back, let sd_journal_close
    // close it.
    if (descriptor_.is_open()) {
      boost::system::error_code ignored;
      descriptor_.cancel(ignored);
      (void)descriptor_.release();
    }
    sd_journal_close(journal_);
  }

  void close() {
    closed_ = true;
    boost::system::error_code ignored;
    descriptor_.cancel(ignored);
  }

  asio::io_context& io_;
  sd_journal* journal_;
  asio::posix::stream_descriptor descriptor_;
  journal_options options_;
  bool busy_ = false;
  bool closed_ = false;
};

namespace {

using state_ptr = std::shared_ptr<journal_reader::state>;

constexpr std::size_t longest_cursor = 1024;

// Field name -> member, sorted by name for binary search.
struct field_slot {
  std::string_view name;
  std::string journal_entry::*member;
};
constexpr std::array<field_slot, 31> field_slots = {{
    {"CODE_FILE", &journal_entry::code_file},
    {"CODE_FUNC", &journal_entry::code_func},
    {"CODE_LINE", &journal_entry::code_line},
    {"ERRNO", &journal_entry::error_number},
    {"MESSAGE", &journal_entry::message},
    {"MESSAGE_ID", &journal_entry::message_id},
    {"PRIORITY", &journal_entry::priority},
    {"SYSLOG_FACILITY", &journal_entry::syslog_facility},
    {"SYSLOG_IDENTIFIER", &journal_entry::syslog_identifier},
    {"SYSLOG_PID", &journal_entry::syslog_pid},
    {"_AUDIT_LOGINUID", &journal_entry::audit_loginuid},
    {"_AUDIT_SESSION", &journal_entry::audit_session},
    {"_BOOT_ID", &journal_entry::boot_id},
    {"_CAP_EFFECTIVE", &journal_entry::cap_effective},
    {"_CMDLINE", &journal_entry::cmdline},
    {"_COMM", &journal_entry::comm},
    {"_EXE", &journal_entry::exe},
    {"_GID", &journal_entry::gid},
    {"_HOSTNAME", &journal_entry::hostname},
    {"_MACHINE_ID", &journal_entry::machine_id},
    {"_PID", &journal_entry::pid},
    {"_SELINUX_CONTEXT", &journal_entry::selinux_context},
    {"_SOURCE_REALTIME_TIMESTAMP", &journal_entry::source_realtime_timestamp},
    {"_SYSTEMD_CGROUP", &journal_entry::systemd_cgroup},
    {"_SYSTEMD_OWNER_UID", &journal_entry::systemd_owner_uid},
    {"_SYSTEMD_SESSION", &journal_entry::systemd_session},
    {"_SYSTEMD_SLICE", &journal_entry::systemd_slice},
    {"_SYSTEMD_UNIT", &journal_entry::systemd_unit},
    {"_SYSTEMD_USER_UNIT", &journal_entry::systemd_user_unit},
    {"_TRANSPORT", &journal_entry::transport},
    {"_UID", &journal_entry::uid},
}};

problem journal_error(const char* what, int negative_errno) {
  return problem::internal_error(std::string("sd-journal ") + what + ": " +
                                 std::generic_category().message(-negative_errno));
}

// Marks the reader busy for the life of one operation (which may span several loop turns).
class busy_guard {
 public:
  explicit busy_guard(journal_reader::state& s) : state_(s) { state_.busy_ = true; }
  ~busy_guard() { state_.busy_ = false; }
  busy_guard(const busy_guard&) = delete;
  busy_guard& operator=(const busy_guard&) = delete;

 private:
  journal_reader::state& state_;
};

result<void> check_usable(const journal_reader::state& s) {
  if (s.closed_) return problem::unavailable("the journal reader was closed");
  if (s.busy_) return problem::conflict("the journal reader is busy with another operation");
  return {};
}

result<journal_entry> read_current(sd_journal* j) {
  journal_entry e;
  char* cursor = nullptr;
  if (int r = sd_journal_get_cursor(j, &cursor); r < 0) return journal_error("get cursor", r);
  e.cursor = cursor;
  std::free(cursor);
  if (int r = sd_journal_get_realtime_usec(j, &e.realtime_usec); r < 0) return journal_error("get realtime", r);
  sd_id128_t boot{};
  if (int r = sd_journal_get_monotonic_usec(j, &e.monotonic_usec, &boot); r < 0) {
    return journal_error("get monotonic", r);
  }
  // One pass over the entry's fields beats 31 lookups; fields that cannot be decoded (e.g. an
  // unsupported compression) are skipped instead of failing the entry.
  sd_journal_restart_data(j);
  const void* data = nullptr;
  std::size_t length = 0;
  int r = 0;
  while ((r = sd_journal_enumerate_available_data(j, &data, &length)) > 0) {
    std::string_view field(static_cast<const char*>(data), length);
    auto eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    auto name = field.substr(0, eq);
    auto it = std::lower_bound(field_slots.begin(), field_slots.end(), name,
                               [](const field_slot& slot, std::string_view n) { return slot.name < n; });
    if (it != field_slots.end() && it->name == name) e.*(it->member) = std::string(field.substr(eq + 1));
  }
  if (r < 0) return journal_error("enumerate data", r);
  return e;
}

enum class direction { forward, backward };

bool cancelled(const asio::cancellation_state& cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

// Steps from the current position and collects entries until `out` holds `max` (or `until_size`,
// whichever is smaller) or the journal ends in that direction. Synchronous: the caller slices it.
// Returns false when the journal ended.
result<bool> collect_some(sd_journal* j, direction dir, std::size_t until_size, std::vector<journal_entry>& out) {
  while (out.size() < until_size) {
    int r = dir == direction::forward ? sd_journal_next(j) : sd_journal_previous(j);
    if (r < 0) return journal_error("step", r);
    if (r == 0) return false;
    auto entry = read_current(j);
    if (!entry) return entry.error();
    out.push_back(std::move(*entry));
  }
  return true;
}

// collect_some, yielding to the loop every entries_per_turn entries. `out` may already hold
// entries (they count against `max`); it belongs to the awaiting caller's frame, which outlives
// this call.
asio::awaitable<result<void>> collect(state_ptr s, direction dir, std::size_t max, std::vector<journal_entry>& out) {
  while (out.size() < max) {
    auto more = collect_some(s->journal_, dir, std::min(max, out.size() + s->options_.entries_per_turn), out);
    if (!more) co_return more.error();
    if (!*more || out.size() >= max) break;
    // Checked before initiating: once cancelled, Asio would throw from the next initiation.
    if (cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return problem::unavailable("reading the journal was cancelled");
    }
    co_await asio::post(s->io_, asio::use_awaitable);
    if (s->closed_) co_return problem::unavailable("the journal reader was closed");
  }
  co_return result<void>{};
}

std::size_t clamp_count(const journal_reader::state& s, std::size_t count) {
  return std::min(count, s.options_.max_entries_per_call);
}

result<void> validate_cursor(const std::string& cursor) {
  if (cursor.empty() || cursor.size() > longest_cursor || has_control_characters(cursor)) {
    return problem::unprocessable("cursor", "invalid cursor");
  }
  return {};
}

// After seeking to `cursor`, steps once in `dir`. sd-journal lands on the cursor's own entry when it
// still exists (skip it: exclusive); otherwise on the nearest entry beyond it, which belongs to
// the result.
result<void> step_past_cursor(sd_journal* j, const std::string& cursor, direction dir,
                              std::vector<journal_entry>& out) {
  if (int r = sd_journal_seek_cursor(j, cursor.c_str()); r < 0) {
    if (r == -EINVAL) return problem::unprocessable("cursor", "invalid cursor");
    return journal_error("seek cursor", r);
  }
  int r = dir == direction::forward ? sd_journal_next(j) : sd_journal_previous(j);
  if (r < 0) return journal_error("step", r);
  if (r == 0) return {};
  if (sd_journal_test_cursor(j, cursor.c_str()) > 0) return {};
  auto entry = read_current(j);
  if (!entry) return entry.error();
  out.push_back(std::move(*entry));
  return {};
}

// Leaves the position on `cursor`'s entry so that the next sd_journal_next() returns what follows.
result<void> position_on(journal_reader::state& s, const std::string& cursor) {
  if (int r = sd_journal_seek_cursor(s.journal_, cursor.c_str()); r < 0) return journal_error("seek cursor", r);
  if (int r = sd_journal_next(s.journal_); r < 0) return journal_error("step", r);
  return {};
}

result<void> position_after_last(journal_reader::state& s) {
  if (int r = sd_journal_seek_tail(s.journal_); r < 0) return journal_error("seek tail", r);
  // Step onto the last entry: then next() returns only entries written later.
  int r = sd_journal_previous(s.journal_);
  if (r < 0) return journal_error("step", r);
  if (r == 0) {
    // Nothing matches yet. The tail seek would stay pending and resolve at the first next(), to
    // whatever is last *then*: lines written in between were skipped (found by a stream that
    // missed all but the last of a burst). With no entry, the head is exactly "from now on".
    if (int h = sd_journal_seek_head(s.journal_); h < 0) return journal_error("seek head", h);
  }
  return {};
}

asio::awaitable<result<std::vector<journal_entry>>> do_read_tail(state_ptr s, std::size_t count) {
  if (auto ok = check_usable(*s); !ok) co_return ok.error();
  busy_guard guard(*s);
  count = clamp_count(*s, count);
  std::vector<journal_entry> out;
  if (int r = sd_journal_seek_tail(s->journal_); r < 0) co_return journal_error("seek tail", r);
  if (auto ok = co_await collect(s, direction::backward, count, out); !ok) co_return ok.error();
  std::reverse(out.begin(), out.end());
  if (out.empty()) {
    if (auto ok = position_after_last(*s); !ok) co_return ok.error();
  } else if (auto ok = position_on(*s, out.back().cursor); !ok) {
    co_return ok.error();
  }
  co_return out;
}

// Entries strictly after (forward) or before (backward) `cursor`, in chronological order.
asio::awaitable<result<std::vector<journal_entry>>> do_read_from_cursor(state_ptr s, std::string cursor,
                                                                        std::size_t max_entries, direction way) {
  if (auto ok = check_usable(*s); !ok) co_return ok.error();
  if (auto ok = validate_cursor(cursor); !ok) co_return ok.error();
  busy_guard guard(*s);
  max_entries = clamp_count(*s, max_entries);
  std::vector<journal_entry> out;
  if (max_entries == 0) co_return out;
  if (auto ok = step_past_cursor(s->journal_, cursor, way, out); !ok) co_return ok.error();
  if (auto ok = co_await collect(s, way, max_entries, out); !ok) co_return ok.error();
  if (way == direction::backward) std::reverse(out.begin(), out.end());
  co_return out;
}

asio::awaitable<result<std::vector<journal_entry>>> do_read_since(state_ptr s, std::uint64_t realtime_usec,
                                                                  std::size_t max_entries) {
  if (auto ok = check_usable(*s); !ok) co_return ok.error();
  busy_guard guard(*s);
  max_entries = clamp_count(*s, max_entries);
  std::vector<journal_entry> out;
  if (int r = sd_journal_seek_realtime_usec(s->journal_, realtime_usec); r < 0) {
    co_return journal_error("seek realtime", r);
  }
  if (auto ok = co_await collect(s, direction::forward, max_entries, out); !ok) co_return ok.error();
  co_return out;
}

asio::awaitable<result<std::vector<journal_entry>>> do_next_batch(state_ptr s, std::size_t max_entries,
                                                                  std::chrono::milliseconds wait_at_most) {
  if (auto ok = check_usable(*s); !ok) co_return ok.error();
  busy_guard guard(*s);
  max_entries = std::max<std::size_t>(1, clamp_count(*s, max_entries));
  // Bounded so that the deadline arithmetic cannot overflow; callers loop for longer follows.
  wait_at_most =
      std::clamp<std::chrono::milliseconds>(wait_at_most, std::chrono::milliseconds::zero(), std::chrono::hours(24));
  auto give_up_at = std::chrono::steady_clock::now() + wait_at_most;
  asio::steady_timer timer(s->io_);
  std::vector<journal_entry> out;
  for (;;) {
    // Drain the inotify fd before reading: any change after this point is a fresh edge that the
    // wait below sees, so no wake-up can be lost between the read and the wait.
    if (int r = sd_journal_process(s->journal_); r < 0) co_return journal_error("process", r);
    if (auto ok = co_await collect(s, direction::forward, max_entries, out); !ok) co_return ok.error();
    if (!out.empty()) co_return out;

    auto now = std::chrono::steady_clock::now();
    if (now >= give_up_at) co_return out;
    auto wake_at = give_up_at;
    std::uint64_t journal_timeout = UINT64_MAX;
    // Journals on network file systems have no reliable inotify: sd-journal then asks to be polled.
    if (sd_journal_get_timeout(s->journal_, &journal_timeout) > 0 && journal_timeout != UINT64_MAX) {
      // Absolute CLOCK_MONOTONIC µs (libstdc++'s steady_clock); only ever earlier than give_up_at
      // matters, so clamp before converting to avoid overflowing nanoseconds.
      using std::chrono::microseconds;
      auto limit = std::chrono::duration_cast<microseconds>(give_up_at.time_since_epoch()).count();
      auto wake =
          static_cast<microseconds::rep>(std::min<std::uint64_t>(journal_timeout, static_cast<std::uint64_t>(limit)));
      std::chrono::steady_clock::time_point journal_wake(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(microseconds(wake)));
      wake_at = std::min(wake_at, journal_wake);
    }
    if (cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return problem::unavailable("reading the journal was cancelled");
    }
    // The deadline cancels the fd wait. A late timer completion can at worst cancel a later wait,
    // which only costs one extra turn of this loop. The fd wait is initiated right here, in the
    // same handler that drained the fd, so no epoll edge can slip in between (Asio registers
    // descriptors edge-triggered).
    timer.expires_at(wake_at);
    timer.async_wait([s](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ignored;
      s->descriptor_.cancel(ignored);
    });
    (void)co_await s->descriptor_.async_wait(asio::posix::descriptor_base::wait_read, io_result);
    timer.cancel();
    if (s->closed_) co_return problem::unavailable("the journal reader was closed");
  }
}

result<sd_journal*> open_journal(const journal_options& options) {
  sd_journal* j = nullptr;
  int r = options.directory.empty() ? sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY)
                                    : sd_journal_open_directory(&j, options.directory.c_str(), 0);
  if (r < 0) {
    auto p = problem::unavailable("the journal cannot be opened");
    p.internal = std::string("sd_journal_open: ") + std::generic_category().message(-r);
    return p;
  }
  if (r = sd_journal_set_data_threshold(j, options.data_threshold); r < 0) {
    sd_journal_close(j);
    return journal_error("set threshold", r);
  }
  return j;
}

// `_SYSTEMD_UNIT=<u>` OR `_SYSTEMD_USER_UNIT=<u>` for each unit; then the position is the head.
result<void> apply_unit_matches(sd_journal* j, const std::vector<std::string>& units) {
  for (const auto& u : units) {
    if (auto ok = validate_unit_name(u); !ok) return ok.error();
  }
  sd_journal_flush_matches(j);
  if (!units.empty()) {
    // Same-field matches OR together; the disjunction ORs the two groups.
    for (const auto& u : units) {
      auto m = "_SYSTEMD_UNIT=" + u;
      if (int r = sd_journal_add_match(j, m.data(), m.size()); r < 0) return journal_error("add match", r);
    }
    if (int r = sd_journal_add_disjunction(j); r < 0) return journal_error("add disjunction", r);
    for (const auto& u : units) {
      auto m = "_SYSTEMD_USER_UNIT=" + u;
      if (int r = sd_journal_add_match(j, m.data(), m.size()); r < 0) return journal_error("add match", r);
    }
  }
  if (int r = sd_journal_seek_head(j); r < 0) return journal_error("seek head", r);
  return {};
}

}  // namespace

result<std::unique_ptr<journal_reader>> journal_reader::open(asio::io_context& io, journal_options options) {
  auto opened = open_journal(options);
  if (!opened) return opened.error();
  sd_journal* j = *opened;
  auto s = std::make_shared<state>(io, j, std::move(options));
  if (s->options_.entries_per_turn == 0) s->options_.entries_per_turn = 1;
  // The inotify fd (created O_CLOEXEC by sd-journal) must exist before the first read so that no
  // change after it is missed.
  int fd = sd_journal_get_fd(j);
  if (fd < 0) return journal_error("get fd", fd);
  boost::system::error_code ec;
  s->descriptor_.assign(fd, ec);
  if (ec) return problem::internal_error("watch journal fd: " + ec.message());
  return std::make_unique<journal_reader>(std::move(s));
}

journal_reader::journal_reader(std::shared_ptr<state> s) : state_(std::move(s)) {}

journal_reader::~journal_reader() {
  state_->close();
}

result<void> journal_reader::match_units(const std::vector<std::string>& units) {
  if (auto ok = check_usable(*state_); !ok) return ok.error();
  return apply_unit_matches(state_->journal_, units);
}

asio::awaitable<result<std::vector<journal_entry>>> journal_reader::read_tail(std::size_t count) {
  return do_read_tail(state_, count);
}

asio::awaitable<result<std::vector<journal_entry>>> journal_reader::read_after(std::string cursor,
                                                                               std::size_t max_entries) {
  return do_read_from_cursor(state_, std::move(cursor), max_entries, direction::forward);
}

asio::awaitable<result<std::vector<journal_entry>>> journal_reader::read_before(std::string cursor,
                                                                                std::size_t max_entries) {
  return do_read_from_cursor(state_, std::move(cursor), max_entries, direction::backward);
}

asio::awaitable<result<std::vector<journal_entry>>> journal_reader::read_since(std::uint64_t realtime_usec,
                                                                               std::size_t max_entries) {
  return do_read_since(state_, realtime_usec, max_entries);
}

result<std::unique_ptr<journal_scanner>> journal_scanner::open(const journal_options& options) {
  auto opened = open_journal(options);
  if (!opened) return opened.error();
  return std::unique_ptr<journal_scanner>(new journal_scanner(*opened, options.max_entries_per_call));
}

journal_scanner::~journal_scanner() {
  sd_journal_close(journal_);
}

result<void> journal_scanner::match_units(const std::vector<std::string>& units) {
  return apply_unit_matches(journal_, units);
}

result<std::vector<journal_entry>> journal_scanner::read_tail(std::size_t count) {
  std::vector<journal_entry> out;
  if (int r = sd_journal_seek_tail(journal_); r < 0) return journal_error("seek tail", r);
  if (auto ok = collect_some(journal_, direction::backward, std::min(count, max_entries_per_call_), out); !ok)
    return ok.error();
  std::reverse(out.begin(), out.end());
  return out;
}

result<std::vector<journal_entry>> journal_scanner::read_from_cursor(const std::string& cursor, std::size_t max_entries,
                                                                     bool forward) {
  if (auto ok = validate_cursor(cursor); !ok) return ok.error();
  max_entries = std::min(max_entries, max_entries_per_call_);
  std::vector<journal_entry> out;
  if (max_entries == 0) return out;
  auto way = forward ? direction::forward : direction::backward;
  if (auto ok = step_past_cursor(journal_, cursor, way, out); !ok) return ok.error();
  if (auto ok = collect_some(journal_, way, max_entries, out); !ok) return ok.error();
  if (!forward) std::reverse(out.begin(), out.end());
  return out;
}

result<std::vector<journal_entry>> journal_scanner::read_after(const std::string& cursor, std::size_t max_entries) {
  return read_from_cursor(cursor, max_entries, true);
}

result<std::vector<journal_entry>> journal_scanner::read_before(const std::string& cursor, std::size_t max_entries) {
  return read_from_cursor(cursor, max_entries, false);
}

result<std::vector<journal_entry>> journal_scanner::read_since(std::uint64_t realtime_usec, std::size_t max_entries) {
  std::vector<journal_entry> out;
  if (int r = sd_journal_seek_realtime_usec(journal_, realtime_usec); r < 0) return journal_error("seek realtime", r);
  if (auto ok = collect_some(journal_, direction::forward, std::min(max_entries, max_entries_per_call_), out); !ok)
    return ok.error();
  return out;
}

result<void> journal_reader::seek_head() {
  if (auto ok = check_usable(*state_); !ok) return ok.error();
  if (int r = sd_journal_seek_head(state_->journal_); r < 0) return journal_error("seek head", r);
  return {};
}

result<void> journal_reader::seek_tail() {
  if (auto ok = check_usable(*state_); !ok) return ok.error();
  return position_after_last(*state_);
}

asio::awaitable<result<std::vector<journal_entry>>> journal_reader::next_batch(std::size_t max_entries,
                                                                               std::chrono::milliseconds wait_at_most) {
  return do_next_batch(state_, max_entries, wait_at_most);
}

}  // namespace sc::journal
