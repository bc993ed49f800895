// The read-only package endpoints (behavior-ops.md §6.5), all served from the catalog's in-memory
// snapshot: no git and no disk per request (install-preview asks statvfs for the disk figures).
// Installed state comes from the install records (server/lifecycle.hpp).
#include <sys/statvfs.h>

#include <array>
#include <map>

#include "adapters/podman/podman.hpp"
#include "adapters/store/package_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/packages/compile.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/preview.hpp"
#include "core/packages/questions.hpp"
#include "core/packages/repository.hpp"
#include "core/packages/upgrades.hpp"
#include "core/packages/version.hpp"
#include "server/app.hpp"
#include "server/catalog.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/lifecycle.hpp"

namespace sc::server::handlers {

namespace {

constexpr string_rule name_rule{.max_length = 64, .allow_empty = false, .allow_newlines = false};

constexpr std::array<list_field<package_list_entry>, 4> package_fields = {{
    {"name", [](const package_list_entry& e) -> list_value { return std::string_view(e.name); }, false},
    {"repo", [](const package_list_entry& e) -> list_value { return std::string_view(e.repo); }, false},
    {"version", [](const package_list_entry& e) -> list_value { return std::string_view(e.version); }, false},
    {"description", [](const package_list_entry& e) -> list_value { return std::string_view(e.description); }, false},
}};

bool flag(const request_context& context, std::string_view key) {
  auto v = context.query.find(key);
  return v && (*v == "true" || *v == "1");
}

// What is installed of a package name (the package itself, not an instance of it): its version,
// and whether the repository's definition of that version changed since (by content; a definition
// the repository no longer has counts as changed).
struct installed_state {
  std::string version;
  bool changed = false;
};

std::map<std::string, installed_state, std::less<>> installed_states(request_context& context,
                                                                     const catalog_snapshot& snapshot) {
  std::map<std::string, installed_state, std::less<>> out;
  for (const auto& record : context.services.lifecycle().records().installed()) {
    const auto& ref = record.plan.package;
    if (ref.effective_name != ref.name) continue;
    std::optional<std::string_view> repository_manifest;
    if (const catalog_package* now = snapshot.find(ref.repo, ref.name, ref.version)) repository_manifest = now->yaml;
    out[ref.name] = {ref.version, packages::definition_changed(record.manifest, repository_manifest)};
  }
  return out;
}

std::optional<std::string> installed_version_of(request_context& context, std::string_view repo,
                                                std::string_view name) {
  return context.services.lifecycle().installed_version(repo, name);
}

// An entry of package_page: `installed_version` and `changed` only when installed.
schema::type package_entry_schema() {
  using namespace schema;
  return component(
      "package_list_entry",
      object({{"repo", string()},
              {"name", string()},
              {"version", string()},
              optional("description", string()),
              optional("supplies", array(string())),
              {"installed", boolean()},
              optional("installed_version", string()),
              optional("changed", describe(boolean(), "the repository's definition of the installed version changed")),
              optional("featured", boolean())}));
}

http::response package_page(request_context& context, bool featured_only) {
  auto snapshot = context.services.packages().snapshot();
  auto installed = installed_states(context, *snapshot);
  bool installed_only = flag(context, "installed_only");
  std::vector<package_list_entry> filtered;
  const std::vector<package_list_entry>* items = &snapshot->latest;
  if (featured_only || installed_only) {
    for (const auto& e : snapshot->latest) {
      if ((!installed_only || installed.contains(e.name)) && (!featured_only || e.featured)) filtered.push_back(e);
    }
    items = &filtered;
  }
  auto write_entry = [&installed](json_writer& w, const package_list_entry& e) {
    w.begin_object().key("repo").value(e.repo).key("name").value(e.name).key("version").value(e.version);
    if (!e.description.empty()) w.key("description").value(e.description);
    if (!e.supplies.empty()) w.key("supplies").value(e.supplies);
    auto state = installed.find(e.name);
    w.key("installed").value(state != installed.end());
    if (state != installed.end()) {
      w.key("installed_version").value(state->second.version);
      if (state->second.changed) w.key("changed").value(true);
    }
    if (e.featured) w.key("featured").value(true);
    w.end_object();
  };
  auto page = paginate(*items, parse_list_query(context.query),
                       std::span<const list_field<package_list_entry>>(package_fields));
  std::string body;
  body.reserve(128 + page.entries.size() * 160);
  json_writer writer(body);
  write_list_envelope(writer, page, write_entry);
  return http::json_response(std::move(body));
}

// {"repo","name","version"} with every member checked before anything reaches a lookup.
struct identity {
  std::string repo;
  std::string name;
  std::string version;
};

// The request read_identity reads, with the same flags: each route that calls it declares this.
schema::type identity_request(bool need_version, bool repo_optional = false) {
  using namespace schema;
  std::vector<member> members;
  if (repo_optional) {
    members.push_back(optional("repo", string({.max_length = 64})));
  } else {
    members.emplace_back("repo", string(name_rule));
  }
  members.emplace_back("name", string(name_rule));
  if (need_version) members.emplace_back("version", string(name_rule));
  return request(std::move(members));
}

result<identity> read_identity(const request_context& context, bool need_version, bool repo_optional = false) {
  auto body = json_body::parse(context);
  if (!body) return body.error();
  identity id;
  id.repo = repo_optional ? body->optional_string("repo").value_or("") : body->string("repo");
  id.name = body->string("name");
  if (need_version) id.version = body->string("version");
  if (body->ok()) {
    if (!id.repo.empty() && !packages::valid_repository_name(id.repo)) body->reject("repo", "invalid repository name");
    if (!packages::valid_package_name(id.name)) body->reject("name", "invalid package name");
    if (need_version && !packages::valid_version(id.version)) body->reject("version", "invalid version");
  }
  if (auto ok = body->finish(); !ok) return ok.error();
  return id;
}

// What questions_json writes: the questions by key.
schema::type questions_schema() {
  using namespace schema;
  return map(
      component("package_question", object({{"query", string()},
                                            optional("type", string()),
                                            optional("default", string()),
                                            optional("optional", boolean()),
                                            optional("show_if", string()),
                                            optional("oauth", any("the flow spec, as the definition gives it"))})));
}

// The questions of a definition, by key, as GET /packages/questions answers them.
std::string questions_json(const packages::package_definition& def) {
  return json_string([&def](json_writer& w) {
    w.begin_object();
    for (const auto& q : def.questions) {
      w.key(q.key).begin_object().key("query").value(q.query);
      if (!q.type.empty()) w.key("type").value(q.type);
      if (q.default_value) w.key("default").value(*q.default_value);
      if (q.optional) w.key("optional").value(true);
      if (!q.show_if.empty()) w.key("show_if").value(q.show_if);
      if (q.oauth) w.key("oauth").raw(*q.oauth);
      w.end_object();
    }
    w.end_object();
  });
}

problem package_not_found(const identity& id) {
  return problem::not_found("package " + (id.repo.empty() ? std::string() : id.repo + "/") + id.name +
                            (id.version.empty() ? std::string() : "@" + id.version) + " not found");
}

}  // namespace

reply packages_list(request_context& context) {
  co_return package_page(context, flag(context, "featured_only"));
}

reply packages_featured(request_context& context) {
  co_return package_page(context, true);
}

reply packages_by_repo(request_context& context) {
  auto snapshot = context.services.packages().snapshot();
  std::string search(context.query.find("search").value_or(""));
  for (char& c : search) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool featured_only = flag(context, "featured_only");
  std::string body;
  json_writer w(body);
  w.begin_array();
  // Highest precedence first: the last repository in list order.
  for (auto r = snapshot->repositories.rbegin(); r != snapshot->repositories.rend(); ++r) {
    const catalog_repository& repo = **r;
    w.begin_object().key("repo").value(repo.name).key("packages").begin_array();
    std::string_view previous;
    for (const auto& p : repo.packages) {
      if (!p.definition || p.name == previous) continue;  // highest valid version of each name
      previous = p.name;
      bool featured = std::find(repo.featured.begin(), repo.featured.end(), p.name) != repo.featured.end();
      if (featured_only && !featured) continue;
      if (!search.empty() && !list_detail::contains_folded(p.name, search)) continue;
      w.begin_object()
          .key("repo")
          .value(repo.name)
          .key("name")
          .value(p.name)
          .key("version")
          .value(p.version)
          .end_object();
    }
    w.end_array();
    if (!repo.featured.empty()) w.key("featured").value(repo.featured);
    w.end_object();
  }
  w.end_array();
  co_return http::json_response(std::move(body));
}

reply packages_versions(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  if (body->ok() && !packages::valid_package_name(name)) body->reject("name", "invalid package name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto versions = context.services.packages().snapshot()->versions(name);
  if (versions.empty()) co_return http::problem_response(problem::not_found("package " + name + " not found"));
  co_return http::json_response(json_string([&](json_writer& w) { w.value(versions); }));
}

reply packages_children(request_context& context) {
  auto id = read_identity(context, false);
  if (!id) co_return http::problem_response(id.error());
  // Children are the installed instances of a package: "<name>-<instance>" records of it.
  std::vector<std::string> children;
  for (const auto& record : context.services.lifecycle().records().installed()) {
    const auto& ref = record.plan.package;
    if (ref.repo == id->repo && ref.name == id->name && ref.effective_name != ref.name) {
      children.push_back(ref.effective_name.substr(ref.name.size() + 1));
    }
  }
  co_return http::json_response(json_string([&](json_writer& w) { w.value(children); }));
}

reply packages_questions(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  if (body->ok() && !packages::valid_package_name(name)) body->reject("name", "invalid package name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto snapshot = context.services.packages().snapshot();
  const catalog_package* p = snapshot->latest_of(name);
  if (p == nullptr) co_return http::problem_response(problem::not_found("package " + name + " not found"));
  co_return http::json_response(questions_json(*p->definition));
}

reply packages_questions_identity(request_context& context) {
  auto id = read_identity(context, true);
  if (!id) co_return http::problem_response(id.error());
  auto snapshot = context.services.packages().snapshot();
  const catalog_package* p = snapshot->find(id->repo, id->name, id->version);
  if (p == nullptr || !p->definition) co_return http::problem_response(package_not_found(*id));
  co_return http::json_response(questions_json(*p->definition));
}

reply packages_manifest(request_context& context) {
  auto id = read_identity(context, true);
  if (!id) co_return http::problem_response(id.error());
  auto snapshot = context.services.packages().snapshot();
  const catalog_package* p = snapshot->find(id->repo, id->name, id->version);
  if (p == nullptr) co_return http::problem_response(package_not_found(*id));
  co_return http::text_response(p->yaml, "text/x-yaml; charset=utf-8");
}

reply packages_timezones(request_context& context) {
  auto zones = co_await context.services.packages().timezones();
  std::string body;
  json_writer w(body);
  w.value(*zones);
  co_return http::json_response(std::move(body));
}

reply packages_install_preview(request_context& context) {
  auto id = read_identity(context, true, true);
  if (!id) co_return http::problem_response(id.error());
  auto snapshot = context.services.packages().snapshot();
  const catalog_package* p = id->repo.empty() ? snapshot->find_any_repo(id->name, id->version)
                                              : snapshot->find(id->repo, id->name, id->version);
  if (p == nullptr) co_return http::problem_response(package_not_found(*id));
  if (!p->definition) {
    auto parsed = packages::parse_definition(p->yaml);
    co_return http::problem_response(parsed ? problem::internal_error("definition parses now but did not")
                                            : parsed.error());
  }

  // The answers an install without responses would use: generated ones, and placeholders for the
  // questions only a person can answer (their fields preview as empty).
  packages::package_definition def = *p->definition;
  packages::auto_answer_context auto_context;
  auto_context.effective_name = p->name;
  auto answers = packages::auto_answers(def, {}, auto_context);
  for (auto& q : def.questions) {
    auto& answer = answers[q.key];
    if (!answer.empty() && answer != "auto") continue;
    if (q.type == "bytes" || q.type == "duration") {
      answer = "0";
    } else {
      answers.erase(q.key);
      q.optional = true;
    }
  }
  packages::compile_context compile_context;
  compile_context.repo = p->repo;
  compile_context.name = p->name;
  compile_context.version = p->version;
  compile_context.effective_name = p->name;
  if (auto tld = context.services.system_settings().get("dns_tld"); tld && !tld->empty())
    compile_context.dns_tld = *tld;
  auto compiled = packages::compile(def, compile_context, answers);
  if (!compiled) co_return http::problem_response(compiled.error());

  packages::preview_input input;
  input.repo = p->repo;
  input.name = p->name;
  input.version = p->version;
  input.definition = p->definition.get();
  input.compiled = &*compiled;
  input.upgrading_from = installed_version_of(context, p->repo, p->name);
  // The installed version's definition says which volumes move over (`migrated`).
  std::optional<packages::package_definition> installed_definition;
  if (const auto* record = context.services.lifecycle().records().find(p->repo, p->name); record != nullptr) {
    if (auto parsed = packages::parse_definition(record->manifest); parsed) installed_definition = std::move(*parsed);
  }
  if (installed_definition) input.installed = &*installed_definition;
  if (compiled->runtime == packages::runtime_kind::vm) input.vm_host_missing = podman::vm_host_missing();
  const auto& config = context.services.settings();
  std::string root = config.btrfs_root.empty() ? config.state_dir : config.btrfs_root;
  struct statvfs fs {};
  // Before the btrfs root exists (a fresh state dir), the state directory's disk is the answer.
  if (::statvfs(root.c_str(), &fs) == 0 || ::statvfs(config.state_dir.c_str(), &fs) == 0) {
    input.disk.total = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
    input.disk.available = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    input.disk.used = input.disk.total - static_cast<std::uint64_t>(fs.f_bfree) * fs.f_frsize;
  }
  if (input.upgrading_from && *input.upgrading_from != p->version) {
    // The dry run of the upgrade: what it would move, add, drop and rewrite.
    auto diff = context.services.lifecycle().upgrade_preview(*p, "", input.installed);
    if (!diff) co_return http::problem_response(diff.error());
    input.upgrade = std::move(*diff);
  }
  co_return http::json_response(packages::install_preview(input));
}

namespace contracts {

const contract& packages_list() {
  static const contract c{.response = schema::page(package_entry_schema())};
  return c;
}

const contract& packages_by_repo() {
  using namespace schema;
  static const contract c{
      .response =
          array(object({{"repo", string()},
                        {"packages", array(object({{"repo", string()}, {"name", string()}, {"version", string()}}))},
                        optional("featured", array(string()))}))};
  return c;
}

const contract& packages_featured() {
  static const contract c{.response = schema::page(package_entry_schema())};
  return c;
}

const contract& packages_timezones() {
  static const contract c{.response = schema::array(schema::string())};
  return c;
}

const contract& packages_versions() {
  using namespace schema;
  static const contract c{
      .request = request({{"name", string(name_rule)}}), .response = array(string()), .problems = {404}};
  return c;
}

const contract& packages_children() {
  using namespace schema;
  static const contract c{.request = identity_request(false), .response = array(string())};
  return c;
}

const contract& packages_manifest() {
  static const contract c{.request = identity_request(true), .media_type = "text/x-yaml", .problems = {404}};
  return c;
}

const contract& packages_questions() {
  using namespace schema;
  static const contract c{
      .request = request({{"name", string(name_rule)}}), .response = questions_schema(), .problems = {404}};
  return c;
}

const contract& packages_questions_identity() {
  static const contract c{.request = identity_request(true), .response = questions_schema(), .problems = {404}};
  return c;
}

// 409: the upgrade's dry run plans the new version against the installed packages (names, ports).
const contract& packages_install_preview() {
  static const contract c{
      .request = identity_request(true, true), .response = packages::install_preview_schema(), .problems = {404, 409}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
