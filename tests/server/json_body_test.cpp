#include "server/json_body.hpp"

#include <gtest/gtest.h>

namespace sc::server {
namespace {

TEST(json_body, malformed_empty_and_non_object_bodies_are_400) {
  for (std::string_view text : {"", "   ", "{", "[1,2]", "\"x\"", "null", "{\"a\":}"}) {
    auto body = json_body::parse(text);
    ASSERT_FALSE(body) << text;
    EXPECT_EQ(body.error().status, 400) << text;
  }
}

TEST(json_body, reads_required_and_optional_members) {
  auto body =
      json_body::parse(R"({"username":"alice","Admin":true,"n":5,"list":["a","b"],"fields":{"email":"x@y.z"}})");
  ASSERT_TRUE(body);
  EXPECT_EQ(body->string("username"), "alice");
  EXPECT_EQ(body->optional_boolean("admin"), true);  // case-insensitive fallback
  EXPECT_EQ(body->optional_integer("n"), 5);
  EXPECT_EQ(body->optional_string_list("list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(body->optional_string("absent"));
  auto fields = body->optional_object("fields");
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->optional_string("email"), "x@y.z");
  EXPECT_TRUE(body->finish());
  EXPECT_EQ(body->keys().size(), 5u);
  EXPECT_EQ(body->raw("list"), R"(["a","b"])");
}

TEST(json_body, missing_member_is_400_naming_the_field) {
  auto body = json_body::parse(R"({"other":1})");
  ASSERT_TRUE(body);
  body->string("username");
  auto done = body->finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().status, 400);
  ASSERT_EQ(done.error().errors.size(), 1u);
  EXPECT_EQ(done.error().errors[0].field, "username");
}

TEST(json_body, wrong_type_overlong_and_control_characters_are_422_per_field) {
  auto body = json_body::parse(R"({"a":1,"b":"xxxxxxxxxx","c":"x\u0001y","d":"ok","fields":{"e":false},"l":[1]})");
  ASSERT_TRUE(body);
  body->string("a");
  body->string("b", {.max_length = 4});
  body->string("c");
  body->string("d");
  auto fields = body->optional_object("fields");
  ASSERT_TRUE(fields);
  fields->optional_string("e");
  body->optional_string_list("l");
  auto done = body->finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().status, 422);
  std::vector<std::string> named;
  for (const auto& e : done.error().errors) named.push_back(e.field);
  EXPECT_EQ(named, (std::vector<std::string>{"a", "b", "c", "fields.e", "l[0]"}));
}

TEST(json_body, integers_are_range_checked) {
  // Beyond uint64 simdjson refuses the document itself (400); beyond int64 is a field error.
  EXPECT_EQ(json_body::parse(R"({"a":99999999999999999999})").error().status, 400);
  auto body = json_body::parse(R"({"a":1.5,"b":18446744073709551615,"c":7})");
  ASSERT_TRUE(body);
  body->optional_integer("a");
  body->optional_integer("b");
  body->integer("c", 0, 5);
  auto done = body->finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().errors.size(), 3u);
}

TEST(json_body, control_character_predicate) {
  EXPECT_FALSE(has_control_characters("plain text"));
  EXPECT_TRUE(has_control_characters("a\nb"));
  EXPECT_FALSE(has_control_characters("a\nb\t", true));
  EXPECT_TRUE(has_control_characters("a\x7f"));
}

}  // namespace
}  // namespace sc::server
