#include "server/json_body.hpp"

#include <gtest/gtest.h>

namespace sc::server {
namespace {

using namespace schema;

// The declaration the tests read by, as a route's contract declares its request.
const type& declared() {
  static const type shape =
      request({optional("username", string({.max_length = 64})), optional("admin", boolean()), optional("n", integer()),
               optional("list", array(string({.max_length = 16}), 4)), optional("absent", string()),
               optional("fields", request({optional("email", string({.max_length = 64})), optional("e", string())})),
               optional("a", string()), optional("b", string({.max_length = 4})), optional("c", string()),
               optional("d", string()), optional("l", array(string({.max_length = 16}), 4)), optional("i", integer()),
               optional("j", integer()), optional("k", integer(0, 5)), optional("map", scalar_map(2, 8, 4))});
  return shape;
}

const type& required_username() {
  static const type shape = request({{"username", string({.max_length = 64})}, optional("other", integer())});
  return shape;
}

TEST(json_body, malformed_empty_and_non_object_bodies_are_400) {
  for (std::string_view text : {"", "   ", "{", "[1,2]", "\"x\"", "null", "{\"a\":}"}) {
    auto body = json_body::parse(text, declared());
    ASSERT_FALSE(body) << text;
    EXPECT_EQ(body.error().status, 400) << text;
  }
}

TEST(json_body, reads_required_and_optional_members) {
  auto body = json_body::parse(R"({"username":"alice","Admin":true,"n":5,"list":["a","b"],"fields":{"email":"x@y.z"}})",
                               declared());
  ASSERT_TRUE(body);
  EXPECT_EQ(body->optional_string("username"), "alice");
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
  auto body = json_body::parse(R"({"other":1})", required_username());
  ASSERT_TRUE(body);
  body->string("username");
  auto done = body->finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().status, 400);
  ASSERT_EQ(done.error().errors.size(), 1u);
  EXPECT_EQ(done.error().errors[0].field, "username");
}

TEST(json_body, wrong_type_overlong_and_control_characters_are_422_per_field) {
  auto body =
      json_body::parse(R"({"a":1,"b":"xxxxxxxxxx","c":"x\u0001y","d":"ok","fields":{"e":false},"l":[1]})", declared());
  ASSERT_TRUE(body);
  body->optional_string("a");
  body->optional_string("b");  // the declaration's max_length 4
  body->optional_string("c");
  body->optional_string("d");
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
  EXPECT_EQ(json_body::parse(R"({"a":99999999999999999999})", declared()).error().status, 400);
  auto body = json_body::parse(R"({"i":1.5,"j":18446744073709551615,"k":7})", declared());
  ASSERT_TRUE(body);
  body->optional_integer("i");
  body->optional_integer("j");
  body->optional_integer("k");  // the declaration's range 0..5
  auto done = body->finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().errors.size(), 3u);
}

TEST(json_body, lists_and_maps_take_their_limits_from_the_declaration) {
  auto body =
      json_body::parse(R"({"list":["a","b","c","d","e"],"map":{"k":"12345","longer-name":1,"x":true}})", declared());
  ASSERT_TRUE(body);
  EXPECT_FALSE(body->optional_string_list("list"));  // 5 items, 4 declared
  EXPECT_FALSE(body->optional_scalar_map("map"));    // 3 members, 2 declared
  auto done = body->finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().status, 422);
  auto ok = json_body::parse(R"({"list":["a"],"map":{"k":"1234","n":8080}})", declared());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->optional_string_list("list"), (std::vector<std::string>{"a"}));
  auto map = ok->optional_scalar_map("map");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->at(1).second, "8080");
  EXPECT_TRUE(ok->finish());
}

#ifndef NDEBUG
// The declaration is the one source: a handler reading what its route does not declare, or reading
// it differently, stops a debug build (every test run) instead of publishing a document that lies.
TEST(json_body_death, reading_an_undeclared_or_differently_declared_member_stops_debug_builds) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto body = json_body::parse(R"({"username":"a"})", required_username());
        (void)body->optional_string("password");
      },
      "password .* is not declared");
  EXPECT_DEATH(
      {
        auto body = json_body::parse(R"({"username":"a"})", required_username());
        (void)body->optional_string("username");
      },
      "declared required but read as optional");
  EXPECT_DEATH(
      {
        auto body = json_body::parse(R"({"username":"a"})", required_username());
        (void)body->integer("username");
      },
      "declared as another type");
}
#endif

TEST(json_body, control_character_predicate) {
  EXPECT_FALSE(has_control_characters("plain text"));
  EXPECT_TRUE(has_control_characters("a\nb"));
  EXPECT_FALSE(has_control_characters("a\nb\t", true));
  EXPECT_TRUE(has_control_characters("a\x7f"));
}

}  // namespace
}  // namespace sc::server
