#include "core/json_writer.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <bit>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <random>

namespace sc {
namespace {

std::string written_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

TEST(json_writer, strings_are_escaped_exactly_as_boost_json_does) {
  std::vector<std::string> samples = {"",
                                      "plain",
                                      "quote\" backslash\\ slash/",
                                      "tab\t nl\n cr\r bs\b ff\f",
                                      std::string("nul\0byte", 8),
                                      "\x01\x1f\x7f",
                                      "ünïcödé ✓ 😀",
                                      "</script><script>",
                                      "\xff\xfe invalid utf-8"};
  std::mt19937 random(42);
  for (int i = 0; i < 2000; ++i) {
    std::string noise(random() % 40, '\0');
    for (char& c : noise) c = static_cast<char>(random() % 128);  // ASCII incl. every control byte
    samples.push_back(noise);
  }
  for (const auto& text : samples) {
    if (text.find('\xff') != std::string::npos) continue;  // boost::json::string takes bytes too, but keep to UTF-8
    EXPECT_EQ(written_string(text), boost::json::serialize(boost::json::string(text))) << testing::PrintToString(text);
  }
}

TEST(json_writer, objects_arrays_and_scalars_match_serialize) {
  std::string out;
  json_writer writer(out);
  writer.begin_object();
  writer.key("a").value(std::int64_t{-5});
  writer.key("b").value(std::uint64_t{18446744073709551615ull});
  writer.key("c").value(true);
  writer.key("d").null();
  writer.key("e").value(std::vector<std::string>{"x", "y\"z"});
  writer.key("f").begin_array().begin_object().end_object().begin_array().end_array().value("s").end_array();
  writer.key("g").begin_object().key("h").value(false).end_object();
  writer.end_object();
  boost::json::object expected{{"a", -5},
                               {"b", 18446744073709551615ull},
                               {"c", true},
                               {"d", nullptr},
                               {"e", boost::json::array{"x", "y\"z"}},
                               {"f", boost::json::array{boost::json::object{}, boost::json::array{}, "s"}},
                               {"g", boost::json::object{{"h", false}}}};
  EXPECT_EQ(out, boost::json::serialize(expected));
}

TEST(json_writer, list_envelope_has_the_four_keys_in_order) {
  std::vector<std::string> items = {"one", "two", "three"};
  const list_field<std::string> fields[] = {
      {"name", [](const std::string& s) -> list_value { return std::string_view(s); }}};
  query_params query;
  query.items = {{"limit", "2"}};
  auto page = paginate<std::string>(items, parse_list_query(query), fields);
  std::string out;
  json_writer writer(out);
  write_list_envelope(writer, page, [](json_writer& w, const std::string& s) { w.value(s); });
  EXPECT_EQ(out, R"({"entries":["one","two"],"has_more":true,"total_pages":2,"total_count":3})");
}

}  // namespace
}  // namespace sc

TEST(json_writer, doubles_are_shortest_round_trip_and_non_finite_ones_null) {
  std::string out;
  sc::json_writer writer(out);
  writer.begin_array().value(1.5).value(0.1).value(2.0).value(-1e300).value(std::numeric_limits<double>::quiet_NaN());
  writer.value(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(out, "[1.5,0.1,2,-1e+300,null,null]");
}

TEST(json_writer, large_integral_doubles_are_scientific_so_the_parser_reads_them_back) {
  // Shortest plain digits would be "-33917578575732350976": past 64 bits, which simdjson refuses.
  std::mt19937_64 random(5);
  simdjson::dom::parser parser;
  for (double number : {-3.3917578575732351e+19, 9007199254740992.0, 1.8446744073709552e19, 9007199254740991.0}) {
    std::string out = sc::json_string([number](sc::json_writer& w) { w.value(number); });
    double read_back = 0;
    ASSERT_EQ(parser.parse(out).get(read_back), simdjson::SUCCESS) << out;
    EXPECT_EQ(read_back, number) << out;
  }
  EXPECT_EQ(sc::json_string([](sc::json_writer& w) { w.value(9007199254740991.0); }), "9007199254740991");
  EXPECT_EQ(sc::json_string([](sc::json_writer& w) { w.value(-3.3917578575732351e+19); }), "-3.391757857573235e+19");
  for (int i = 0; i < 20000; ++i) {
    auto number = std::bit_cast<double>(random());
    if (!std::isfinite(number)) continue;
    std::string out = sc::json_string([number](sc::json_writer& w) { w.value(number); });
    double read_back = 0;
    ASSERT_EQ(parser.parse(out).get(read_back), simdjson::SUCCESS) << out;
    ASSERT_EQ(read_back, number) << out;
  }
}

TEST(json_writer, members_set_twice_keep_their_first_place_and_last_value) {
  sc::json_members members;
  EXPECT_TRUE(members.empty());
  members.set_string("b", "first");
  members.set("a", "1");
  members.set_string("b", "se\"cond");
  std::string out;
  sc::json_writer writer(out);
  members.write(writer);
  EXPECT_EQ(out, R"({"b":"se\"cond","a":1})");
}

TEST(json_writer, empty_views_with_null_data_are_empty_strings) {
  // A default string_view has data() == nullptr; UBSan flags memcpy from it even for 0 bytes.
  std::string out;
  sc::json_writer writer(out);
  writer.begin_object()
      .key("a")
      .value(std::string_view{})
      .key(std::string_view{})
      .value(std::string_view{})
      .end_object();
  EXPECT_EQ(out, R"({"a":"","":""})");
}
