// townctl reads with simdjson and writes with core/json_writer (issue 12), in the bytes it printed
// when it read and wrote with Boost.JSON: scripts read its output. Boost.JSON is the oracle here.
#include "tools/townctl/client/json.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <random>

#include "core/json_reader.hpp"

namespace sc::client {
namespace {

std::string oracle(std::string_view text) {
  return boost::json::serialize(boost::json::parse(text));
}

std::string ours(std::string_view text) {
  auto document = json_document::parse(text);
  EXPECT_TRUE(document) << text;
  return document ? json_text(document->root()) : std::string();
}

std::string nested(int levels, std::string_view open, std::string_view close) {
  std::string out;
  for (int i = 0; i < levels; ++i) out += open;
  out += "1";
  for (int i = 0; i < levels; ++i) out += close;
  return out;
}

TEST(townctl_json, documents_are_written_back_as_boost_json_wrote_them) {
  for (std::string_view text : {
           R"({"name":"data","quota":67108864,"usage":0,"state":"user"})",
           R"({"a":1,"b":2,"a":3})",  // a key given twice: its first place, its last value
           R"({"d":{"k":1,"k":{"x":[1,2]}},"k":null})",
           R"([9223372036854775807,-9223372036854775808,18446744073709551615,-0,0])",
           R"(["\u0001\u001f\"\\\/\b\f\n\r\t","\u007f","é\u2028😀",""])",
           R"({"\u0000key\n":"v","":true,"f":false})",
           "  {\"spaces\" :  [ 1 , { } , [ ] ]  }  ",
           "\"a string\"",
           "null",
           "12",
       }) {
    EXPECT_EQ(ours(text), oracle(text)) << text;
  }
  // Doubles as json_writer writes them, each the same double again.
  std::string_view doubles = "[1.5,-0.0,0.1,1e21,1e22,5e-324,123.45,-1e-7,2.2250738585072014e-308,0.30000000000000004]";
  std::string echoed = ours(doubles);
  EXPECT_EQ(echoed, "[1.5,-0,0.1,1e+21,1e+22,5e-324,123.45,-1e-07,2.2250738585072014e-308,0.30000000000000004]");
  auto expected = boost::json::parse(doubles).as_array();
  auto read_back = boost::json::parse(echoed).as_array();
  ASSERT_EQ(read_back.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(read_back[i].to_number<double>(), expected[i].to_number<double>()) << i;
  }
}

TEST(townctl_json, doubles_are_written_as_the_server_writes_them_and_read_back_the_same) {
  auto check = [](double number) {
    std::string written = json_string([number](json_writer& w) { w.value(number); });
    std::string echoed = ours(written);
    EXPECT_EQ(echoed, written) << number;
    // Read back exactly (simdjson; Boost.JSON's default parse may be an ulp off).
    auto read_back = json_document::parse(echoed);
    ASSERT_TRUE(read_back) << echoed;
    EXPECT_EQ(read_back->root().get_double().value_unsafe(), number) << echoed;
  };
  for (double number : {0.0, 1.0, -1.0, 0.1, 1.5, 100.0, 1e21, 1e22, 1e-7, 5e-324, 9007199254740993.0,
                        std::numeric_limits<double>::max(), std::numeric_limits<double>::min(),
                        std::numeric_limits<double>::lowest()}) {
    check(number);
  }
  std::mt19937_64 random(12);  // fixed: the same doubles on every run
  for (int i = 0; i < 20000; ++i) {
    auto number = std::bit_cast<double>(random());
    if (std::isfinite(number)) check(number);
  }
}

TEST(townctl_json, a_key_given_twice_reads_as_its_last_value) {
  auto document = json_document::parse(R"({"a":1,"b":2,"a":"last"})");
  ASSERT_TRUE(document);
  simdjson::dom::object object;
  ASSERT_EQ(document->root().get(object), simdjson::SUCCESS);
  EXPECT_EQ(string_member(object, "a"), "last");
  EXPECT_EQ(string_member(object, "b"), "2");
  EXPECT_EQ(string_member(object, "absent"), "");
  auto listed = members(object);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].first, "a");
  EXPECT_EQ(text_of(listed[0].second), "last");
  EXPECT_EQ(listed[1].first, "b");
}

TEST(townctl_json, members_tolerate_what_a_newer_or_older_server_sends) {
  auto document =
      json_document::parse(R"({"n":1.9,"u":18446744073709551615,"s":"7","b":true,"z":null,"o":{"x":1},"d":2.5})");
  ASSERT_TRUE(document);
  simdjson::dom::object object;
  ASSERT_EQ(document->root().get(object), simdjson::SUCCESS);
  EXPECT_EQ(integer_member(object, "n"), 1);
  EXPECT_EQ(integer_member(object, "u"), -1);
  EXPECT_EQ(integer_member(object, "s"), 0);
  EXPECT_TRUE(boolean_member(object, "b"));
  EXPECT_FALSE(boolean_member(object, "s"));
  EXPECT_EQ(string_member(object, "z"), "");
  EXPECT_EQ(string_member(object, "o"), R"({"x":1})");
  EXPECT_EQ(string_member(object, "d"), "2.5");
}

TEST(townctl_json, what_is_not_json_fails_in_the_words_townctl_used) {
  // Nesting: Boost.JSON's limit of 32 levels is kept.
  for (const auto& text : {nested(32, "[", "]"), nested(32, R"({"a":)", "}")}) {
    EXPECT_TRUE(json_document::parse(text)) << text;
    EXPECT_EQ(ours(text), oracle(text));
  }
  for (const std::string& text : {std::string("<html>bad gateway</html>"), std::string("\"\xff\""),
                                  std::string("{\"a\":\"\xc3\x28\"}"), std::string(), std::string("   "),
                                  std::string("{\"a\":\"b"), nested(33, "[", "]"), nested(40, R"({"a":)", "}")}) {
    boost::system::error_code ec;
    boost::json::parse(text, ec);
    ASSERT_TRUE(ec) << text;
    std::string failure;
    EXPECT_FALSE(json_document::parse(text, &failure)) << text;
    EXPECT_EQ(failure, ec.message()) << text;
  }
  // Where the two parsers part: a truncated document or trailing bytes are a syntax error
  // ("incomplete JSON" and "extra data" before), and numbers beyond the 64-bit integers and the
  // doubles are not read (Boost.JSON rounded them to a double or infinity).
  for (std::string_view text : {R"({"a":)", R"([1,2] x)", "18446744073709551616", "-9223372036854775809", "1e400"}) {
    std::string failure;
    EXPECT_FALSE(json_document::parse(text, &failure)) << text;
    EXPECT_EQ(failure, "syntax error") << text;
  }
}

TEST(townctl_json, a_text_answer_becomes_a_string_even_when_it_is_not_utf8) {
  auto plain = json_document::string("metric 1\n");
  ASSERT_TRUE(plain.root().is_string());
  EXPECT_EQ(plain.root().get_string().value(), "metric 1\n");
  auto broken = json_document::string(
      "a\xff"
      "b\xc3\x28"
      "c\xe2\x82");
  ASSERT_TRUE(broken.root().is_string());
  EXPECT_EQ(broken.root().get_string().value(),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD(c\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(json_document().root().is_null());
}

TEST(townctl_json, a_document_outlives_later_parses_on_the_same_thread) {
  auto first = json_document::parse(R"({"kept":"first"})");
  ASSERT_TRUE(first);
  auto second = json_document::parse(R"({"kept":"second"})");
  ASSERT_TRUE(second);
  simdjson::dom::element shared;
  ASSERT_EQ(sc::json::parse(R"({"kept":"thread's"})").get(shared), simdjson::SUCCESS);
  json_document moved = std::move(*first);
  simdjson::dom::object object;
  ASSERT_EQ(moved.root().get(object), simdjson::SUCCESS);
  EXPECT_EQ(string_member(object, "kept"), "first");
  ASSERT_EQ(second->root().get(object), simdjson::SUCCESS);
  EXPECT_EQ(string_member(object, "kept"), "second");
}

}  // namespace
}  // namespace sc::client
