// A deterministic mutation harness (libFuzzer is not available): the fixture definitions and
// template strings are mutated many times under ASan/UBSan. Every outcome must be a definition or
// a 422 with at least one named error — never a crash, an exception or a hang.
#include <gtest/gtest.h>

#include <random>

#include "core/packages/compile.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/questions.hpp"
#include "core/packages/template.hpp"
#include "tests/core/packages/fixture.hpp"

namespace sc::packages {
namespace {

constexpr std::string_view tokens[] = {
    "\n",
    ":",
    " ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "!!binary ",
    "\"",
    "'",
    "@",
    "@@",
    "@port@",
    "{{",
    "}}",
    "{{ .X }}",
    "#",
    "|",
    ">",
    "\t",
    "\x01",
    "\xff",
    "---\n",
    "...\n",
    "? ",
    "%YAML 1.2\n",
    "<<: *a\n",
    "image:",
    "vm:",
    "proton:",
    "questions:",
    "  type: port\n",
    "network:",
    "  internal:\n",
    "0",
    "-1",
    "99999",
};

std::string mutate(std::string text, std::mt19937& rng) {
  std::uniform_int_distribution<int> op_dist(0, 4);
  int rounds = 1 + static_cast<int>(rng() % 8);
  for (int r = 0; r < rounds; ++r) {
    std::size_t at = text.empty() ? 0 : rng() % text.size();
    switch (op_dist(rng)) {
      case 0:  // flip a byte
        if (!text.empty()) text[at] = static_cast<char>(rng() & 0xFF);
        break;
      case 1:  // delete a span
        if (!text.empty()) text.erase(at, 1 + rng() % 32);
        break;
      case 2:  // insert a token
        text.insert(at, tokens[rng() % std::size(tokens)]);
        break;
      case 3: {  // duplicate a span elsewhere
        if (text.empty()) break;
        std::string span = text.substr(at, 1 + rng() % 64);
        text.insert(rng() % text.size(), span);
        break;
      }
      default:  // truncate
        text.resize(at);
        break;
    }
  }
  return text;
}

void check_outcome(const result<package_definition>& def) {
  if (def) {
    // A definition that parses must also compile or fail cleanly with generated answers.
    auto_answer_context context{.effective_name = "fuzz", .used_ports = {}, .port_free = {}, .random_bytes = {}};
    auto answers = auto_answers(*def, {}, context);
    auto compiled = compile(*def, test::context_for("fuzz"), answers);
    if (!compiled) {
      ASSERT_EQ(compiled.error().status, 422);
      ASSERT_FALSE(compiled.error().errors.empty());
    }
    return;
  }
  ASSERT_EQ(def.error().status, 422);
  ASSERT_FALSE(def.error().errors.empty());
}

TEST(definition_fuzz, mutated_fixture_definitions_fail_cleanly) {
  auto files = test::fixture_files();
  ASSERT_EQ(files.size(), 36u);
  std::vector<std::string> seeds;
  seeds.reserve(files.size());
  for (const auto& f : files) seeds.push_back(test::read_text(f.path));
  std::mt19937 rng(20261122);
  std::size_t parsed = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string input = mutate(seeds[static_cast<std::size_t>(i) % seeds.size()], rng);
    auto def = parse_definition(input);
    parsed += def ? 1 : 0;
    ASSERT_NO_FATAL_FAILURE(check_outcome(def)) << "iteration " << i;
  }
  // Both paths were exercised: some mutants still parse, most do not.
  EXPECT_GT(parsed, 0u);
  EXPECT_LT(parsed, 4000u);
}

TEST(definition_fuzz, random_bytes_fail_cleanly) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string input(rng() % 512, '\0');
    for (char& c : input) c = static_cast<char>(rng() & 0xFF);
    ASSERT_NO_FATAL_FAILURE(check_outcome(parse_definition(input))) << "iteration " << i;
  }
}

TEST(template_fuzz, mutated_templates_render_or_fail_cleanly) {
  simdjson::dom::parser parser;
  simdjson::dom::element data =
      parser.parse(std::string(R"({"Responses":{"a":"1"},"Dep":{"db":{"Host":"h","Ports":{"sql":"5432"}}}})"));
  std::vector<std::string> seeds = {"x={{.Dep.db.Host}}:{{index .Dep.db.Ports \"sql\"}}", "{{- .Responses.a -}}",
                                    "{{/* c */}}@a@@@b@", "plain @@ text"};
  marker_values markers{{"a", "A"}, {"b", "B"}};
  std::mt19937 rng(99);
  for (int i = 0; i < 5000; ++i) {
    std::string input = mutate(seeds[static_cast<std::size_t>(i) % seeds.size()], rng);
    auto rendered = render_file_template(input, data, "t");
    if (!rendered) {
      ASSERT_EQ(rendered.error().status, 422);
      ASSERT_EQ(rendered.error().errors.at(0).field, "t");
    }
    std::string keep = substitute_markers(input, markers, escape_mode::keep);
    std::string collapsed = substitute_markers(keep, markers, escape_mode::collapse);
    ASSERT_LE(collapsed.size(), keep.size() + 64);
  }
}

}  // namespace
}  // namespace sc::packages
