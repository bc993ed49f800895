// The install plan: names, ports, volumes, environment, secrets, dependencies — against the real
// fixture repository and against hostile definitions.
#include "core/packages/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "core/names.hpp"
#include "core/packages/version.hpp"
#include "tests/core/packages/fixture.hpp"
#include "tests/support/counting_bytes.hpp"

namespace sc::packages {
namespace {

// Every fixture definition by name and version; resolves like the catalog (one repository).
struct fixture_catalog {
  std::map<std::string, std::map<std::string, std::shared_ptr<const package_definition>>> packages;

  fixture_catalog() {
    for (const auto& file : test::fixture_files()) {
      auto def = parse_definition(test::read_text(file.path));
      if (def) packages[file.package][file.version] = std::make_shared<const package_definition>(std::move(*def));
    }
  }

  std::optional<resolved_definition> resolve(std::string_view repo, std::string_view name,
                                             std::string_view version) const {
    if (!repo.empty() && repo != "default") return std::nullopt;
    auto found = packages.find(std::string(name));
    if (found == packages.end()) return std::nullopt;
    if (version.empty()) {
      auto best = found->second.begin();
      for (auto it = found->second.begin(); it != found->second.end(); ++it) {
        if (compare_versions(it->first, best->first) > 0) best = it;
      }
      return resolved_definition{"default", std::string(name), best->first, best->second};
    }
    auto v = found->second.find(std::string(version));
    if (v == found->second.end()) return std::nullopt;
    return resolved_definition{"default", std::string(name), v->first, v->second};
  }

  const package_definition& at(const std::string& name, const std::string& version) const {
    return *packages.at(name).at(version);
  }
};

const fixture_catalog& catalog() {
  static const fixture_catalog c;
  return c;
}

plan_request fixture_request(const std::string& name, const std::string& version, auto_answer_context& generate,
                             marker_values answers = {}) {
  plan_request r;
  r.package = {"default", name, version, name};
  r.definition = &catalog().at(name, version);
  r.answers = std::move(answers);
  r.resolve = [](std::string_view repo, std::string_view n, std::string_view v) {
    return catalog().resolve(repo, n, v);
  };
  r.generate = &generate;
  r.default_quota = 10ull << 30;
  r.host_name = "box";
  r.external_host = "203.0.113.7";
  r.internal_host = "192.168.1.2";
  return r;
}

auto_answer_context test_generator() {
  return {.effective_name = {}, .used_ports = {}, .port_free = {}, .random_bytes = test::counting_bytes};
}

const environment_variable* find_env(const std::vector<environment_variable>& env, std::string_view key) {
  for (const auto& e : env) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

// A definition from YAML, which must parse.
std::shared_ptr<const package_definition> definition(std::string_view yaml) {
  auto def = parse_definition(yaml);
  EXPECT_TRUE(def) << def.error().detail << " "
                   << (def.error().errors.empty()
                           ? ""
                           : def.error().errors.front().field + ": " + def.error().errors.front().message);
  return std::make_shared<const package_definition>(def ? std::move(*def) : package_definition{});
}

// A small repository of inline definitions (repo "r", version "1").
struct inline_repo {
  std::map<std::string, std::shared_ptr<const package_definition>> defs;
  auto_answer_context generate = test_generator();

  plan_request request(const std::string& name, marker_values answers = {}) {
    plan_request r;
    r.package = {"r", name, "1", name};
    r.definition = defs.at(name).get();
    r.answers = std::move(answers);
    r.resolve = [this](std::string_view repo, std::string_view n,
                       std::string_view) -> std::optional<resolved_definition> {
      if (!repo.empty() && repo != "r") return std::nullopt;
      auto found = defs.find(std::string(n));
      if (found == defs.end()) return std::nullopt;
      return resolved_definition{"r", std::string(n), "1", found->second};
    };
    r.generate = &generate;
    r.default_quota = 1024;
    return r;
  }
};

bool has_error(const problem& p, std::string_view field) {
  return std::any_of(p.errors.begin(), p.errors.end(), [&](const field_error& e) { return e.field == field; });
}

std::string fields_of(const problem& p) {
  std::string out = p.detail;
  for (const auto& e : p.errors) out += " | " + e.field + ": " + e.message;
  return out;
}

TEST(plan_names, keep_the_original_spelling) {
  package_ref ref{"default", "gitea", "2.0", "gitea"};
  EXPECT_EQ(container_name(ref), "town-os-package--default-gitea-2.0");
  EXPECT_EQ(service_unit_name(ref), "town-os-package--default-gitea-2.0.service");
  EXPECT_EQ(network_name(ref), "town-os-net--default-gitea-2.0");
  EXPECT_EQ(dependency_effective_name("immich", "db"), "immich--dep--db");
  EXPECT_EQ(storage_path("immich--dep--db--dep--cache"), "immich/subpackages/db/subpackages/cache");
  EXPECT_EQ(storage_path("gitea"), "gitea");
  EXPECT_EQ(installed_root("default", "immich--dep--db"), "installed/default/immich/subpackages/db");
  EXPECT_EQ(uninstalled_root("default", "gitea"), "uninstalled/default/gitea");
  EXPECT_EQ(instance_effective_name("gitea", ""), "gitea");
  EXPECT_EQ(instance_effective_name("gitea", "two"), "gitea-two");
  EXPECT_TRUE(validate_unit_name(service_unit_name(ref)));
}

TEST(plan, gitea_from_the_fixture) {
  auto generate = test_generator();
  auto request = fixture_request("gitea", "2.0", generate);
  auto plan = make_plan(request);
  ASSERT_TRUE(plan) << fields_of(plan.error());
  ASSERT_EQ(plan->containers.size(), 1u);
  const auto& c = plan->main();
  EXPECT_EQ(c.name, "town-os-package--default-gitea-2.0");
  EXPECT_EQ(c.network, "town-os-net--default-gitea-2.0");
  EXPECT_EQ(c.slice, "town-os-packages-default-gitea.slice");
  EXPECT_EQ(c.image, "docker.io/gitea/gitea:latest");
  EXPECT_TRUE(c.dependency_key.empty());
  EXPECT_TRUE(c.network_aliases.empty());

  // internal http:3000 with supplies http → the ingress; "@sshport@": "22" → host 2222.
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].host, 2222);
  EXPECT_EQ(c.ports[0].container, 22);
  EXPECT_EQ(c.ports[0].exposure, port_exposure::host);
  EXPECT_FALSE(c.ports[0].external);
  EXPECT_EQ(c.ports[1].host, 3000);
  EXPECT_EQ(c.ports[1].name, "http");
  EXPECT_EQ(c.ports[1].exposure, port_exposure::ingress);
  EXPECT_EQ(plan->host_ports(), std::vector<int>{2222});

  ASSERT_EQ(c.volumes.size(), 2u);
  EXPECT_EQ(c.volumes[0].name, "data");
  EXPECT_EQ(c.volumes[0].subvolume, "installed/default/gitea/2.0/data");
  EXPECT_EQ(c.volumes[0].mountpoint, "/data");
  EXPECT_EQ(c.volumes[0].quota_bytes, 10ull << 30);
  EXPECT_TRUE(c.volumes[0].quota_from_default);
  EXPECT_EQ(c.volumes[1].subvolume, "installed/default/gitea/2.0/log");
  EXPECT_EQ(plan->total_quota_bytes(), 20ull << 30);

  EXPECT_TRUE(std::is_sorted(c.environment.begin(), c.environment.end(),
                             [](const auto& a, const auto& b) { return a.key < b.key; }));
  ASSERT_NE(find_env(c.environment, "GITEA__server__DOMAIN"), nullptr);
  EXPECT_EQ(find_env(c.environment, "GITEA__server__DOMAIN")->value, "gitea.default.home");
  EXPECT_EQ(find_env(c.environment, "GITEA__server__SSH_PORT")->value, "2222");
  EXPECT_TRUE(c.secret_environment.empty());
  EXPECT_EQ(c.answers.at("sshport"), "2222");
  EXPECT_TRUE(c.secret_answers.empty());
  EXPECT_EQ(plan->claimed_names(),
            (std::vector<std::string>{"town-os-net--default-gitea-2.0", "town-os-package--default-gitea-2.0"}));
}

TEST(plan, immich_installs_its_dependencies_first_on_its_network) {
  auto generate = test_generator();
  auto request = fixture_request("immich", "2.0", generate, {{"photosize", "100gb"}});
  auto plan = make_plan(request);
  ASSERT_TRUE(plan) << fields_of(plan.error());
  ASSERT_EQ(plan->containers.size(), 4u);
  // Siblings alphabetical (none references another), the package last.
  EXPECT_EQ(plan->containers[0].dependency_key, "db");
  EXPECT_EQ(plan->containers[1].dependency_key, "ml");
  EXPECT_EQ(plan->containers[2].dependency_key, "redis");
  const auto& immich = plan->main();
  EXPECT_EQ(immich.ref.effective_name, "immich");

  const auto& db = plan->containers[0];
  EXPECT_EQ(db.ref, (package_ref{"default", "immich-postgres", "1.0", "immich--dep--db"}));
  EXPECT_EQ(db.name, "town-os-package--default-immich--dep--db-1.0");
  EXPECT_EQ(db.parent, immich.name);
  EXPECT_EQ(db.network, "town-os-net--default-immich-2.0");
  EXPECT_EQ(db.network_aliases, std::vector<std::string>{"db"});
  EXPECT_EQ(db.slice, "town-os-packages-default-immich-db.slice");
  ASSERT_FALSE(db.volumes.empty());
  EXPECT_TRUE(db.volumes[0].subvolume.starts_with("installed/default/immich/subpackages/db/1.0/"));
  for (const auto& p : db.ports) EXPECT_EQ(p.exposure, port_exposure::network);

  EXPECT_EQ(immich.requires_containers, (std::vector<std::string>{"town-os-package--default-immich--dep--db-1.0",
                                                                  "town-os-package--default-immich--dep--ml-1.0",
                                                                  "town-os-package--default-immich--dep--redis-1.0"}));
  ASSERT_NE(find_env(immich.environment, "TOWNOS_DEP_DB_HOST"), nullptr);
  EXPECT_EQ(find_env(immich.environment, "TOWNOS_DEP_DB_HOST")->value, db.name);
  EXPECT_EQ(find_env(immich.environment, "DB_PORT")->value, "5432");
  EXPECT_EQ(find_env(immich.environment, "TOWNOS_DEP_DB_PORT_SQL")->value, "5432");
  EXPECT_EQ(find_env(immich.environment, "REDIS_PORT")->value, "6379");
  EXPECT_EQ(find_env(immich.environment, "IMMICH_MACHINE_LEARNING_URL")->value, "http://ml:3003");
  EXPECT_EQ(immich.volumes[0].quota_bytes, 100ull << 30);
  EXPECT_FALSE(immich.volumes[0].quota_from_default);

  // The generated database password is a secret in the parent and in the dependency.
  ASSERT_TRUE(immich.secret_answers.contains("dbpass"));
  const std::string& password = immich.secret_answers.at("dbpass");
  EXPECT_EQ(password.size(), 64u);
  EXPECT_EQ(find_env(immich.environment, "DB_PASSWORD"), nullptr);
  ASSERT_NE(find_env(immich.secret_environment, "DB_PASSWORD"), nullptr);
  EXPECT_EQ(find_env(immich.secret_environment, "DB_PASSWORD")->value, password);
  ASSERT_NE(find_env(db.secret_environment, "POSTGRES_PASSWORD"), nullptr);
  EXPECT_EQ(find_env(db.secret_environment, "POSTGRES_PASSWORD")->value, password);
  EXPECT_EQ(db.secret_answers.at("password"), password);

  // Only the package's own ports are claimed on the host; immich's http goes to the ingress.
  EXPECT_TRUE(plan->host_ports().empty());
  EXPECT_EQ(plan->claimed_names().size(), 5u);
}

TEST(plan, mattermost_resolves_runtime_markers_after_escapes) {
  auto generate = test_generator();
  auto request = fixture_request("mattermost", "3.0", generate);
  auto plan = make_plan(request);
  ASSERT_TRUE(plan) << fields_of(plan.error());
  ASSERT_EQ(plan->containers.size(), 2u);
  const auto& db = plan->containers[0];
  const auto& mm = plan->main();
  const std::string& password = mm.secret_answers.at("dbpass");
  auto* source = find_env(mm.secret_environment, "MM_SQLSETTINGS_DATASOURCE");
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->value, "postgres://mattermost:" + password + "@" + db.name + ":5432/mattermost?sslmode=disable");
  EXPECT_EQ(find_env(mm.environment, "MM_VERSION")->value, "11.9.0");
  // Volumes with uid/gid carry them for provisioning; templates land in declared volumes.
  for (const auto& v : mm.volumes) {
    EXPECT_EQ(v.uid, 2000);
    EXPECT_EQ(v.gid, 2000);
  }
  ASSERT_EQ(mm.templates.size(), 2u);
  EXPECT_TRUE(mm.secret_templates.empty());
  EXPECT_EQ(mm.entrypoint, std::vector<std::string>{"sh"});
  EXPECT_EQ(mm.command, std::vector<std::string>{"/mattermost/bootstrap.sh"});
}

class plan_fixture : public ::testing::TestWithParam<test::fixture_file> {};

// Every definition of the repository plans, and no secret answer reaches a plain member.
TEST_P(plan_fixture, plans_with_secrets_kept_apart) {
  const auto& file = GetParam();
  auto generate = test_generator();
  const auto& def = catalog().at(file.package, file.version);
  marker_values answers;
  for (const auto& q : def.questions) {
    if (q.default_value || q.optional || q.type == "port" || q.type == "secret" || q.type == "hostname" ||
        q.type == "boolean")
      continue;
    answers[q.key] = q.type == "bytes" ? "10gb" : (q.type == "oauth" ? "token-1234567" : "example");
  }
  auto request = fixture_request(file.package, file.version, generate, answers);
  auto plan = make_plan(request);
  ASSERT_TRUE(plan) << fields_of(plan.error());
  std::vector<std::string> secrets;
  for (const auto& c : plan->containers) {
    for (const auto& [key, value] : c.secret_answers) secrets.push_back(value);
  }
  for (const auto& c : plan->containers) {
    EXPECT_TRUE(validate_unit_name(c.name + ".service")) << c.name;
    EXPECT_TRUE(c.slice.ends_with(".slice"));
    for (const auto& v : c.volumes) EXPECT_TRUE(validate_relative_path(v.subvolume)) << v.subvolume;
    for (const auto& secret : secrets) {
      for (const auto& e : c.environment) EXPECT_EQ(e.value.find(secret), std::string::npos) << c.name << " " << e.key;
      for (const auto& a : c.command) EXPECT_EQ(a.find(secret), std::string::npos) << c.name;
      for (const auto& a : c.entrypoint) EXPECT_EQ(a.find(secret), std::string::npos) << c.name;
      for (const auto& t : c.templates) EXPECT_EQ(t.content.find(secret), std::string::npos) << c.name << " " << t.name;
      for (const auto& [key, value] : c.answers) EXPECT_NE(value, secret) << c.name << " " << key;
      for (const auto& n : c.notes) EXPECT_EQ(n.value.find(secret), std::string::npos) << c.name << " " << n.label;
    }
    for (const auto& e : c.environment) EXPECT_FALSE(has_control_characters(e.value)) << e.key;
    for (const auto& e : c.environment) EXPECT_EQ(e.value.find("@dep_"), std::string::npos) << e.key;
  }
}

std::string fixture_test_name(const ::testing::TestParamInfo<test::fixture_file>& param_info) {
  std::string name = param_info.param.package + "_" + param_info.param.version;
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(fixture, plan_fixture, ::testing::ValuesIn(test::fixture_files()), fixture_test_name);

TEST(plan, a_reinstall_keeps_the_generated_answers_of_dependencies) {
  auto generate = test_generator();
  auto first = make_plan(fixture_request("immich", "2.0", generate, {{"photosize", "1gb"}}));
  ASSERT_TRUE(first) << fields_of(first.error());
  const auto& redis = first->containers[2];
  ASSERT_EQ(redis.dependency_key, "redis");

  auto request = fixture_request("immich", "2.0", generate, {{"photosize", "1gb"}, {"dbpass", "kept"}});
  request.dependency_answers["immich--dep--redis"] = {{"port", "7000"}};
  request.dependency_answers["immich--dep--db"] = {{"password", "ignored"}, {"user", "ignored"}};
  auto second = make_plan(request);
  ASSERT_TRUE(second) << fields_of(second.error());
  EXPECT_EQ(second->containers[2].answers.at("port"), "7000");
  // The parent's responses win over a dependency's saved answers.
  EXPECT_EQ(second->containers[0].secret_answers.at("password"), "kept");
  EXPECT_EQ(second->containers[0].answers.at("user"), "immich");
}

TEST(plan, sibling_references_order_dependencies_and_cycles_are_refused) {
  inline_repo repo;
  repo.defs["leaf"] = definition(R"(image: busybox
description: leaf
environment:
  UP: "@up@"
network:
  internal:
    web: "8080"
questions:
  up:
    query: upstream?
    optional: true
)");
  repo.defs["app"] = definition(R"(image: busybox
description: app
dependencies:
  a:
    package: leaf
    responses:
      up: "@dep_z_host@:@dep_z_port_web@"
  m:
    package: leaf
  z:
    package: leaf
)");
  auto plan = make_plan(repo.request("app"));
  ASSERT_TRUE(plan) << fields_of(plan.error());
  ASSERT_EQ(plan->containers.size(), 4u);
  EXPECT_EQ(plan->containers[0].dependency_key, "m");
  EXPECT_EQ(plan->containers[1].dependency_key, "z");
  EXPECT_EQ(plan->containers[2].dependency_key, "a");
  EXPECT_EQ(find_env(plan->containers[2].environment, "UP")->value, "town-os-package--r-app--dep--z-1:8080");

  repo.defs["cycle"] = definition(R"(image: busybox
description: cycle
dependencies:
  a:
    package: leaf
    responses:
      up: "@dep_b_host@"
  b:
    package: leaf
    responses:
      up: "@dep_a_host@"
)");
  auto cyclic = make_plan(repo.request("cycle"));
  ASSERT_FALSE(cyclic);
  EXPECT_EQ(cyclic.error().status, 422);
  EXPECT_TRUE(has_error(cyclic.error(), "dependencies")) << fields_of(cyclic.error());
}

TEST(plan, a_package_that_depends_on_itself_stops_at_the_depth_limit) {
  inline_repo repo;
  repo.defs["ouroboros"] = definition(R"(image: busybox
description: eats itself
dependencies:
  me:
    package: ouroboros
)");
  auto plan = make_plan(repo.request("ouroboros"));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().status, 422);
  EXPECT_TRUE(has_error(plan.error(), "dependencies.me.dependencies.me.dependencies.me.dependencies.me.dependencies"))
      << fields_of(plan.error());

  // A wide tree is bounded too: 4 levels of 4 dependencies would be 341 containers.
  repo.defs["wide"] = definition(R"(image: busybox
description: wide
dependencies:
  a: {package: wide}
  b: {package: wide}
  c: {package: wide}
  d: {package: wide}
)");
  auto wide = make_plan(repo.request("wide"));
  ASSERT_FALSE(wide);
  EXPECT_EQ(wide.error().status, 422);
}

TEST(plan, unknown_dependency_and_bad_answers_name_their_fields) {
  inline_repo repo;
  repo.defs["app"] = definition(R"(image: busybox
description: app
questions:
  port:
    query: port?
    type: port
  name:
    query: name?
dependencies:
  db:
    package: nosuch
)");
  auto bad_answers = make_plan(repo.request("app", {{"port", "99999"}, {"name", "x"}, {"stray", "1"}}));
  ASSERT_FALSE(bad_answers);
  EXPECT_EQ(bad_answers.error().status, 422);
  EXPECT_TRUE(has_error(bad_answers.error(), "port")) << fields_of(bad_answers.error());
  EXPECT_TRUE(has_error(bad_answers.error(), "stray")) << fields_of(bad_answers.error());

  auto no_dep = make_plan(repo.request("app", {{"port", "8080"}, {"name", "x"}}));
  ASSERT_FALSE(no_dep);
  EXPECT_EQ(no_dep.error().status, 422);
  EXPECT_TRUE(has_error(no_dep.error(), "dependencies.db.package")) << fields_of(no_dep.error());
}

TEST(plan, a_dependency_answer_error_is_prefixed_with_its_key) {
  inline_repo repo;
  repo.defs["leaf"] = definition(R"(image: busybox
description: leaf
questions:
  port: {query: "port?", type: port}
)");
  repo.defs["app"] = definition(R"(image: busybox
description: app
dependencies:
  db:
    package: leaf
    responses:
      port: "not-a-port"
)");
  auto plan = make_plan(repo.request("app"));
  ASSERT_FALSE(plan);
  EXPECT_TRUE(has_error(plan.error(), "dependencies.db.port")) << fields_of(plan.error());
}

TEST(plan, a_secret_in_argv_is_refused) {
  inline_repo repo;
  repo.defs["leaky"] = definition(R"(image: busybox
description: leaky
command: ["httpd", "--password=@pass@"]
questions:
  pass: {query: "pass?", type: secret}
)");
  auto plan = make_plan(repo.request("leaky"));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().status, 422);
  EXPECT_TRUE(has_error(plan.error(), "command[1]")) << fields_of(plan.error());
  // The generated secret is not in the message.
  for (const auto& e : plan.error().errors) EXPECT_EQ(e.message.find("--password="), std::string::npos);
}

TEST(plan, secrets_passed_to_a_dependency_stay_secret_there) {
  inline_repo repo;
  repo.defs["store"] = definition(R"(image: busybox
description: a store whose password question is plain text
environment:
  STORE_PASSWORD: "@password@"
  STORE_USER: "@user@"
questions:
  password: {query: "password?"}
  user: {query: "user?"}
)");
  repo.defs["app"] = definition(R"(image: busybox
description: app
environment:
  CONNECT: "@user@:@@@pass@"
  PLAIN: "@user@"
questions:
  pass: {query: "pass?", type: secret}
  user: {query: "user?", default: admin}
dependencies:
  store:
    package: store
    responses:
      password: "x@pass@"
      user: "@user@"
templates:
  config:
    volume: conf
    path: config.ini
    content: "user={{.Responses.user}}\n"
  secret:
    volume: conf
    path: secret.ini
    content: "pass={{.Responses.pass}}\n"
  marker:
    volume: conf
    path: marker.ini
    content: "pass=@pass@\n"
volumes:
  conf: {mountpoint: /conf}
)");
  auto plan = make_plan(repo.request("app", {{"pass", "hunter2"}}));
  ASSERT_TRUE(plan) << fields_of(plan.error());
  const auto& store = plan->containers[0];
  const auto& app = plan->main();
  EXPECT_EQ(store.secret_answers.at("password"), "xhunter2");
  EXPECT_EQ(store.answers.at("user"), "admin");
  EXPECT_EQ(find_env(store.secret_environment, "STORE_PASSWORD")->value, "xhunter2");
  EXPECT_EQ(find_env(store.environment, "STORE_USER")->value, "admin");
  EXPECT_EQ(find_env(app.secret_environment, "CONNECT")->value, "admin:@hunter2");
  EXPECT_EQ(find_env(app.environment, "PLAIN")->value, "admin");
  ASSERT_EQ(app.templates.size(), 1u);
  EXPECT_EQ(app.templates[0].name, "config");
  EXPECT_EQ(app.templates[0].content, "user=admin\n");
  ASSERT_EQ(app.secret_templates.size(), 2u);
  EXPECT_EQ(app.secret_templates[0].content, "pass=hunter2\n");
  EXPECT_EQ(app.secret_templates[1].content, "pass=hunter2\n");
}

TEST(plan, templates_see_their_dependencies) {
  inline_repo repo;
  repo.defs["leaf"] = definition(R"(image: busybox
description: leaf
network:
  internal:
    web: "8080"
volumes:
  www: {mountpoint: /www}
)");
  repo.defs["app"] = definition(R"(image: busybox
description: app
volumes:
  www: {mountpoint: /www, quota: 5mb, uid: 33, gid: 33}
templates:
  index:
    volume: www
    path: sub/index.html
    content: "{{.Package.Name}}@{{.Package.Version}} on {{.System.Hostname}} -> {{.Dep.up.Host}}:{{index .Dep.up.Ports \"web\"}} {{.Dep.up.Volumes.www}}"
dependencies:
  up: {package: leaf}
)");
  auto request = repo.request("app");
  request.host_name = "box";
  auto plan = make_plan(request);
  ASSERT_TRUE(plan) << fields_of(plan.error());
  const auto& app = plan->main();
  ASSERT_EQ(app.templates.size(), 1u);
  EXPECT_EQ(app.templates[0].path, "sub/index.html");
  EXPECT_EQ(app.templates[0].content, "app@1 on box -> town-os-package--r-app--dep--up-1:8080 /www");
  EXPECT_EQ(app.volumes[0].quota_bytes, 5u << 20);
  EXPECT_EQ(app.volumes[0].uid, 33);
  EXPECT_EQ(plan->containers[0].volumes[0].quota_bytes, 1024u);
  EXPECT_TRUE(plan->containers[0].volumes[0].quota_from_default);
}

TEST(plan, ports_declared_twice_or_hostile_mountpoints_are_refused) {
  inline_repo repo;
  repo.defs["twice"] = definition(R"(image: busybox
description: twice
network:
  external:
    "8080": "80"
  internal:
    "8080": "81"
)");
  auto twice = make_plan(repo.request("twice"));
  ASSERT_FALSE(twice);
  EXPECT_TRUE(has_error(twice.error(), "network.internal.8080")) << fields_of(twice.error());

  for (std::string mountpoint : {"/a:/b", "/a,ro", "/a/../etc", "/./a"}) {
    repo.defs["mount"] =
        definition("image: busybox\ndescription: m\nvolumes:\n  v: {mountpoint: \"" + mountpoint + "\"}\n");
    auto plan = make_plan(repo.request("mount"));
    ASSERT_FALSE(plan) << mountpoint;
    EXPECT_TRUE(has_error(plan.error(), "volumes.v.mountpoint")) << mountpoint << fields_of(plan.error());
  }
}

TEST(plan, external_ports_are_published_and_marked_external) {
  inline_repo repo;
  repo.defs["web"] = definition(R"(image: busybox
description: web
supplies: [http]
network:
  external:
    "@port@": "80"
  internal:
    http: "8081"
    "9000": "9000"
  direct: ["9000"]
questions:
  port: {query: "port?", type: port}
)");
  auto plan = make_plan(repo.request("web", {{"port", "18080"}}));
  ASSERT_TRUE(plan) << fields_of(plan.error());
  const auto& ports = plan->main().ports;
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0].host, 8081);
  EXPECT_EQ(ports[0].exposure, port_exposure::ingress);
  EXPECT_EQ(ports[1].host, 9000);
  EXPECT_EQ(ports[1].exposure, port_exposure::host);
  EXPECT_EQ(ports[2].host, 18080);
  EXPECT_EQ(ports[2].container, 80);
  EXPECT_TRUE(ports[2].external);
  EXPECT_EQ(plan->host_ports(), (std::vector<int>{9000, 18080}));
}

TEST(plan, runtimes_other_than_containers_are_refused_for_now) {
  inline_repo repo;
  repo.defs["vm"] = definition(R"(vm:
  image: https://example.com/disk.qcow2
  memory: "1024"
description: a vm
)");
  auto plan = make_plan(repo.request("vm"));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().status, 422);
  EXPECT_TRUE(has_error(plan.error(), "runtime")) << fields_of(plan.error());
}

TEST(plan, identity_is_validated) {
  inline_repo repo;
  repo.defs["app"] = definition("image: busybox\ndescription: app\n");
  for (const auto& bad : {package_ref{"../x", "app", "1", "app"}, package_ref{"r", "app", "1/2", "app"},
                          package_ref{"r", "app", "1", "other"}, package_ref{"r", "app", "1", "app--dep--x"}}) {
    auto request = repo.request("app");
    request.package = bad;
    auto plan = make_plan(request);
    ASSERT_FALSE(plan) << bad.repo << " " << bad.version << " " << bad.effective_name;
    EXPECT_EQ(plan.error().status, 422);
  }
  auto request = repo.request("app");
  request.package.effective_name = instance_effective_name("app", "second");
  auto plan = make_plan(request);
  ASSERT_TRUE(plan) << fields_of(plan.error());
  EXPECT_EQ(plan->main().name, "town-os-package--r-app-second-1");
  EXPECT_EQ(plan->main().slice, "town-os-packages-r-app\\x2dsecond.slice");
}

TEST(plan, escapes_collapse_once_and_unknown_markers_stay) {
  inline_repo repo;
  repo.defs["app"] = definition(R"(image: busybox
description: app
environment:
  MAIL: "me@@example.com"
  RAW: "@nosuch@"
)");
  auto plan = make_plan(repo.request("app"));
  ASSERT_TRUE(plan) << fields_of(plan.error());
  EXPECT_EQ(find_env(plan->main().environment, "MAIL")->value, "me@example.com");
  EXPECT_EQ(find_env(plan->main().environment, "RAW")->value, "@nosuch@");
}

TEST(plan, environment_names_a_runtime_cannot_carry_are_refused) {
  inline_repo repo;
  for (std::string key : {"1ABC", "A B", "#A", "A=B"}) {
    // The parser refuses these already; the plan must not rely on every caller having parsed.
    auto def = std::make_shared<package_definition>(*definition("image: busybox\ndescription: e\n"));
    def->environment.emplace_back(key, "x");
    repo.defs["env"] = def;
    auto plan = make_plan(repo.request("env"));
    ASSERT_FALSE(plan) << key;
    EXPECT_EQ(plan.error().status, 422) << key;
  }
}

install_plan plan_for(inline_repo& repo, const std::string& repo_name, const std::string& name,
                      const std::string& version, marker_values answers = {}) {
  auto request = repo.request(name, std::move(answers));
  request.package = {repo_name, name, version, name};
  auto plan = make_plan(request);
  EXPECT_TRUE(plan) << fields_of(plan.error());
  return plan ? *plan : install_plan{};
}

TEST(plan_checks, dashes_make_names_collide_and_that_is_refused) {
  inline_repo repo;
  repo.defs["c"] = definition("image: busybox\ndescription: c\n");
  repo.defs["b-c"] = definition("image: busybox\ndescription: b-c\n");
  auto one = plan_for(repo, "a-b", "c", "1");
  auto two = plan_for(repo, "a", "b-c", "1");
  EXPECT_EQ(one.main().name, two.main().name);
  EXPECT_NE(one.main().slice, two.main().slice);  // accounting never mixes them up
  auto collision = check_name_collision(two, one);
  ASSERT_FALSE(collision);
  EXPECT_EQ(collision.error().status, 409);
  EXPECT_NE(collision.error().detail.find("town-os-"), std::string::npos) << collision.error().detail;
  EXPECT_NE(collision.error().detail.find("a-b/c@1"), std::string::npos) << collision.error().detail;

  // Another version does not collide; the same package never collides with itself (upgrade).
  EXPECT_TRUE(check_name_collision(plan_for(repo, "a", "b-c", "2"), one));
  EXPECT_TRUE(check_name_collision(plan_for(repo, "a-b", "c", "1"), one));
}

TEST(plan_checks, host_ports_claimed_by_another_package_conflict) {
  inline_repo repo;
  repo.defs["web"] = definition(R"(image: busybox
description: web
network:
  external:
    "@port@": "80"
questions:
  port: {query: "port?", type: port}
)");
  repo.defs["other"] = repo.defs["web"];
  auto installed = plan_for(repo, "r", "web", "1", {{"port", "18080"}});
  auto clash = check_port_claims(plan_for(repo, "r", "other", "1", {{"port", "18080"}}), installed);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().status, 409);
  EXPECT_NE(clash.error().detail.find("18080"), std::string::npos);
  EXPECT_TRUE(check_port_claims(plan_for(repo, "r", "other", "1", {{"port", "18081"}}), installed));
  EXPECT_TRUE(check_port_claims(plan_for(repo, "r", "web", "2", {{"port", "18080"}}), installed));
}

}  // namespace
}  // namespace sc::packages
