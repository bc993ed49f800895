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

TEST(townctl_commands, data_members_stay_in_place_and_later_options_add_to_them) {
  // --data's objects take later dotted options; a key given twice is one member, in its first
  // place with its last value; numbers as the server writes them.
  parsed_args update;
  ASSERT_FALSE(parse_arguments(find("account", "update"),
                               words({"bob", "--data", R"({"fields":{"phone":"1"},"n":1.5,"d":{"k":1,"k":2}})",
                                      "--email", "e@x", "--set", "username=alice", "--set", "fields.phone=2"}),
                               update));
  EXPECT_EQ(update.body.json(), R"({"username":"alice","fields":{"phone":"2","email":"e@x"},"n":1.5,"d":{"k":2}})");
  EXPECT_EQ(update.body.string_member("username"), "alice");
  EXPECT_FALSE(update.body.string_member("fields"));
  EXPECT_FALSE(update.body.string_member("n"));

  // Repeated options append to an array, --data's included; answers add to an object.
  parsed_args download;
  ASSERT_FALSE(parse_arguments(find("storage", "download"),
                               words({"vol", "--data", R"({"paths":["a\"b"]})", "--path", "c", "--path", "d"}),
                               download));
  EXPECT_EQ(download.body.json(), R"({"subvolume":"vol","paths":["a\"b","c","d"]})");
  parsed_args fresh;
  ASSERT_FALSE(parse_arguments(find("storage", "download"), words({"vol", "--path", "c"}), fresh));
  EXPECT_EQ(fresh.body.json(), R"({"subvolume":"vol","paths":["c"]})");
  parsed_args install;
  ASSERT_FALSE(parse_arguments(find("packages", "install"),
                               words({"gitea", "--data", R"({"responses":{"a":"1"},"x.y":true})", "--answer", "b.c=2"}),
                               install));
  EXPECT_EQ(install.body.json(), R"({"name":"gitea","responses":{"a":"1","b.c":"2"},"x.y":true})");
  // A member that is not what an option needs is replaced, in its place.
  parsed_args replaced;
  ASSERT_FALSE(parse_arguments(find("packages", "install"),
                               words({"gitea", "--data", R"({"responses":[1],"fields":"x"})", "--answer", "a=1"}),
                               replaced));
  EXPECT_EQ(replaced.body.json(), R"({"name":"gitea","responses":{"a":"1"},"fields":"x"})");

  parsed_args upload;
  ASSERT_FALSE(parse_arguments(find("storage", "upload"),
                               words({"vol", "./dir", "--subpath", "s", "--data", R"({"n":1,"extra":"e"})"}), upload));
  std::vector<std::pair<std::string, std::string>> fields = {{"subvolume", "vol"}, {"subpath", "s"}, {"extra", "e"}};
  EXPECT_EQ(upload.body.string_members(), fields);

  parsed_args empty;
  ASSERT_FALSE(parse_arguments(find("repository", "refresh"), {}, empty));
  EXPECT_EQ(empty.body.json(), "{}");
  parsed_args bad;
  auto error = parse_arguments(find("storage", "create"), words({"a", "--data", "{\"name\":\"\xff\"}"}), bad);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "--data takes a JSON object");
  EXPECT_TRUE(parse_arguments(find("storage", "create"), words({"a", "--data", "[1]"}), bad));
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
