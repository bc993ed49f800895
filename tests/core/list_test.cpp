#include "core/list.hpp"

#include <gtest/gtest.h>

#include "core/json_writer.hpp"

namespace sc {
namespace {

struct item {
  std::string name;
  std::string secret;
  std::int64_t size;
  bool enabled;
};

const list_field<item> item_fields[] = {
    {"name", [](const item& i) -> list_value { return std::string_view(i.name); }},
    {"secret", [](const item& i) -> list_value { return std::string_view(i.secret); }, true},
    {"size", [](const item& i) -> list_value { return i.size; }},
    {"enabled", [](const item& i) -> list_value { return i.enabled; }},
};

std::vector<item> sample() {
  return {{"delta", "argon2id$x", 4, true},
          {"Alpha", "argon2id$y", 10, false},
          {"charlie", "argon2id$z", 2, true},
          {"bravo", "argon2id$w", 7, false}};
}

query_params params(std::initializer_list<std::pair<std::string, std::string>> items) {
  query_params q;
  q.items.assign(items.begin(), items.end());
  return q;
}

std::vector<std::string> names(const list_page<item>& page) {
  std::vector<std::string> out;
  for (const item* i : page.entries) out.push_back(i->name);
  return out;
}

TEST(list_query, defaults_and_lenient_parsing) {
  auto q = parse_list_query(params({}));
  EXPECT_EQ(q.limit, 20u);
  EXPECT_EQ(q.offset, 0u);
  q = parse_list_query(params({{"limit", "abc"}, {"offset", "-5"}}));
  EXPECT_EQ(q.limit, 20u);
  EXPECT_EQ(q.offset, 0u);
  q = parse_list_query(params({{"limit", "0"}}));
  EXPECT_EQ(q.limit, 20u);
  q = parse_list_query(params({{"limit", "99999999999999999999999"}}));
  EXPECT_EQ(q.limit, 20u);
  q = parse_list_query(params({{"limit", "3"}, {"offset", "+2"}, {"search", "AbC"}}));
  EXPECT_EQ(q.limit, 3u);
  EXPECT_EQ(q.offset, 2u);
  EXPECT_EQ(q.search, "abc");
}

TEST(paginate, keeps_original_order_without_sort) {
  auto items = sample();
  auto page = paginate<item>(items, parse_list_query(params({})), item_fields);
  EXPECT_EQ(names(page), (std::vector<std::string>{"delta", "Alpha", "charlie", "bravo"}));
  EXPECT_EQ(page.counts.total_count, 4u);
  EXPECT_EQ(page.counts.total_pages, 1u);
  EXPECT_FALSE(page.counts.has_more);
}

TEST(paginate, sorts_bytewise_ascending_and_descending) {
  auto items = sample();
  auto asc = paginate<item>(items, parse_list_query(params({{"sort_by", "name"}})), item_fields);
  EXPECT_EQ(names(asc), (std::vector<std::string>{"Alpha", "bravo", "charlie", "delta"}));
  auto desc =
      paginate<item>(items, parse_list_query(params({{"sort_by", "size"}, {"sort_order", "DESC"}})), item_fields);
  EXPECT_EQ(names(desc), (std::vector<std::string>{"Alpha", "bravo", "delta", "charlie"}));
  auto bools = paginate<item>(items, parse_list_query(params({{"sort_by", "enabled"}})), item_fields);
  EXPECT_EQ(names(bools), (std::vector<std::string>{"Alpha", "bravo", "delta", "charlie"}));  // stable: false first
}

TEST(paginate, pinned_sort_order_puts_matches_first) {
  auto items = sample();
  auto page =
      paginate<item>(items, parse_list_query(params({{"sort_by", "name"}, {"sort_order", "CHARLIE"}})), item_fields);
  EXPECT_EQ(names(page), (std::vector<std::string>{"charlie", "Alpha", "bravo", "delta"}));
}

TEST(paginate, search_is_case_insensitive_and_never_touches_secrets) {
  auto items = sample();
  auto page = paginate<item>(items, parse_list_query(params({{"search", "ALP"}})), item_fields);
  EXPECT_EQ(names(page), (std::vector<std::string>{"Alpha"}));
  auto oracle = paginate<item>(items, parse_list_query(params({{"search", "argon2id"}})), item_fields);
  EXPECT_TRUE(oracle.entries.empty());
  EXPECT_EQ(oracle.counts.total_count, 0u);
  EXPECT_EQ(oracle.counts.total_pages, 1u);
  // Sorting by a secret field keeps the original order (as an unknown field does).
  auto sorted = paginate<item>(items, parse_list_query(params({{"sort_by", "secret"}})), item_fields);
  EXPECT_EQ(names(sorted), (std::vector<std::string>{"delta", "Alpha", "charlie", "bravo"}));
}

TEST(paginate, pages_and_counts) {
  auto items = sample();
  auto first = paginate<item>(items, parse_list_query(params({{"limit", "3"}})), item_fields);
  EXPECT_EQ(first.entries.size(), 3u);
  EXPECT_TRUE(first.counts.has_more);
  EXPECT_EQ(first.counts.total_pages, 2u);
  auto second = paginate<item>(items, parse_list_query(params({{"limit", "3"}, {"offset", "3"}})), item_fields);
  EXPECT_EQ(names(second), (std::vector<std::string>{"bravo"}));
  EXPECT_FALSE(second.counts.has_more);
  auto beyond = paginate<item>(items, parse_list_query(params({{"limit", "3"}, {"offset", "1000"}})), item_fields);
  EXPECT_TRUE(beyond.entries.empty());
  EXPECT_FALSE(beyond.counts.has_more);
  EXPECT_EQ(beyond.counts.total_count, 4u);
  auto huge = paginate<item>(
      items, parse_list_query(params({{"limit", "9223372036854775807"}, {"offset", "9223372036854775807"}})),
      item_fields);
  EXPECT_TRUE(huge.entries.empty());
  EXPECT_FALSE(huge.counts.has_more);
}

TEST(envelope, has_the_four_keys_in_order_and_empty_array) {
  std::vector<item> none;
  auto page = paginate<item>(none, parse_list_query(params({})), item_fields);
  auto body = json_string([&](json_writer& w) {
    write_list_envelope(w, page, [](json_writer& entry, const item& i) { entry.value(i.name); });
  });
  EXPECT_EQ(body, R"({"entries":[],"has_more":false,"total_pages":1,"total_count":0})");
}

}  // namespace
}  // namespace sc
