#include "server/log_stream.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <vector>

#include "adapters/asio/completion.hpp"
#include "adapters/journal/journal_reader.hpp"
#include "core/json_writer.hpp"
#include "core/log.hpp"
#include "server/connection.hpp"
#include "server/journal_json.hpp"
#include "server/metrics.hpp"
#include "server/router.hpp"
#include "server/sse.hpp"

namespace sc::server {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

struct log_frame {
  std::string bytes;
  journal_query::cursor_position position;  // empty seqnum_id: not an entry (keepalive, comment)
};
using shared_frame = std::shared_ptr<const log_frame>;

const shared_frame& keepalive_frame() {
  static const shared_frame frame = std::make_shared<const log_frame>(log_frame{":\n", {}});
  return frame;
}

const shared_frame& dropped_frame() {
  static const shared_frame frame =
      std::make_shared<const log_frame>(log_frame{": dropped: the client is reading too slowly\n\n", {}});
  return frame;
}

journal_query::cursor_position position_of(const journal::journal_entry& entry) {
  // Cursors come from sd-journal itself; one that does not parse only loses de-duplication.
  auto parsed = journal_query::parse_cursor(entry.cursor, "cursor");
  return parsed ? std::move(*parsed) : journal_query::cursor_position{};
}

// "[: t=<ns>\n]id: <cursor>\ndata: <entry JSON>\n\n", appended to `out`.
void append_event(std::string& out, const journal::journal_entry& entry, long utc_offset, bool stamp) {
  if (stamp) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
    out += ": t=" + std::to_string(ns) + "\n";
  }
  std::string json;
  json.reserve(1024);
  json_writer writer(json);
  write_journal_entry(writer, entry, utc_offset);
  out += format_sse_event(json, entry.cursor);
}

// One viewer after (and, queue only, during) its replay. Owned by its group; completion handlers
// hold it too, so it outlives its last pending operation.
struct viewer : std::enable_shared_from_this<viewer> {
  viewer(log_hub& owner, const http::executor& executor, std::size_t queue_capacity)
      : hub(owner), socket(executor), capacity(queue_capacity) {}

  log_hub& hub;
  http::stream socket;
  // FIFO of frames; [head, head + in_flight) are being written. Released when empty, so an idle
  // viewer holds no queue memory at all.
  std::vector<shared_frame> queue;
  std::vector<asio::const_buffer> buffers;  // of the write in flight; released after it
  std::size_t head = 0;
  std::size_t in_flight = 0;
  std::size_t capacity;
  journal_query::cursor_position last;  // the newest entry queued or replayed
  steady::time_point write_started{};
  steady::time_point last_sent = steady::now();
  bool has_last = false;
  bool live = false;
  bool writing = false;
  bool closed = false;
  bool overflowed = false;

  std::size_t pending() const noexcept { return queue.size() - head; }

  // Queues `frame`; starts a write unless `defer_flush` (the caller queues more, then flushes once).
  void push(const shared_frame& frame, bool defer_flush = false) {
    if (closed || overflowed) return;
    bool entry = !frame->position.seqnum_id.empty();
    if (live && entry && has_last && !journal_query::comes_after(frame->position, last)) return;
    if (pending() >= capacity) {
      overflow();
      return;
    }
    if (live && entry) {
      last = frame->position;
      has_last = true;
    }
    queue.push_back(frame);
    if (!defer_flush) flush();
  }

  void overflow() {
    // Frames being written stay (the write references them); the rest is dropped with the viewer.
    overflowed = true;
    queue.resize(head + in_flight);
    queue.push_back(dropped_frame());
    flush();
  }

  // The replay has ended at `replayed` (if any): queued entries it already covered are dropped,
  // the socket is ours, and writing starts.
  void go_live(const journal_query::cursor_position* replayed) {
    if (replayed != nullptr) {
      last = *replayed;
      has_last = true;
    }
    std::vector<shared_frame> kept;
    kept.reserve(pending());
    for (std::size_t i = head; i < queue.size(); ++i) {
      const auto& frame = queue[i];
      bool entry = !frame->position.seqnum_id.empty();
      if (entry && has_last && !journal_query::comes_after(frame->position, last)) continue;
      if (entry) {
        last = frame->position;
        has_last = true;
      }
      kept.push_back(frame);
    }
    queue = std::move(kept);
    head = 0;
    live = true;
    last_sent = steady::now();
    // The client sends nothing after its request: readiness means it closed (or misbehaves), and
    // either way the stream ends. A wait needs no buffer, unlike a read.
    socket.async_wait(asio::socket_base::wait_read,
                      [self = shared_from_this()](boost::system::error_code) { self->close(); });
    flush();
  }

  void flush() {
    if (!live || writing || closed) return;
    if (pending() == 0) {
      if (overflowed) close();
      return;
    }
    in_flight = std::min<std::size_t>(pending(), 64);
    buffers.reserve(in_flight);
    for (std::size_t i = 0; i < in_flight; ++i) buffers.push_back(asio::buffer(queue[head + i]->bytes));
    writing = true;
    write_started = steady::now();
    asio::async_write(socket, buffers,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->write_done(ec); });
  }

  void write_done(boost::system::error_code ec) {
    writing = false;
    buffers = {};
    head += in_flight;
    in_flight = 0;
    if (head == queue.size()) {
      queue = {};
      head = 0;
    } else if (head >= 64) {
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
    if (ec || closed) {
      close();
      return;
    }
    last_sent = steady::now();
    flush();
  }

  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    socket.close(ignored);
    if (!writing) {
      queue = {};
      head = 0;
    }
    hub.viewer_closed();
  }
};

}  // namespace

struct log_hub::group {
  std::string unit;
  std::unique_ptr<journal::journal_reader> reader;
  std::vector<std::shared_ptr<viewer>> viewers;
  steady::time_point last_tick = steady::now();
  long utc_offset = 0;
  bool stopped = false;

  void prune() {
    std::erase_if(viewers, [](const std::shared_ptr<viewer>& v) { return v->closed; });
  }

  // A keepalive for an idle viewer; a stalled write ends its viewer.
  static void tick(viewer& v, steady::time_point now, const log_stream_options& options) {
    if (v.closed || !v.live) return;
    if (v.writing) {
      if (now - v.write_started > options.write_timeout) v.close();
    } else if (v.pending() == 0 && now - v.last_sent >= options.keepalive) {
      v.push(keepalive_frame());
    }
  }

  void close_all() {
    for (const auto& v : viewers) v->close();
    viewers.clear();
  }
};

namespace {

// The group's reader: follows the journal and publishes each entry, formatted once, to every
// viewer. Ends when the group has no viewer left, on a journal error (its streams end too) or on
// stop. `hub` outlives it: the hub's owner keeps the loop running until stop() has finished it.
asio::awaitable<void> follow(log_hub& hub, std::shared_ptr<log_hub::group> g, log_stream_options options, bool stamp) {
  while (!g->stopped) {
    auto batch = co_await g->reader->next_batch(256, options.keepalive);
    if (g->stopped) break;
    if (!batch) {
      log::warning("log stream " + (g->unit.empty() ? std::string("(system)") : g->unit) + ": " +
                   (batch.error().internal.empty() ? batch.error().detail : batch.error().internal));
      break;
    }
    std::vector<shared_frame> frames;
    frames.reserve(batch->size());
    for (const auto& entry : *batch) {
      auto frame = std::make_shared<log_frame>();
      append_event(frame->bytes, entry, g->utc_offset, stamp);
      frame->position = position_of(entry);
      frames.push_back(std::move(frame));
    }
    // Fan out in slices, yielding to the loop between them: with ten thousand viewers one batch is
    // ten thousand sends, and /health and other requests must not wait for all of them. Each viewer
    // gets the whole batch at once and one write. Viewers joining meanwhile are appended (index
    // loop) and are still replaying: their replay covers these entries. Keepalive rounds are
    // sliced the same way.
    auto now = steady::now();
    const bool keepalive_round = now - g->last_tick >= options.keepalive;
    if (keepalive_round) g->last_tick = now;
    constexpr std::size_t slice = 256;
    for (std::size_t begin = 0; begin < g->viewers.size() && !g->stopped; begin += slice) {
      std::size_t end = std::min(g->viewers.size(), begin + slice);
      for (std::size_t i = begin; i < end; ++i) {
        auto v = g->viewers[i];
        if (!frames.empty()) {
          for (const auto& frame : frames) v->push(frame, true);
          v->flush();
        }
        if (keepalive_round) log_hub::group::tick(*v, now, options);
      }
      if (end < g->viewers.size()) co_await asio::post(asio::use_awaitable);
    }
    if (g->stopped) break;
    g->prune();
    if (g->viewers.empty()) break;
  }
  g->stopped = true;
  g->close_all();
  hub.group_finished(g->unit, g.get());
  g->reader.reset();
}

}  // namespace

log_hub::log_hub(asio::io_context& io, metrics& counters, log_stream_options options)
    : io_(io), counters_(counters), options_(options) {
  const char* stamp = std::getenv("SC_LOG_STREAM_STAMP");
  stamp_frames_ = stamp != nullptr && std::string_view(stamp) == "1";
}

log_hub::~log_hub() {
  stop();
}

void log_hub::viewer_closed() noexcept {
  if (viewers_ > 0) --viewers_;
  counters_.sse_unsubscribed();
}

void log_hub::group_finished(const std::string& unit, const group* finished) {
  auto it = groups_.find(unit);
  if (it != groups_.end() && it->second.get() == finished) groups_.erase(it);
}

void log_hub::stop() {
  if (stopped_) return;
  stopped_ = true;
  auto groups = std::move(groups_);
  groups_.clear();
  for (auto& [unit, g] : groups) {
    g->stopped = true;
    g->close_all();
    // Destroying the reader completes its suspended wait at once; `follow` then finishes.
    g->reader.reset();
  }
}

result<std::shared_ptr<log_hub::group>> log_hub::group_for(const std::string& unit) {
  if (auto it = groups_.find(unit); it != groups_.end() && !it->second->stopped) return it->second;
  auto reader = journal::journal_reader::open(io_);
  if (!reader) return reader.error();
  if (!unit.empty()) {
    std::vector<std::string> units{unit};
    if (auto ok = (*reader)->match_units(units); !ok) return ok.error();
  }
  if (auto ok = (*reader)->seek_tail(); !ok) return ok.error();
  auto g = std::make_shared<group>();
  g->unit = unit;
  g->reader = std::move(*reader);
  g->utc_offset = local_utc_offset();
  groups_[unit] = g;
  asio::co_spawn(io_, follow(*this, g, options_, stamp_frames_), log_escaped{"log stream reader"});
  return g;
}

asio::awaitable<result<void>> log_hub::serve(request_context& context, journal_query::stream_query query,
                                             std::size_t max_viewers) {
  if (stopped_) co_return problem::unavailable("the server is stopping");
  if (viewers_ >= max_viewers) {
    problem p =
        problem::unavailable("too many log viewers (limit " + std::to_string(max_viewers) + "); try again later");
    p.retry_after = 5;
    co_return p;
  }
  // lines=0 without Last-Event-ID replays nothing: no private reader (opening one maps every
  // journal file, which a thousand viewers connecting at once would feel).
  const bool replays = !query.last_event_id.empty() || !query.lines || *query.lines > 0;
  std::unique_ptr<journal::journal_reader> replay;
  if (replays) {
    auto opened = journal::journal_reader::open(io_);
    if (!opened) co_return opened.error();
    replay = std::move(*opened);
  }
  if (replay && !query.unit.empty()) {
    std::vector<std::string> units{query.unit};
    if (auto ok = replay->match_units(units); !ok) co_return ok.error();
  }
  const std::size_t batch_size = options_.replay_batch;

  // The first read happens before the 200 goes out, so a cursor the journal refuses is a 422.
  result<std::vector<journal::journal_entry>> first = std::vector<journal::journal_entry>{};
  if (!query.last_event_id.empty()) {
    first = co_await replay->read_after(query.last_event_id, batch_size);
  } else if (!replays) {
    // Live only: the group's own position is the start.
  } else if (query.lines) {
    first = co_await replay->read_tail(*query.lines);
  } else {
    if (auto ok = replay->seek_head(); !ok) co_return ok.error();
    first = co_await replay->next_batch(batch_size, std::chrono::milliseconds(0));
  }
  if (!first) co_return first.error();
  if (stopped_) co_return problem::unavailable("the server is stopping");
  if (viewers_ >= max_viewers) co_return problem::unavailable("too many log viewers; try again later");

  // Join the live group before the replay's final read: whatever the group reads from now on is
  // queued, and go_live() drops what the replay already sent.
  auto joined = group_for(query.unit);
  if (!joined) co_return joined.error();
  auto self = std::make_shared<viewer>(*this, context.stream.get_executor(), options_.queue_capacity);
  (*joined)->viewers.push_back(self);
  ++viewers_;
  counters_.sse_subscribed();

  connection* owner = context.owner;
  auto arm = [owner](std::chrono::milliseconds timeout) {
    if (owner != nullptr) owner->expires_after(timeout);
  };
  const long utc_offset = local_utc_offset();
  std::string header = sse_head(context.request, context.services);
  context.response_written = true;
  if (owner != nullptr) {
    owner->state = connection::phase::streaming;
    // On shutdown the app ends streaming connections through this hook: closing the socket ends
    // a replay stuck in a write at once instead of after the grace period.
    owner->stop_stream = [&stream = context.stream] {
      boost::system::error_code ignored;
      stream.close(ignored);
    };
  }
  arm(options_.write_timeout);
  auto [header_ec, header_n] = co_await asio::async_write(context.stream, asio::buffer(header), io_result);
  if (header_ec) {
    self->close();
    co_return result<void>{};
  }

  journal_query::cursor_position replayed;
  bool has_replayed = false;
  std::vector<journal::journal_entry> batch = std::move(*first);
  std::string out;
  for (;;) {
    if (!batch.empty()) {
      out.clear();
      for (const auto& entry : batch) append_event(out, entry, utc_offset, false);
      replayed = position_of(batch.back());
      has_replayed = true;
      arm(options_.write_timeout);
      auto [ec, n] = co_await asio::async_write(context.stream, asio::buffer(out), io_result);
      if (ec) {
        self->close();
        co_return result<void>{};
      }
    }
    if (stopped_ || self->closed || self->overflowed || !replay) break;
    auto next = co_await replay->next_batch(batch_size, std::chrono::milliseconds(0));
    if (!next) {
      self->close();
      co_return result<void>{};
    }
    batch = std::move(*next);
    if (batch.empty()) break;
  }
  if (owner != nullptr) owner->expires_never();
  if (stopped_ || self->closed) {
    self->close();
    co_return result<void>{};
  }
  // Detach: the socket moves to the viewer; the connection's coroutine ends and frees its buffers.
  self->socket = std::move(context.stream);
  self->go_live(has_replayed ? &replayed : nullptr);
  co_return result<void>{};
}

}  // namespace sc::server
