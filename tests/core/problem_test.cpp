#include "core/problem.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace sc {
namespace {

TEST(problem, renders_rfc9457_fields_in_order) {
  std::string text = render_problem_json(problem::unauthorized("missing authorization token"));
  EXPECT_EQ(text,
            "{\"type\":\"about:blank#401\",\"title\":\"Unauthorized\",\"status\":401,"
            "\"detail\":\"missing authorization token\"}\n");
}

TEST(problem, unprocessable_names_the_field) {
  auto parsed =
      boost::json::parse(render_problem_json(problem::unprocessable("fields.email", "invalid email address")));
  EXPECT_EQ(parsed.at("status").as_int64(), 422);
  EXPECT_EQ(parsed.at("title").as_string(), "Unprocessable Entity");
  ASSERT_EQ(parsed.at("errors").as_array().size(), 1u);
  EXPECT_EQ(parsed.at("errors").at(0).at("field").as_string(), "fields.email");
}

TEST(problem, internal_errors_hide_the_internal_text) {
  problem p = problem::internal_error("sqlite: disk I/O error at /var/lib/secret/path");
  std::string text = render_problem_json(p);
  EXPECT_EQ(text.find("/var/lib"), std::string::npos);
  EXPECT_NE(text.find("internal error"), std::string::npos);
}

TEST(problem, result_never_mistakes_a_value_for_an_error) {
  result<std::size_t> r = std::size_t{42};
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 42u);
  result<std::size_t> e = problem::not_found("nope");
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().status, 404);
  EXPECT_THROW((void)e.value(), problem_exception);
}

struct redaction_case {
  std::string_view input;
  std::string_view expected;
};

class redaction : public ::testing::TestWithParam<redaction_case> {};

TEST_P(redaction, hides_credentials) {
  EXPECT_EQ(redact_secrets(GetParam().input), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    problem, redaction,
    ::testing::Values(redaction_case{"token=abc123 bad", "token=[REDACTED] bad"},
                      redaction_case{"Password: hunter2", "Password:[REDACTED]"},
                      redaction_case{R"({"password":"s3cret","user":"bob"})",
                                     R"({"password":[REDACTED]","user":"bob"})"},
                      redaction_case{"client_secret = xyz, next", "client_secret =[REDACTED], next"},
                      redaction_case{"no secrets here", "no secrets here"}, redaction_case{"token", "token"},
                      redaction_case{"token=", "token="},
                      redaction_case{"CREDENTIAL='a b'", "CREDENTIAL=[REDACTED] b'"},
                      redaction_case{"cloning https://bob:hunter2@git.example.com/r.git failed",
                                     "cloning https://[REDACTED]@git.example.com/r.git failed"},
                      redaction_case{R"({"url":"http://tok@h/x"})", R"({"url":"http://[REDACTED]@h/x"})"},
                      redaction_case{"mail me@example.com at https://example.com/a@b",
                                     "mail me@example.com at https://example.com/a@b"},
                      redaction_case{"", ""}));

TEST(problem, reason_phrases_match_go) {
  EXPECT_EQ(reason_phrase(413), "Request Entity Too Large");
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
}

}  // namespace
}  // namespace sc
