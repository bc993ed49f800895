// townctl's command table against the server's route table: every endpoint is reachable as a
// subcommand, and a command line becomes the request the API documents.
#include "tools/townctl/cli/commands.hpp"

#include <gtest/gtest.h>

#include <set>

#include "server/router.hpp"

namespace sc::townctl {
namespace {

std::vector<std::string> words(std::initializer_list<const char*> list) {
  return {list.begin(), list.end()};
}

const command& find(std::string_view group, std::string_view name) {
  for (const auto& c : command_table()) {
    if (c.group == group && c.name == name) return c;
  }
  throw std::runtime_error("no command " + std::string(group) + " " + std::string(name));
}

TEST(townctl_commands, every_route_has_a_command) {
  std::set<std::pair<std::string, std::string>> covered;
  for (const auto& c : command_table()) {
    covered.emplace(std::string(c.method), std::string(c.path));
    if (!c.also_path.empty()) covered.emplace("GET", std::string(c.also_path));
  }
  for (const auto& r : server::build_routes()) {
    std::string method(boost::beast::http::to_string(r.method));
    // The monitoring proxy takes POST for the browser UI's forms; the command line GETs the same
    // API (`monitoring get`), and `townctl call POST` reaches the form route.
    if (method == "POST" && r.path.ends_with(server::rest_of_path)) continue;
    EXPECT_TRUE(covered.contains({method, std::string(r.path)}))
        << method << " " << r.path << " has no townctl command";
  }
}

TEST(townctl_commands, every_command_has_help_and_a_unique_name) {
  std::set<std::string> names;
  for (const auto& c : command_table()) {
    EXPECT_FALSE(c.help.empty()) << c.display_name();
    EXPECT_TRUE(names.insert(c.display_name()).second) << c.display_name() << " twice";
    EXPECT_NE(command_usage(c).find("Usage: townctl " + c.display_name()), std::string::npos);
    for (const auto& a : c.args) EXPECT_FALSE(a.help.empty()) << c.display_name() << " " << a.name;
  }
  for (auto group : group_names()) EXPECT_FALSE(group_help(group).empty()) << group;
}

TEST(townctl_commands, install_takes_a_package_reference_and_answers) {
  parsed_args args;
  auto error = parse_arguments(
      find("packages", "install"),
      words({"default/gitea@2.0", "--answer", "sshport=2222", "--answer=name=a=b", "--reuse-volumes"}), args);
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(args.body.json(),
            R"({"repo":"default","name":"gitea","version":"2.0","responses":{"sshport":"2222","name":"a=b"},)"
            R"("reuse_volumes":true})");
}

TEST(townctl_commands, get_arguments_go_to_the_query_and_nested_names_nest) {
  parsed_args list;
  ASSERT_FALSE(parse_arguments(find("packages", "list"), words({"--limit", "5", "--search", "a b"}), list));
  EXPECT_EQ(target_of("/packages", list.query), "/packages?limit=5&search=a%20b");

  parsed_args modify;
  ASSERT_FALSE(
      parse_arguments(find("storage", "modify"), words({"data", "--new-name", "media", "--quota", "10"}), modify));
  EXPECT_EQ(modify.body.json(), R"({"name":"data","filesystem":{"name":"media","quota":10}})");

  parsed_args start;
  ASSERT_FALSE(parse_arguments(find("units", "start"), words({"a.service"}), start));
  EXPECT_EQ(start.body.json(), R"({"name":"a.service","action":"start"})");
}

TEST(townctl_commands, usage_errors_are_named) {
  parsed_args args;
  auto missing = parse_arguments(find("storage", "create"), {}, args);
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->message.find("NAME"), std::string::npos) << missing->message;
  EXPECT_TRUE(parse_arguments(find("storage", "create"), words({"a", "--quota", "ten"}), args));
  EXPECT_TRUE(parse_arguments(find("storage", "create"), words({"a", "--bogus"}), args));
  EXPECT_TRUE(parse_arguments(find("storage", "create"), words({"a", "b"}), args));
  EXPECT_TRUE(parse_arguments(find("packages", "install"), words({"default/"}), args));
  parsed_args help;
  ASSERT_FALSE(parse_arguments(find("storage", "create"), words({"--help"}), help));
  EXPECT_TRUE(help.help);
}

TEST(townctl_commands, passwords_are_never_taken_from_the_command_line) {
  parsed_args args;
  ASSERT_FALSE(parse_arguments(find("account", "create"),
                               words({"bob", "--email", "b@example.com", "--phone", "1", "--real-name", "Bob"}), args));
  EXPECT_FALSE(args.body.contains("password"));
  ASSERT_EQ(args.secrets.size(), 1u);
  EXPECT_EQ(args.secrets[0], "password");
  EXPECT_TRUE(parse_arguments(find("account", "create"), words({"bob", "--password=hunter22"}), args));
}

TEST(townctl_commands, pages_commands_name_their_page_and_its_source) {
  parsed_args create;
  ASSERT_FALSE(parse_arguments(
      find("pages", "create"),
      words({"docs", "--source-type", "git", "--repo-url", "file:///srv/docs", "--domain", "docs.home"}), create));
  EXPECT_EQ(create.body.json(),
            R"({"name":"docs","source_type":"git","repo_url":"file:///srv/docs","domain":"docs.home"})");
  parsed_args list;
  ASSERT_FALSE(parse_arguments(find("pages", "list"), words({"--sort-by", "domain"}), list));
  EXPECT_EQ(target_of("/pages", list.query), "/pages?sort_by=domain");
  parsed_args upload;
  ASSERT_FALSE(parse_arguments(find("pages", "upload"), words({"blog", "./site"}), upload));
  EXPECT_EQ(upload.body.json(), R"({"name":"blog"})");
  EXPECT_EQ(upload.local.at("source"), "./site");
  parsed_args rebuild;
  ASSERT_FALSE(parse_arguments(find("pages", "rebuild"), words({"docs"}), rebuild));
  EXPECT_EQ(rebuild.body.json(), R"({"name":"docs"})");
}

TEST(townctl_commands, extra_members_reach_any_field) {
  parsed_args args;
  ASSERT_FALSE(parse_arguments(find("dns", "add"),
                               words({"www", "A", "10.0.0.1", "--set", "comment=x", "--data", R"({"ttl":60})"}), args));
  EXPECT_EQ(args.body.json(), R"({"name":"www","type":"A","value":"10.0.0.1","comment":"x","ttl":60})");
}

TEST(townctl_commands, completion_lists_groups_commands_and_options) {
  auto script = bash_completion();
  EXPECT_NE(script.find("complete -o filenames -F _townctl townctl"), std::string::npos);
  EXPECT_NE(script.find("packages) subcommands='list by-repo"), std::string::npos);
  EXPECT_NE(script.find("'packages install') options='--help --json --socket --url --set --data --instance --answer"),
            std::string::npos);
  EXPECT_NE(script.find("'logs') options="), std::string::npos);
}

}  // namespace
}  // namespace sc::townctl

namespace sc::townctl {
namespace {

TEST(townctl_commands, a_prefix_route_takes_the_rest_of_its_path_from_the_path_argument) {
  EXPECT_EQ(target_of("/monitoring/grafana/{path}", {{"path", "api/v1/query"}, {"query", "up{job=\"node\"}"}}),
            "/monitoring/grafana/api/v1/query?query=up%7Bjob%3D%22node%22%7D");
  EXPECT_EQ(target_of("/monitoring/grafana/{path}", {{"path", "/graph"}}), "/monitoring/grafana/graph");
  EXPECT_EQ(target_of("/monitoring/grafana/{path}", {{"path", "a b/c?d"}}), "/monitoring/grafana/a%20b/c%3Fd");
  EXPECT_EQ(target_of("/monitoring/grafana/{path}", {}), "/monitoring/grafana/");
}

}  // namespace
}  // namespace sc::townctl
