#pragma once
// Live journal streams (GET /systemd/logs) at scale: one journal reader per distinct filter (unit
// or system-wide), fanned out to every viewer of that filter.
//
// A viewer first gets its own replay (the newest `lines`, everything after Last-Event-ID, or the
// whole history) from a private reader, written by the request's coroutine; it joins its filter's
// group *before* the replay ends, so nothing written meanwhile is lost, and entries it already
// got in the replay are dropped by journal sequence number (no gap, no duplicate). Then the
// viewer is detached from the HTTP connection: the connection's coroutine, parser and buffers are
// released, and what is left per idle viewer is its socket and a small queue of shared,
// pre-serialised frames (each frame is formatted once per group, `id: <cursor>` included).
//
// Limits: every viewer's queue is bounded; a viewer that falls that far behind, or whose write
// stalls past the write timeout, gets a final comment (when the socket takes it) and is
// disconnected. The total number of viewers is capped (503 beyond). A viewer that disconnects is
// noticed at once (a read-readiness wait on its socket); a group without viewers closes its reader
// within one keepalive interval.
//
// Loop-thread only. Keepalive comments (":\n") go to idle viewers every `keepalive`.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "core/journal_query.hpp"
#include "core/problem.hpp"

namespace boost::asio {
class io_context;
}

namespace sc::server {

class metrics;
struct request_context;

struct log_stream_options {
  std::size_t queue_capacity = 256;  // frames queued per viewer before it is dropped
  std::chrono::milliseconds keepalive{1000};
  std::chrono::milliseconds write_timeout{10'000};
  std::size_t replay_batch = 512;  // entries per replay write
};

class log_hub {
 public:
  struct group;  // implementation; public only so that the .cpp's free coroutines can name it

  log_hub(boost::asio::io_context& io, metrics& counters, log_stream_options options = {});
  ~log_hub();
  log_hub(const log_hub&) = delete;
  log_hub& operator=(const log_hub&) = delete;

  // Serves one viewer on the request's connection. Before anything is written, failures are
  // returned (503 when `max_viewers` are already watching or the hub is stopping, 503 when the
  // journal cannot be opened, 422 for a Last-Event-ID the journal refuses); after the 200 header
  // has gone out the value is success and `context.response_written` is set. On success the
  // connection's socket has been moved into the hub.
  boost::asio::awaitable<result<void>> serve(request_context& context, journal_query::stream_query query,
                                             std::size_t max_viewers);

  std::size_t viewers() const noexcept { return viewers_; }
  std::size_t groups() const noexcept { return groups_.size(); }
  // Ends every stream and reader (shutdown). Streams being replayed end at their next batch.
  void stop();

  // Called by groups and viewers (implementation detail).
  void viewer_closed() noexcept;
  void group_finished(const std::string& unit, const group* finished);

 private:
  result<std::shared_ptr<group>> group_for(const std::string& unit);

  boost::asio::io_context& io_;
  metrics& counters_;
  log_stream_options options_;
  std::map<std::string, std::shared_ptr<group>> groups_;
  std::size_t viewers_ = 0;
  bool stopped_ = false;
  bool stamp_frames_ = false;  // SC_LOG_STREAM_STAMP=1: frames carry ": t=<CLOCK_MONOTONIC ns>" (benches)
};

}  // namespace sc::server
