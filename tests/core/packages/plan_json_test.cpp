// Install plans survive the round trip through their stored JSON, and the public part never holds
// a secret.
#include "core/packages/plan_json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>

#include "core/packages/version.hpp"
#include "tests/core/packages/fixture_plan.hpp"

namespace sc::packages {
namespace {

install_plan plan_of(const test::fixture_file& file) {
  auto def = test::fixture_definition(file.package, file.version);
  if (!def) return {};
  marker_values answers;
  for (const auto& q : def->questions) {
    if (q.default_value || q.optional || q.type == "port" || q.type == "secret" || q.type == "hostname" ||
        q.type == "boolean")
      continue;
    answers[q.key] = q.type == "bytes" ? "10gb" : (q.type == "oauth" ? "token-1234567" : "example");
  }
  return test::fixture_plan(file.package, file.version, std::move(answers));
}

void expect_same(const install_plan& a, const install_plan& b) {
  ASSERT_EQ(a.containers.size(), b.containers.size());
  EXPECT_EQ(a.package, b.package);
  // The stored form is the comparison: equal text both ways means nothing was dropped.
  EXPECT_EQ(plan_public_json(a), plan_public_json(b));
  EXPECT_EQ(plan_secret_json(a), plan_secret_json(b));
  for (std::size_t i = 0; i < a.containers.size(); ++i) {
    EXPECT_EQ(a.containers[i].secret_environment, b.containers[i].secret_environment);
    EXPECT_EQ(a.containers[i].secret_answers, b.containers[i].secret_answers);
    EXPECT_EQ(a.containers[i].secret_templates.size(), b.containers[i].secret_templates.size());
  }
}

class plan_json_fixture : public ::testing::TestWithParam<test::fixture_file> {};

TEST_P(plan_json_fixture, round_trips_and_keeps_secrets_out_of_the_public_part) {
  auto plan = plan_of(GetParam());
  ASSERT_FALSE(plan.containers.empty());
  // The lifecycle gives a container with an ingress port its address; the record keeps it.
  for (auto& c : plan.containers) {
    if (c.ingress_port() != 0) c.ingress_address = "10.89.255.9";
  }
  auto public_part = plan_public_json(plan);
  auto secret_part = plan_secret_json(plan);
  const std::string& public_text = public_part;
  for (const auto& c : plan.containers) {
    // (An optional secret left empty is nothing to find.)
    for (const auto& [key, value] : c.secret_answers) {
      if (!value.empty()) {
        EXPECT_EQ(public_text.find(value), std::string::npos) << key;
      }
    }
    for (const auto& e : c.secret_environment) {
      if (!e.value.empty()) {
        EXPECT_EQ(public_text.find(e.value), std::string::npos) << e.key;
      }
    }
  }
  auto back = plan_from_json(public_part, secret_part);
  ASSERT_TRUE(back) << back.error().internal;
  expect_same(plan, *back);
}

std::string fixture_test_name(const ::testing::TestParamInfo<test::fixture_file>& param_info) {
  std::string name = param_info.param.package + "_" + param_info.param.version;
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(fixture, plan_json_fixture, ::testing::ValuesIn(test::fixture_files()), fixture_test_name);

TEST(plan_json, damaged_records_are_refused_not_guessed) {
  auto files = test::fixture_files();
  auto mattermost = std::find_if(files.begin(), files.end(),
                                 [](const auto& f) { return f.package == "mattermost" && f.version == "3.0"; });
  ASSERT_NE(mattermost, files.end());
  auto plan = plan_of(*mattermost);
  ASSERT_EQ(plan.containers.size(), 2u);
  auto public_part = plan_public_json(plan);
  auto secret_part = plan_secret_json(plan);

  // Secrets missing: refused (a unit without its password would start wrong).
  auto no_secrets = plan_from_json(public_part, R"({"containers":{}})");
  ASSERT_FALSE(no_secrets);
  EXPECT_EQ(no_secrets.error().status, 500);

  // Damage done on a DOM of the stored text (boost::json here: an oracle independent of the code).
  auto damaged = [&](auto&& damage) {
    auto dom = boost::json::parse(public_part);
    damage(dom.as_object());
    return boost::json::serialize(dom);
  };
  for (auto key : {"version", "containers", "package"}) {
    EXPECT_FALSE(plan_from_json(damaged([&](boost::json::object& o) { o[key] = "x"; }), secret_part)) << key;
  }
  auto bad_ports = damaged([](boost::json::object& o) {
    o["containers"].as_array()[0].as_object()["ports"] = boost::json::array{1, 2};
  });
  EXPECT_FALSE(plan_from_json(bad_ports, secret_part));
  EXPECT_FALSE(plan_from_json("null", secret_part));
  EXPECT_FALSE(plan_from_json(public_part, "\"x\""));
  EXPECT_FALSE(plan_from_json(public_part.substr(0, public_part.size() / 2), secret_part));
}

}  // namespace
}  // namespace sc::packages
