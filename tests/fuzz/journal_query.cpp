// Journal cursors and the query parameters of GET /systemd/logs/tail and GET /systemd/logs
// (core/journal_query.hpp). Input: a Last-Event-ID header line, then "key=value" query lines as the
// transport decodes them. Every refusal is a 422; what is accepted stays within the documented
// bounds; cursors that parse are ordered consistently; UTF-8 repair yields valid UTF-8.
#include "core/journal_query.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"

namespace jq = sc::journal_query;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sc::fuzz::input in(data, size);
  std::string_view last_event_id = in.piece('\n');
  sc::query_params query;
  while (!in.empty()) {
    std::string_view line = in.piece('\n');
    auto eq = line.find('=');
    query.items.emplace_back(std::string(line.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : std::string(line.substr(eq + 1)));
  }

  auto cursor = jq::parse_cursor(last_event_id, "Last-Event-ID");
  if (cursor) {
    sc::fuzz::check(last_event_id.size() <= jq::max_cursor_length, "a cursor is bounded");
    sc::fuzz::check(!jq::comes_after(*cursor, *cursor), "a cursor does not come after itself");
  } else {
    sc::fuzz::check(cursor.error().status == 422, "a bad cursor is a 422");
    sc::fuzz::check_client_problem(cursor.error(), "parse_cursor");
  }
  for (const auto& [key, value] : query.items) {
    auto other = jq::parse_cursor(value, key);
    if (cursor && other && cursor->seqnum_id == other->seqnum_id) {
      sc::fuzz::check(!(jq::comes_after(*cursor, *other) && jq::comes_after(*other, *cursor)),
                      "cursors of one journal are ordered");
    }
  }

  if (auto tail = jq::parse_tail_query(query)) {
    sc::fuzz::check(tail->lines >= 1 && tail->lines <= jq::max_tail_lines, "tail lines are 1..max");
    sc::fuzz::check(tail->priority >= 0 && tail->priority <= 7, "priority is 0..7");
    sc::fuzz::check(tail->grep.size() <= 1024, "grep is bounded");
    sc::fuzz::check(tail->before.empty() || tail->after.empty(), "never both before and after");
    for (std::string_view message : {std::string_view("fuzz"), last_event_id}) {
      (void)jq::entry_matches(message, "3", tail->grep, tail->priority);
    }
  } else {
    sc::fuzz::check(tail.error().status == 422, "a bad tail query is a 422");
    sc::fuzz::check_client_problem(tail.error(), "parse_tail_query");
  }
  if (auto stream = jq::parse_stream_query(query, last_event_id)) {
    sc::fuzz::check(!stream->lines || *stream->lines <= jq::max_stream_replay_lines, "replay lines are bounded");
    if (!stream->last_event_id.empty()) {
      sc::fuzz::check(jq::parse_cursor(stream->last_event_id, "x").has_value(), "a resume point is a valid cursor");
    }
  } else {
    sc::fuzz::check(stream.error().status == 422, "a bad stream query is a 422");
    sc::fuzz::check_client_problem(stream.error(), "parse_stream_query");
  }

  std::string repaired = jq::to_valid_utf8(last_event_id);
  sc::fuzz::check(jq::is_valid_utf8(repaired), "repaired text is valid UTF-8");
  if (jq::is_valid_utf8(last_event_id)) sc::fuzz::check(repaired == last_event_id, "valid UTF-8 is kept as is");
  std::uint64_t usec = 0;
  for (std::size_t i = 0; i < 8 && i < size; ++i) usec = (usec << 8) | data[i];
  long offset = static_cast<long>(size % 1440) * 60 - 720 * 60;
  sc::fuzz::check(!jq::format_rfc3339_nano(usec % (std::uint64_t{1} << 60), offset).empty(), "a timestamp formats");
  return 0;
}
