// Broken definitions get precise errors naming the field; hostile documents (deep nesting, alias
// bombs, marker injection) are refused cleanly and quickly.
#include <gtest/gtest.h>

#include <string>

#include "core/packages/compile.hpp"
#include "core/packages/definition.hpp"
#include "tests/core/packages/fixture.hpp"

namespace sc::packages {
namespace {

// True when some error names `field` and its message contains `text`.
bool has_error(const problem& p, std::string_view field, std::string_view text) {
  for (const auto& e : p.errors) {
    if (e.field == field && e.message.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string dump(const problem& p) {
  std::string out = p.detail;
  for (const auto& e : p.errors) out += "\n  " + e.field + ": " + e.message;
  return out;
}

TEST(definition_corpus, missing_runtime) {
  auto def = parse_definition("description: x\nvolumes:\n  data:\n    mountpoint: /data\n");
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().status, 422);
  EXPECT_TRUE(has_error(def.error(), "image", "no runtime")) << dump(def.error());
}

TEST(definition_corpus, two_runtimes) {
  auto def = parse_definition("image: nginx\nvm:\n  image: https://example.com/a.qcow2\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "vm", "mixed runtimes")) << dump(def.error());
}

TEST(definition_corpus, bad_ports_are_named_by_path) {
  auto def = parse_definition(
      "image: nginx\nnetwork:\n  external:\n    \"70000\": \"80\"\n    \"8080\": \"abc\"\n  internal:\n    \"9-x\": "
      "\"1\"\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "network.external.70000", "invalid port")) << dump(def.error());
  EXPECT_TRUE(has_error(def.error(), "network.external.8080", "invalid port")) << dump(def.error());
  EXPECT_TRUE(has_error(def.error(), "network.internal.9-x", "invalid port")) << dump(def.error());
}

TEST(definition_corpus, a_port_answer_out_of_range_fails_compile_at_the_port) {
  auto def = parse_definition(
      "image: nginx\nnetwork:\n  external:\n    \"@p@\": \"80\"\nquestions:\n  p:\n    query: Port?\n");
  ASSERT_TRUE(def) << dump(def.error());
  auto compiled = compile(*def, test::context_for("n"), {{"p", "99999"}});
  ASSERT_FALSE(compiled);
  EXPECT_TRUE(has_error(compiled.error(), "network.external.@p@", "invalid port")) << dump(compiled.error());
}

TEST(definition_corpus, unknown_question_type) {
  auto def = parse_definition("image: nginx\nquestions:\n  color:\n    query: Which?\n    type: colour\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "questions.color.type", "unknown question type")) << dump(def.error());
}

TEST(definition_corpus, every_problem_is_reported_at_once) {
  auto def = parse_definition(
      "image: nginx\n"
      "questions:\n  bad key:\n    query: x\n  noquery:\n    type: port\n  s:\n    query: s\n    show_if: s\n"
      "volumes:\n  data:\n    mountpoint: relative/path\n"
      "templates:\n  t:\n    volume: missing\n    path: ../escape\n    content: \"{{ range .X }}\"\n"
      "dependencies:\n  db:\n    responses: {}\n");
  ASSERT_FALSE(def);
  const auto& p = def.error();
  EXPECT_TRUE(has_error(p, "questions.bad key", "invalid question key")) << dump(p);
  EXPECT_TRUE(has_error(p, "questions.noquery.query", "is required")) << dump(p);
  EXPECT_TRUE(has_error(p, "questions.s.show_if", "itself")) << dump(p);
  EXPECT_TRUE(has_error(p, "volumes.data.mountpoint", "absolute")) << dump(p);
  EXPECT_TRUE(has_error(p, "templates.t.volume", "no declared volume")) << dump(p);
  EXPECT_TRUE(has_error(p, "templates.t.path", "relative")) << dump(p);
  EXPECT_TRUE(has_error(p, "templates.t.content", "unsupported template action")) << dump(p);
  EXPECT_TRUE(has_error(p, "dependencies.db.package", "is required")) << dump(p);
}

TEST(definition_corpus, wrong_types_are_named) {
  auto def = parse_definition(
      "image: nginx\ncommand: run\nenvironment: [a, b]\nvolumes:\n  d:\n    mountpoint: /d\n    uid: -1\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "command", "list of strings")) << dump(def.error());
  EXPECT_TRUE(has_error(def.error(), "environment", "must be a map")) << dump(def.error());
  EXPECT_TRUE(has_error(def.error(), "volumes.d.uid", "non-negative integer")) << dump(def.error());
}

TEST(definition_corpus, marker_injection_with_newlines_is_refused_at_compile) {
  auto def = parse_definition(
      "image: nginx\ncommand: [\"sh\", \"-c\", \"echo @name@\"]\nentrypoint: [\"@name@\"]\n"
      "environment:\n  GREETING: \"hello @name@\"\nvolumes:\n  d:\n    mountpoint: \"/data/@name@\"\n"
      "questions:\n  name:\n    query: Name?\n");
  ASSERT_TRUE(def) << dump(def.error());
  compile_context context = test::context_for("n");
  auto compiled = compile(*def, context, {{"name", "x\n[Service]\nExecStartPre=/bin/rm -rf /"}});
  ASSERT_FALSE(compiled);
  // The answer itself fails its type check (free text never carries control characters).
  EXPECT_EQ(compiled.error().status, 422);
  EXPECT_TRUE(has_error(compiled.error(), "name", "expected type")) << dump(compiled.error());
}

TEST(definition_corpus, control_characters_from_the_definition_itself_are_refused_at_compile) {
  auto def = parse_definition(
      "image: nginx\ncommand: [\"a\\nb\"]\nenvironment:\n  X: \"1\\r2\"\npost_update: [\"x\\u001by\"]\n");
  ASSERT_TRUE(def) << dump(def.error());
  auto compiled = compile(*def, test::context_for("n"), {});
  ASSERT_FALSE(compiled);
  EXPECT_TRUE(has_error(compiled.error(), "command[0]", "control characters")) << dump(compiled.error());
  EXPECT_TRUE(has_error(compiled.error(), "environment.X", "control characters")) << dump(compiled.error());
  EXPECT_TRUE(has_error(compiled.error(), "post_update[0]", "control characters")) << dump(compiled.error());
}

TEST(definition_corpus, a_substituted_value_is_never_rescanned_for_markers) {
  auto def = parse_definition(
      "image: nginx\nenvironment:\n  A: \"@a@\"\nquestions:\n  a:\n    query: a\n  b:\n    query: b\n");
  ASSERT_TRUE(def);
  auto compiled = compile(*def, test::context_for("n"), {{"a", "@b@@PACKAGE_DNS@"}, {"b", "secret"}});
  ASSERT_TRUE(compiled) << dump(compiled.error());
  EXPECT_EQ(compiled->environment[0].second, "@b@@PACKAGE_DNS@");
}

TEST(definition_corpus, deeply_nested_flow_yaml) {
  std::string yaml = "image: nginx\nx: " + std::string(100'000, '[') + std::string(100'000, ']') + "\n";
  auto def = parse_definition(yaml);
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "definition", "nested deeper")) << dump(def.error());
}

TEST(definition_corpus, deeply_nested_block_yaml) {
  std::string yaml = "image: nginx\n";
  for (int i = 0; i < 200; ++i)
    yaml += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k" + std::to_string(i) + ":\n";
  auto def = parse_definition(yaml);
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "definition", "nested deeper")) << dump(def.error());
}

TEST(definition_corpus, billion_laughs_aliases) {
  std::string yaml = "image: nginx\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 10; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    yaml += "]\n";
  }
  auto def = parse_definition(yaml);
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "definition", "too large")) << dump(def.error());
}

TEST(definition_corpus, malformed_yaml_names_the_line) {
  auto def = parse_definition("image: nginx\nquestions: [\n  oops: {\n");
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().status, 422);
  ASSERT_FALSE(def.error().errors.empty());
  EXPECT_EQ(def.error().errors[0].field, "definition");
  EXPECT_NE(def.error().errors[0].message.find("line"), std::string::npos) << dump(def.error());
}

TEST(definition_corpus, not_a_map_and_empty_documents) {
  for (std::string_view text : {"", "- a\n- b\n", "just text", "~"}) {
    auto def = parse_definition(text);
    ASSERT_FALSE(def) << text;
    EXPECT_EQ(def.error().status, 422) << text;
  }
}

TEST(definition_corpus, duplicate_keys_are_refused) {
  auto def = parse_definition("image: nginx\nimage: redis\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "definition", "duplicate key")) << dump(def.error());
}

TEST(definition_corpus, show_if_must_name_a_boolean_without_chains) {
  auto def = parse_definition(
      "image: nginx\nquestions:\n  a:\n    query: a\n    type: boolean\n  b:\n    query: b\n    type: boolean\n    "
      "show_if: a\n"
      "  c:\n    query: c\n    show_if: b\n  d:\n    query: d\n    show_if: e\n  e:\n    query: e\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "questions.c.show_if", "chains")) << dump(def.error());
  EXPECT_TRUE(has_error(def.error(), "questions.d.show_if", "boolean")) << dump(def.error());
}

TEST(definition_corpus, a_container_port_with_two_names) {
  auto def = parse_definition("image: nginx\nnetwork:\n  internal:\n    http: \"80\"\n    web: \"80\"\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "network.internal.web", "invalid port name")) << dump(def.error());
}

TEST(definition_corpus, tls_mode_on_a_direct_port) {
  auto def = parse_definition(
      "image: nginx\nnetwork:\n  external:\n    \"443\": \"443\"\n  direct: [\"443\"]\n  tls_mode:\n    \"443\": "
      "passthrough\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "network.tls_mode.443", "direct")) << dump(def.error());
}

TEST(definition_corpus, git_urls_need_a_safe_scheme) {
  auto def = parse_definition("image: nginx\nvolumes:\n  d:\n    mountpoint: /d\n    git: \"ext::sh -c evil\"\n");
  ASSERT_FALSE(def);
  EXPECT_TRUE(has_error(def.error(), "volumes.d.git", "scheme")) << dump(def.error());
}

TEST(definition_corpus, vm_and_proton_runtimes_parse) {
  auto vm = parse_definition(
      "vm:\n  image: https://example.com/disk.qcow2\n  memory: \"@mem@\"\nquestions:\n  mem:\n    query: RAM?\n    "
      "type: bytes\n");
  ASSERT_TRUE(vm) << dump(vm.error());
  EXPECT_EQ(vm->runtime, runtime_kind::vm);
  auto proton = parse_definition("proton:\n  app_image: example/game\n  app_directory: /game\n");
  ASSERT_TRUE(proton) << dump(proton.error());
  EXPECT_EQ(proton->runtime, runtime_kind::proton);
  auto vm_post = parse_definition("vm:\n  image: https://example.com/d.raw\npost_update: [\"x\"]\n");
  ASSERT_FALSE(vm_post);
  EXPECT_TRUE(has_error(vm_post.error(), "post_update", "vm")) << dump(vm_post.error());
}

TEST(definition_corpus, answers_get_the_originals_messages) {
  auto def = parse_definition(
      "image: nginx\nquestions:\n  p:\n    query: p\n    type: port\n  s:\n    query: s\n    type: secret\n"
      "  o:\n    query: o\n    optional: true\n  b:\n    query: b\n    type: boolean\n");
  ASSERT_TRUE(def) << dump(def.error());
  auto compiled = compile(*def, test::context_for("n"), {{"p", "http"}, {"s", ""}, {"x", "1"}});
  ASSERT_FALSE(compiled);
  const auto& p = compiled.error();
  EXPECT_EQ(p.status, 422);
  EXPECT_EQ(p.detail, "4 response validation error(s)");
  EXPECT_TRUE(has_error(p, "x", "response does not match a prompt question")) << dump(p);
  EXPECT_TRUE(has_error(p, "p", "response does not match the expected type")) << dump(p);
  EXPECT_TRUE(has_error(p, "s", "empty response")) << dump(p);
  EXPECT_TRUE(has_error(p, "b", "question has no response")) << dump(p);
}

TEST(definition_corpus, pass_through_maps_are_kept_as_json) {
  auto def = parse_definition(
      "image: nginx\nquestions:\n  token:\n    query: Token?\n    type: oauth\n    oauth:\n      provider: plex\n"
      "      scopes: [read, \"a\\\"b\"]\n      port: 32400\n      empty:\n"
      "dependencies:\n  db:\n    package: postgres\n    expose: {host: h}\n    consume: [{from: cache}, {other: x}, "
      "{from: [1]}]\n  cache:\n    package: redis\n    consume: {from: db}\n");
  ASSERT_TRUE(def) << dump(def.error());
  ASSERT_TRUE(def->questions.at(0).oauth);
  // Every scalar a string, null for empty, in document order.
  EXPECT_EQ(*def->questions.at(0).oauth, R"({"provider":"plex","scopes":["read","a\"b"],"port":"32400","empty":null})");
  const auto& db = def->dependencies.at(0);
  EXPECT_EQ(db.expose.value_or(""), R"({"host":"h"})");
  EXPECT_EQ(db.consume.value_or(""), R"([{"from":"cache"},{"other":"x"},{"from":["1"]}])");
  EXPECT_EQ(db.consumes, std::vector<std::string>{"cache"});
  EXPECT_EQ(def->dependencies.at(1).consumes, std::vector<std::string>{"db"});
  EXPECT_FALSE(def->dependencies.at(1).expose);
}

TEST(definition_corpus, invalid_utf8_is_refused) {
  auto def = parse_definition("image: nginx\ndescription: \"caf\xC3\"\n");
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().status, 422);
  EXPECT_NE(def.error().detail.find("UTF-8"), std::string::npos) << dump(def.error());
}

}  // namespace
}  // namespace sc::packages
