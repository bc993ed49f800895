// Every definition of the public default repository parses, validates, compiles with generated
// answers and previews — one generated test per file.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>

#include "core/names.hpp"
#include "core/packages/compile.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/preview.hpp"
#include "core/packages/questions.hpp"
#include "tests/core/packages/fixture.hpp"

namespace sc::packages {
namespace {

TEST(fixture_repository, holds_the_36_definitions_of_the_census) {
  auto files = test::fixture_files();
  ASSERT_EQ(files.size(), 36u) << "fixture missing or changed at " << test::fixture_root();
}

class fixture_definition : public ::testing::TestWithParam<test::fixture_file> {};

TEST_P(fixture_definition, parses_compiles_and_previews) {
  const auto& file = GetParam();
  std::string yaml = test::read_text(file.path);
  ASSERT_FALSE(yaml.empty());
  auto def = parse_definition(yaml);
  ASSERT_TRUE(def) << def.error().detail;
  EXPECT_EQ(def->runtime, runtime_kind::container);
  EXPECT_FALSE(def->image.empty());
  EXPECT_FALSE(def->description.empty());

  auto_answer_context auto_context{
      .effective_name = file.package, .used_ports = {}, .port_free = {}, .random_bytes = {}};
  auto answers = auto_answers(*def, {}, auto_context);
  // What a user would type for the questions that have neither a default nor a generator.
  for (const auto& q : def->questions) {
    std::string& answer = answers[q.key];
    if (!answer.empty() || q.optional) continue;
    if (q.type == "bytes")
      answer = "10gb";
    else if (q.type == "oauth")
      answer = "token-123";
    else
      answer = "example";
  }
  compile_context context{.repo = "default",
                          .name = file.package,
                          .version = file.version,
                          .effective_name = file.package,
                          .dns_tld = "home",
                          .external_host = "203.0.113.7",
                          .internal_host = "192.168.1.2"};
  auto compiled = compile(*def, context, answers);
  ASSERT_TRUE(compiled) << compiled.error().detail << " "
                        << (compiled.error().errors.empty() ? "" : compiled.error().errors.front().field);
  EXPECT_TRUE(compiled->image_reference.ends_with(":latest") ||
              compiled->image_reference.find(':') != std::string::npos);
  // Every compile-time marker is gone; only runtime dependency markers may remain.
  std::string dns = file.package + ".default.home";
  for (const auto& [key, value] : compiled->environment) {
    EXPECT_EQ(value.find("@PACKAGE_DNS@"), std::string::npos) << key;
    EXPECT_FALSE(has_control_characters(value)) << key;
  }
  for (const auto& q : def->questions) {
    if (q.optional) continue;
    ASSERT_TRUE(compiled->answers.contains(q.key)) << q.key;
    if (q.type == "secret") {
      EXPECT_EQ(compiled->answers.at(q.key).size(), 64u) << q.key;
    }
    if (q.type == "port") {
      int port = std::stoi(compiled->answers.at(q.key));
      EXPECT_GE(port, 1);
      EXPECT_LE(port, 65535);
    }
  }
  for (const auto& v : compiled->volumes) EXPECT_TRUE(v.mountpoint.starts_with("/")) << v.name;

  preview_input input{.repo = "default",
                      .name = file.package,
                      .version = file.version,
                      .definition = &*def,
                      .compiled = &*compiled,
                      .upgrading_from = std::nullopt,
                      .installed = nullptr,
                      .disk = {.total = 100ULL << 30, .used = 10ULL << 30, .available = 90ULL << 30},
                      .vm_host_missing = {},
                      .upgrade = {}};
  auto parsed = boost::json::parse(install_preview(input));
  const auto& preview = parsed.as_object();
  EXPECT_EQ(preview.at("name").as_string(), file.package);
  EXPECT_EQ(preview.at("runtime").as_string(), "container");
  EXPECT_EQ(preview.at("volumes").as_array().size(), def->volumes.size());
  EXPECT_EQ(preview.at("external_ports").as_array().size() + preview.at("internal_ports").as_array().size(),
            def->network.external.size() + def->network.internal.size());
  EXPECT_TRUE(preview.at("summary").as_string().ends_with("."));
}

std::string test_name(const ::testing::TestParamInfo<test::fixture_file>& info) {
  std::string name = info.param.package + "_" + info.param.version;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(default_packages, fixture_definition, ::testing::ValuesIn(test::fixture_files()), test_name);

TEST(fixture_semantics, gitea_2_0_compiles_named_and_templated_ports_and_notes) {
  auto def = parse_definition(test::read_text(test::fixture_root() / "packages/gitea/2.0.yaml"));
  ASSERT_TRUE(def) << def.error().detail;
  compile_context context{.repo = "default",
                          .name = "gitea",
                          .version = "2.0",
                          .effective_name = "gitea",
                          .dns_tld = "home",
                          .external_host = "",
                          .internal_host = ""};
  auto compiled = compile(*def, context, {{"sshport", "2222"}});
  ASSERT_TRUE(compiled) << compiled.error().detail;
  ASSERT_EQ(compiled->internal_ports.size(), 2u);
  EXPECT_EQ(compiled->internal_ports[0].name, "http");
  EXPECT_EQ(compiled->internal_ports[0].host, 3000);
  EXPECT_EQ(compiled->internal_ports[1].host, 2222);
  EXPECT_EQ(compiled->internal_ports[1].container, 22);
  EXPECT_EQ(compiled->image_reference, "docker.io/gitea/gitea:latest");
  ASSERT_EQ(compiled->notes.size(), 2u);
  EXPECT_EQ(compiled->notes[1].value, "ssh://git@gitea.default.home:2222");
  bool found = false;
  for (const auto& [key, value] : compiled->environment) {
    if (key == "GITEA__server__ROOT_URL") {
      EXPECT_EQ(value, "https://gitea.default.home/");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(fixture_semantics, mattermost_3_0_keeps_the_runtime_dependency_marker_escaped) {
  auto def = parse_definition(test::read_text(test::fixture_root() / "packages/mattermost/3.0.yaml"));
  ASSERT_TRUE(def) << def.error().detail;
  compile_context context{.repo = "default",
                          .name = "mattermost",
                          .version = "3.0",
                          .effective_name = "mattermost",
                          .dns_tld = "home",
                          .external_host = "",
                          .internal_host = ""};
  auto compiled = compile(*def, context, {{"version", "11.9.0"}, {"dbpass", "pw"}});
  ASSERT_TRUE(compiled) << compiled.error().detail;
  for (const auto& [key, value] : compiled->environment) {
    if (key == "MM_SQLSETTINGS_DATASOURCE") {
      EXPECT_EQ(value, "postgres://mattermost:pw@@@dep_db_host@:@dep_db_port_sql@/mattermost?sslmode=disable");
      // The runtime pass resolves it to '@' + host.
      marker_values runtime{{"dep_db_host", "db-host"}, {"dep_db_port_sql", "5432"}};
      EXPECT_EQ(substitute_markers(value, runtime, escape_mode::collapse),
                "postgres://mattermost:pw@db-host:5432/mattermost?sslmode=disable");
    }
  }
}

TEST(fixture_semantics, redis_port_marker_in_command_is_substituted) {
  auto def = parse_definition(test::read_text(test::fixture_root() / "packages/redis/1.0.yaml"));
  ASSERT_TRUE(def) << def.error().detail;
  std::string joined;
  for (const auto& c : def->command) joined += c;
  ASSERT_NE(joined.find("@port@"), std::string::npos);
  auto_answer_context auto_context{.effective_name = "redis", .used_ports = {}, .port_free = {}, .random_bytes = {}};
  marker_values given;
  for (const auto& q : def->questions) {
    if (q.key == "port") given["port"] = "6380";
  }
  auto answers = auto_answers(*def, given, auto_context);
  compile_context context{.repo = "default",
                          .name = "redis",
                          .version = "1.0",
                          .effective_name = "redis",
                          .dns_tld = "home",
                          .external_host = "",
                          .internal_host = ""};
  auto compiled = compile(*def, context, answers);
  ASSERT_TRUE(compiled) << compiled.error().detail;
  std::string compiled_command;
  for (const auto& c : compiled->command) compiled_command += c;
  EXPECT_EQ(compiled_command.find("@port@"), std::string::npos);
  EXPECT_NE(compiled_command.find("6380"), std::string::npos);
}

}  // namespace
}  // namespace sc::packages
