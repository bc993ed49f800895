#include "core/schema.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sc::schema {
namespace {

boost::json::value written(const type& t, component_set& components) {
  return boost::json::parse(json_string([&](json_writer& w) { write(w, t, components); }));
}

TEST(schema, a_response_object_is_closed_and_lists_its_required_members) {
  component_set components;
  auto doc =
      written(object({{"name", string()}, optional("size", integer(0)), {"tags", array(string(), 8)}}), components);
  EXPECT_EQ(doc.at("type"), "object");
  EXPECT_EQ(doc.at("additionalProperties"), false);
  EXPECT_EQ(doc.at("required"), boost::json::parse(R"(["name","tags"])"));
  EXPECT_EQ(doc.at("properties").at("size").at("minimum"), 0);
  EXPECT_EQ(doc.at("properties").at("tags").at("maxItems"), 8);
  EXPECT_FALSE(doc.at("properties").at("name").as_object().contains("maxLength"));
}

TEST(schema, a_request_object_is_open_and_its_strings_are_bounded) {
  component_set components;
  auto doc = written(request({{"name", string()},
                              optional("note", string({.max_length = 64, .allow_empty = false})),
                              optional("list", array(string()))}),
                     components);
  EXPECT_FALSE(doc.as_object().contains("additionalProperties"));
  EXPECT_EQ(doc.at("required"), boost::json::parse(R"(["name"])"));
  EXPECT_EQ(doc.at("properties").at("name").at("maxLength"), 1024);
  EXPECT_EQ(doc.at("properties").at("note").at("maxLength"), 64);
  EXPECT_EQ(doc.at("properties").at("note").at("minLength"), 1);
  EXPECT_EQ(doc.at("properties").at("list").at("items").at("maxLength"), 1024);
}

TEST(schema, components_are_referenced_and_written_once_with_what_they_refer_to) {
  type inner = component("inner", object({{"n", integer()}}));
  type outer = component("outer", object({{"a", inner}, {"b", nullable(inner)}, {"c", page(inner)}}));
  component_set components;
  auto doc = written(array(outer), components);
  EXPECT_EQ(doc.at("items").at("$ref"), "#/components/schemas/outer");
  auto all = boost::json::parse(json_string([&](json_writer& w) {
    w.begin_object();
    write_components(w, components);
    w.end_object();
  }));
  ASSERT_EQ(all.as_object().size(), 2u);
  const auto& o = all.at("outer").at("properties");
  EXPECT_EQ(o.at("a").at("$ref"), "#/components/schemas/inner");
  // A nullable component is oneOf [its reference, null]: the component stays one declaration.
  EXPECT_EQ(o.at("b").at("oneOf"), boost::json::parse(R"([{"$ref":"#/components/schemas/inner"},{"type":"null"}])"));
  EXPECT_EQ(o.at("c").at("properties").at("entries").at("items").at("$ref"), "#/components/schemas/inner");
  EXPECT_EQ(all.at("inner").at("properties").at("n").at("type"), "integer");
}

TEST(schema, nullable_enumerations_and_maps_say_so) {
  component_set components;
  auto e = written(nullable(enumeration({"a", "b"})), components);
  EXPECT_EQ(e.at("type"), boost::json::parse(R"(["string","null"])"));
  EXPECT_EQ(e.at("enum"), boost::json::parse(R"(["a","b",null])"));
  auto m = written(map(integer(), 10, 32), components);
  EXPECT_EQ(m.at("additionalProperties").at("type"), "integer");
  EXPECT_EQ(m.at("maxProperties"), 10);
  EXPECT_EQ(m.at("propertyNames").at("maxLength"), 32);
}

}  // namespace
}  // namespace sc::schema
