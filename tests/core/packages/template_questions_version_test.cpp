#include <gtest/gtest.h>

#include "core/packages/questions.hpp"
#include "core/packages/template.hpp"
#include "core/packages/version.hpp"
#include "tests/core/packages/fixture.hpp"

namespace sc::packages {
namespace {

TEST(versions, compare_numerically_per_segment) {
  EXPECT_GT(compare_versions("1.10", "1.9"), 0);
  EXPECT_LT(compare_versions("1.9", "1.10"), 0);
  EXPECT_EQ(compare_versions("2.0", "2.0"), 0);
  EXPECT_GT(compare_versions("2.0", "1.99"), 0);
  EXPECT_GT(compare_versions("1.0.1", "1.0"), 0);
  EXPECT_LT(compare_versions("1.0", "1.0.1"), 0);
  EXPECT_GT(compare_versions("1.0b", "1.0a"), 0);  // lexical when not both numeric
  EXPECT_GT(compare_versions("99999999999999999999999.1", "99999999999999999999998.9"), 0);
  EXPECT_EQ(compare_versions("01.2", "1.2"), 0);
}

TEST(versions, names_and_versions_that_may_reach_paths) {
  EXPECT_TRUE(valid_version("2.1"));
  EXPECT_FALSE(valid_version("../2"));
  EXPECT_FALSE(valid_version("1/2"));
  EXPECT_FALSE(valid_version(""));
  EXPECT_TRUE(valid_package_name("immich-machine-learning"));
  EXPECT_FALSE(valid_package_name("a--dep--b"));
  EXPECT_FALSE(valid_package_name("subpackages"));
  EXPECT_FALSE(valid_package_name("-x"));
  EXPECT_FALSE(valid_package_name("a.b"));
}

TEST(markers, substitution_and_escapes) {
  marker_values v{{"var", "V"}, {"PACKAGE_DNS", "app.default.home"}};
  EXPECT_EQ(substitute_markers("a @var@ b", v, escape_mode::collapse), "a V b");
  EXPECT_EQ(substitute_markers("mail@@example.com", v, escape_mode::collapse), "mail@example.com");
  EXPECT_EQ(substitute_markers("mail@@example.com", v, escape_mode::keep), "mail@@example.com");
  EXPECT_EQ(substitute_markers("git@@@PACKAGE_DNS@", v, escape_mode::collapse), "git@app.default.home");
  EXPECT_EQ(substitute_markers("@unknown@ stays", v, escape_mode::collapse), "@unknown@ stays");
  EXPECT_EQ(substitute_markers("trailing @", v, escape_mode::collapse), "trailing @");
  EXPECT_EQ(substitute_markers("@@var@", v, escape_mode::collapse), "@var@");
  EXPECT_EQ(substitute_markers("", v, escape_mode::keep), "");
}

TEST(file_templates, render_fields_index_and_trim) {
  simdjson::dom::parser parser;
  simdjson::dom::element data = parser.parse(std::string(
      R"({"Responses":{"pw":"s3cret"},"Dep":{"db":{"Host":"db-host","Ports":{"sql":"5432"}}},"Package":{"Name":"app"}})"));
  auto out = render_file_template(
      "host={{.Dep.db.Host}} port={{index .Dep.db.Ports \"sql\"}}\n{{- /* c */ -}}\n pw={{ .Responses.pw }} "
      "{{.Responses.missing}}",
      data, "t");
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(*out, "host=db-host port=5432pw=s3cret <no value>");
}

TEST(file_templates, unsupported_and_malformed_actions_are_refused) {
  for (std::string_view bad : {"{{ range .X }}{{ end }}", "{{ .X", "{{ printf \"%s\" .X }}", "{{ index .X }}",
                               "{{ index .X key }}", "{{ . }}", "{{ .X..Y }}", "{{/* open }}"}) {
    auto ok = check_file_template(bad, "templates.t.content");
    ASSERT_FALSE(ok) << bad;
    EXPECT_EQ(ok.error().status, 422);
    EXPECT_EQ(ok.error().errors.at(0).field, "templates.t.content") << bad;
  }
}

TEST(answers, types_validate_and_normalise) {
  auto q = [](std::string type) { return test::question("k", std::move(type)); };
  EXPECT_EQ(normalize_answer(q("port"), "8080"), "8080");
  EXPECT_EQ(normalize_answer(q("port"), "0"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("port"), "65536"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("port"), "80a"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("hostname"), "My-Host"), "my-host");
  EXPECT_EQ(normalize_answer(q("hostname"), "1host"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("bytes"), "2gb"), std::to_string(2ULL << 30));
  EXPECT_EQ(normalize_answer(q("bytes"), "10MB"), std::to_string(10ULL << 20));
  EXPECT_EQ(normalize_answer(q("bytes"), "12"), "12");
  EXPECT_EQ(normalize_answer(q("bytes"), "lots"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("bytes"), "99999999999tb"), std::nullopt);  // overflow
  EXPECT_EQ(normalize_answer(q("duration"), "2h"), "7200");
  EXPECT_EQ(normalize_answer(q("duration"), "1d"), "86400");
  EXPECT_EQ(normalize_answer(q("duration"), "5"), "5");
  EXPECT_EQ(normalize_answer(q("duration"), "5w"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("boolean"), "True"), "true");
  EXPECT_EQ(normalize_answer(q("boolean"), "0"), "false");
  EXPECT_EQ(normalize_answer(q("boolean"), "yes"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("volume"), "my_vol-1"), "my_vol-1");
  EXPECT_EQ(normalize_answer(q("volume"), "../x"), std::nullopt);
  EXPECT_EQ(normalize_answer(q("secret"), ""), std::nullopt);
  EXPECT_EQ(normalize_answer(q(""), "line\nbreak"), std::nullopt);
  EXPECT_EQ(normalize_answer(q(""), "tab\tok"), "tab\tok");
}

TEST(answers, auto_generation) {
  package_definition def;
  def.questions = {
      test::question("p", "port", "auto"),
      test::question("fixed", "port", "2222"),
      test::question("s", "secret", "auto"),
      test::question("h", "hostname"),
      test::question("b", "boolean"),
      test::question("bt", "boolean", "True"),
      test::question("o", "secret", std::nullopt, true),
      test::question("given", "secret"),
  };
  std::vector<int> refused;
  auto_answer_context context{.effective_name = "app",
                              .used_ports = {},
                              .port_free =
                                  [&refused](int port) {
                                    if (refused.size() < 3) {
                                      refused.push_back(port);
                                      return false;
                                    }
                                    return true;
                                  },
                              .random_bytes = {}};
  auto answers = auto_answers(def, {{"given", "mine"}}, context);
  int port = std::stoi(answers.at("p"));
  EXPECT_GE(port, 10000);
  EXPECT_LE(port, 60000);
  EXPECT_EQ(refused.size(), 3u);  // busy ports were skipped
  EXPECT_TRUE(context.used_ports.contains(port));
  EXPECT_EQ(answers.at("fixed"), "2222");
  ASSERT_EQ(answers.at("s").size(), 64u);
  EXPECT_EQ(answers.at("s").find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(answers.at("h").starts_with("app-"));
  EXPECT_EQ(answers.at("h").size(), 8u);
  EXPECT_EQ(answers.at("b"), "false");
  EXPECT_EQ(answers.at("bt"), "true");
  EXPECT_FALSE(answers.contains("o"));
  EXPECT_EQ(answers.at("given"), "mine");
}

TEST(answers, port_generation_gives_up_when_every_port_is_busy) {
  package_definition def;
  def.questions = {test::question("p", "port")};
  auto_answer_context context{
      .effective_name = "app", .used_ports = {}, .port_free = [](int) { return false; }, .random_bytes = {}};
  auto answers = auto_answers(def, {}, context);
  EXPECT_EQ(answers.at("p"), "");  // compile then reports "empty response"
}

}  // namespace
}  // namespace sc::packages
