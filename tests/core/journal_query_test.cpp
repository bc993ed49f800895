#include "core/journal_query.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sc::journal_query {
namespace {

const std::string valid_cursor =
    "s=3622950857b84a368011ecbf6d4f81a4;i=7e6;b=d394ab89b92e4396b81af3eb2e8eca24;m=236f7292c;t=660e119cad0f7;"
    "x=7aa8db66976c9367";

query_params params(std::initializer_list<std::pair<std::string, std::string>> items) {
  query_params q;
  for (const auto& item : items) q.items.push_back(item);
  return q;
}

void expect_field_problem(const result<tail_query>& r, int status, const std::string& field) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, status);
  ASSERT_FALSE(r.error().errors.empty());
  EXPECT_EQ(r.error().errors.front().field, field);
}

TEST(journal_query, parses_cursors_written_by_sd_journal) {
  auto parsed = parse_cursor(valid_cursor, "after");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().detail;
  EXPECT_EQ(parsed->seqnum_id, "3622950857b84a368011ecbf6d4f81a4");
  EXPECT_EQ(parsed->seqnum, 0x7e6u);
}

TEST(journal_query, refuses_anything_else_as_a_cursor_naming_the_field) {
  const std::vector<std::string> refused = {
      std::string(), std::string("abc"), valid_cursor + ";", valid_cursor + ";y=1", ";" + valid_cursor,
      valid_cursor.substr(0, valid_cursor.size() - 1) + "G",
      "i=7e6;s=3622950857b84a368011ecbf6d4f81a4;b=d394ab89b92e4396b81af3eb2e8eca24;m=1;t=1;x=1",
      "s=36;i=7e6;b=d394ab89b92e4396b81af3eb2e8eca24;m=1;t=1;x=1",
      // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one cursor, split to fit the line
      "s=3622950857b84a368011ecbf6d4f81a4;i=11111111111111111;b=d394ab89b92e4396b81af3eb2e8eca24;m=1;"
      "t=1;x=1",
      "s=3622950857b84a368011ecbf6d4f81a4;i=;b=d394ab89b92e4396b81af3eb2e8eca24;m=1;t=1;x=1", std::string(300, 'a'),
      std::string("s=\0", 3)};
  for (const auto& bad : refused) {
    auto r = parse_cursor(bad, "Last-Event-ID");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().status, 422);
    EXPECT_EQ(r.error().errors.front().field, "Last-Event-ID");
  }
}

// Deterministic mutation harness: every mutation of a valid cursor either parses to a position or
// is a 422 naming the field; never anything else (and ASan/UBSan watch the parser meanwhile).
TEST(journal_query, cursor_parser_survives_mutations) {
  std::mt19937 random(4242);
  static constexpr char raw_alphabet[] = "0123456789abcdefABCDEF;=sibmtx\0\n\xff -";
  const std::string alphabet(raw_alphabet, sizeof raw_alphabet - 1);
  int accepted = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::string text = valid_cursor;
    int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = text.empty() ? 0 : random() % text.size();
      char c = alphabet[random() % alphabet.size()];
      switch (random() % 4) {
        case 0:
          if (!text.empty()) text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 2:
          if (!text.empty()) text.erase(at, 1 + random() % 8);
          break;
        default:
          text = text.substr(0, at);
          break;
      }
    }
    auto r = parse_cursor(text, "before");
    if (r) {
      ++accepted;
      EXPECT_EQ(r->seqnum_id.size(), 32u);
    } else {
      EXPECT_EQ(r.error().status, 422) << text;
      EXPECT_EQ(r.error().errors.front().field, "before");
    }
  }
  EXPECT_GT(accepted, 0);  // hex-for-hex substitutions stay cursors: the harness reaches both paths
}

TEST(journal_query, orders_positions_of_one_journal_only) {
  cursor_position a{"aa", 5};
  cursor_position b{"aa", 6};
  cursor_position other{"bb", 1};
  EXPECT_TRUE(comes_after(b, a));
  EXPECT_FALSE(comes_after(a, b));
  EXPECT_FALSE(comes_after(a, a));
  EXPECT_TRUE(comes_after(other, b));
}

TEST(journal_query, tail_query_defaults_and_modes) {
  auto q = parse_tail_query(params({}));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->lines, 100u);
  EXPECT_EQ(q->how, tail_query::mode::tail);
  EXPECT_EQ(q->unit, "");

  q = parse_tail_query(params({{"unit", "__system__"}, {"lines", "0"}}));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->unit, "");
  EXPECT_EQ(q->lines, 100u);

  q = parse_tail_query(params({{"unit", "a.service"}, {"lines", "99999999"}, {"grep", "NeEdLe"}, {"priority", "3"}}));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->unit, "a.service");
  EXPECT_EQ(q->lines, max_tail_lines);
  EXPECT_EQ(q->grep, "needle");
  EXPECT_EQ(q->priority, 3);

  q = parse_tail_query(params({{"since", "100"}, {"until", "200"}}));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->how, tail_query::mode::since);
  EXPECT_EQ(*q->since, 100);
  EXPECT_EQ(*q->until, 200);

  q = parse_tail_query(params({{"since", "100"}, {"after", valid_cursor}}));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->how, tail_query::mode::after);  // since is ignored when a cursor is given (§8.4)
  q = parse_tail_query(params({{"before", valid_cursor}}));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->how, tail_query::mode::before);
}

TEST(journal_query, tail_query_rejects_bad_parameters_naming_them) {
  expect_field_problem(parse_tail_query(params({{"lines", "ten"}})), 422, "lines");
  expect_field_problem(parse_tail_query(params({{"lines", "-1"}})), 422, "lines");
  expect_field_problem(parse_tail_query(params({{"lines", "1.5"}})), 422, "lines");
  expect_field_problem(parse_tail_query(params({{"since", "-5"}})), 422, "since");
  expect_field_problem(parse_tail_query(params({{"until", "99999999999999999999"}})), 422, "until");
  expect_field_problem(parse_tail_query(params({{"priority", "8"}})), 422, "priority");
  expect_field_problem(parse_tail_query(params({{"priority", " 1"}})), 422, "priority");
  expect_field_problem(parse_tail_query(params({{"unit", "../etc/passwd"}})), 422, "unit");
  expect_field_problem(parse_tail_query(params({{"unit", "x"}})), 422, "unit");
  expect_field_problem(parse_tail_query(params({{"before", "nope"}})), 422, "before");
  expect_field_problem(parse_tail_query(params({{"after", "nope"}})), 422, "after");
  expect_field_problem(parse_tail_query(params({{"grep", std::string(2000, 'a')}})), 422, "grep");
  expect_field_problem(parse_tail_query(params({{"before", valid_cursor}, {"after", valid_cursor}})), 422, "before");
}

TEST(journal_query, stream_query_takes_last_event_id_from_header_or_query) {
  auto q = parse_stream_query(params({{"unit", "a.service"}, {"lines", "5"}}), "");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(*q->lines, 5u);
  EXPECT_TRUE(q->last_event_id.empty());
  q = parse_stream_query(params({}), valid_cursor);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->last_event_id, valid_cursor);
  q = parse_stream_query(params({{"last_event_id", valid_cursor}}), "");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->last_event_id, valid_cursor);
  auto bad = parse_stream_query(params({}), "garbage");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errors.front().field, "Last-Event-ID");
  EXPECT_FALSE(parse_stream_query(params({{"lines", "x"}}), "").has_value());
  EXPECT_FALSE(parse_stream_query(params({{"unit", "a b.service"}}), "").has_value());
}

TEST(journal_query, entry_filters) {
  EXPECT_TRUE(entry_matches("Hello World", "6", "", 0));
  EXPECT_TRUE(entry_matches("Hello World", "6", "o w", 0));
  EXPECT_TRUE(entry_matches("Hello World", "6", "world", 0));
  EXPECT_FALSE(entry_matches("Hello World", "6", "worlds", 0));
  EXPECT_TRUE(entry_matches("x", "3", "", 3));
  EXPECT_TRUE(entry_matches("x", "0", "", 3));
  EXPECT_FALSE(entry_matches("x", "4", "", 3));
  EXPECT_FALSE(entry_matches("x", "", "", 3));
  EXPECT_TRUE(entry_matches("x", "", "", 0));
}

TEST(journal_query, timestamps_as_go_rfc3339_nano) {
  EXPECT_EQ(format_rfc3339_nano(1'700'000'000'123'450, 0), "2023-11-14T22:13:20.12345Z");
  EXPECT_EQ(format_rfc3339_nano(1'700'000'000'000'000, 0), "2023-11-14T22:13:20Z");
  EXPECT_EQ(format_rfc3339_nano(1'700'000'000'000'001, 3600), "2023-11-14T23:13:20.000001+01:00");
  EXPECT_EQ(format_rfc3339_nano(1'700'000'000'500'000, -(5 * 3600 + 1800)), "2023-11-14T16:43:20.5-05:30");
}

TEST(journal_query, utf8_is_made_valid_like_go) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_EQ(to_valid_utf8("a\xff"
                          "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(to_valid_utf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(to_valid_utf8("h\xc3\xa9"), "h\xc3\xa9");
}

}  // namespace
}  // namespace sc::journal_query
