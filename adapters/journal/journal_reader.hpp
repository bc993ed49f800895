#pragma once
// Reading the systemd journal (sd-journal) on the loop thread without stalling it.
//
// A journal_reader is one open journal with one read position. Reads are chunked: after every
// `entries_per_turn` entries the coroutine yields to the loop (asio::post), so a scan of a large
// journal never holds the loop for long. Following uses the journal's inotify fd, watched with a
// non-owning Asio descriptor (the fd belongs to sd-journal and is never closed by us), plus the
// wake-up deadline sd-journal asks for (sd_journal_get_timeout).
//
// Contract:
//  - every coroutine is started on the loop thread of the io_context given to open() and
//    completes there;
//  - one operation at a time per reader (they share the read position); a second concurrent call
//    fails with 409 conflict instead of corrupting the position;
//  - destroying the reader (on the loop thread) makes operations still suspended in it complete
//    with 503; their frames keep the internals alive until then;
//  - cancellation (e.g. `next_batch(...) || timer`) stops a wait promptly; the operation then
//    completes with 503 "cancelled" and the read position is unspecified (seek again).
//
// Entries are returned in chronological order. Fields missing from an entry are "".

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace boost::asio {
class io_context;
}
struct sd_journal;

namespace sc::journal {

// One journal entry: its address, its timestamps, and the fields the API exposes (journal field
// name in the comment). Values are raw bytes as logged (MESSAGE may hold any bytes).
struct journal_entry {
  std::string cursor;
  std::uint64_t realtime_usec = 0;   // wall clock, µs since the epoch
  std::uint64_t monotonic_usec = 0;  // µs since boot of `boot_id`

  std::string message;                    // MESSAGE
  std::string message_id;                 // MESSAGE_ID
  std::string priority;                   // PRIORITY ("0".."7")
  std::string code_file;                  // CODE_FILE
  std::string code_line;                  // CODE_LINE
  std::string code_func;                  // CODE_FUNC
  std::string error_number;               // ERRNO
  std::string syslog_facility;            // SYSLOG_FACILITY
  std::string syslog_identifier;          // SYSLOG_IDENTIFIER
  std::string syslog_pid;                 // SYSLOG_PID
  std::string pid;                        // _PID
  std::string uid;                        // _UID
  std::string gid;                        // _GID
  std::string comm;                       // _COMM
  std::string exe;                        // _EXE
  std::string cmdline;                    // _CMDLINE
  std::string cap_effective;              // _CAP_EFFECTIVE
  std::string audit_session;              // _AUDIT_SESSION
  std::string audit_loginuid;             // _AUDIT_LOGINUID
  std::string systemd_cgroup;             // _SYSTEMD_CGROUP
  std::string systemd_session;            // _SYSTEMD_SESSION
  std::string systemd_unit;               // _SYSTEMD_UNIT
  std::string systemd_user_unit;          // _SYSTEMD_USER_UNIT
  std::string systemd_owner_uid;          // _SYSTEMD_OWNER_UID
  std::string systemd_slice;              // _SYSTEMD_SLICE
  std::string selinux_context;            // _SELINUX_CONTEXT
  std::string source_realtime_timestamp;  // _SOURCE_REALTIME_TIMESTAMP
  std::string boot_id;                    // _BOOT_ID
  std::string machine_id;                 // _MACHINE_ID
  std::string hostname;                   // _HOSTNAME
  std::string transport;                  // _TRANSPORT
};

struct journal_options {
  std::string directory;                                // empty: the local journal (SD_JOURNAL_LOCAL_ONLY)
  std::size_t entries_per_turn = 256;                   // entries read before yielding to the loop
  std::size_t max_entries_per_call = 10'000;            // larger requests are clamped to this
  std::size_t data_threshold = std::size_t{64} * 1024;  // longest field value returned (sd_journal_set_data_threshold)
};

class journal_reader {
 public:
  struct state;  // implementation; public only so that the .cpp's free coroutines can name it

  // Opens the journal and its change fd. Synchronous (opening maps the journal files): startup or
  // per-request is fine, it does not wait on anything.
  static result<std::unique_ptr<journal_reader>> open(boost::asio::io_context& io, journal_options options = {});

  explicit journal_reader(std::shared_ptr<state> s);
  ~journal_reader();
  journal_reader(const journal_reader&) = delete;
  journal_reader& operator=(const journal_reader&) = delete;

  // Restricts reading to entries of these units: `_SYSTEMD_UNIT=<u>` OR `_SYSTEMD_USER_UNIT=<u>`
  // for each (a system manager logs the former, a user manager the latter). Empty: everything.
  // Names are validated (422). Resets the position to the head: seek or read afterwards.
  result<void> match_units(const std::vector<std::string>& units);

  // The last `count` entries. Afterwards the position is just after the newest entry, so that
  // next_batch() continues from there ("tail -f").
  boost::asio::awaitable<result<std::vector<journal_entry>>> read_tail(std::size_t count);

  // Up to `max_entries` entries strictly after `cursor` (the cursor's own entry is never
  // included, also when it no longer exists). The position ends after the last entry returned.
  boost::asio::awaitable<result<std::vector<journal_entry>>> read_after(std::string cursor, std::size_t max_entries);

  // Up to `max_entries` entries strictly before `cursor`, the closest ones, chronological.
  // The position is unspecified afterwards.
  boost::asio::awaitable<result<std::vector<journal_entry>>> read_before(std::string cursor, std::size_t max_entries);

  // Up to `max_entries` entries at or after `realtime_usec`. Position: after the last returned.
  boost::asio::awaitable<result<std::vector<journal_entry>>> read_since(std::uint64_t realtime_usec,
                                                                        std::size_t max_entries);

  // Positions for next_batch(): before the first entry (replay everything), or after the last one
  // (only what is written from now on).
  result<void> seek_head();
  result<void> seek_tail();

  // Follow: up to `max_entries` entries after the position, returned as soon as at least one is
  // there; waits for the journal to change otherwise. Returns an empty vector when nothing arrived
  // within `wait_at_most` (so a caller can send keepalives; 0 only polls; at most 24 h).
  boost::asio::awaitable<result<std::vector<journal_entry>>> next_batch(std::size_t max_entries,
                                                                        std::chrono::milliseconds wait_at_most);

 private:
  std::shared_ptr<state> state_;
};

// The same reads, synchronous, for a work-pool thread: a tail scan (GET /systemd/logs/tail reads
// up to 200,000 entries) must not run on the loop, not even in slices. Used by one thread at a
// time (any thread); no following. Semantics as journal_reader's reads of the same name; the
// position after each read is unspecified.
class journal_scanner {
 public:
  // Opens the journal (synchronous: maps the journal files).
  static result<std::unique_ptr<journal_scanner>> open(const journal_options& options = {});
  ~journal_scanner();
  journal_scanner(const journal_scanner&) = delete;
  journal_scanner& operator=(const journal_scanner&) = delete;

  result<void> match_units(const std::vector<std::string>& units);
  result<std::vector<journal_entry>> read_tail(std::size_t count);
  result<std::vector<journal_entry>> read_after(const std::string& cursor, std::size_t max_entries);
  result<std::vector<journal_entry>> read_before(const std::string& cursor, std::size_t max_entries);
  result<std::vector<journal_entry>> read_since(std::uint64_t realtime_usec, std::size_t max_entries);

 private:
  journal_scanner(sd_journal* j, std::size_t max_entries_per_call)
      : journal_(j), max_entries_per_call_(max_entries_per_call) {}
  result<std::vector<journal_entry>> read_from_cursor(const std::string& cursor, std::size_t max_entries, bool forward);
  sd_journal* journal_;
  std::size_t max_entries_per_call_;
};

}  // namespace sc::journal
