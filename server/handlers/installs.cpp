// The package lifecycle endpoints (behavior-ops.md §6.3–6.5, issue 13): install and uninstall
// stream their progress (SSE, or one JSON result at the end), the rest answer at once. The work
// is server/lifecycle.cpp's; these decode, call and encode.
#include <array>
#include <limits>
#include <span>

#include "adapters/store/package_store.hpp"
#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/repository.hpp"
#include "core/packages/version.hpp"
#include "server/app.hpp"
#include "server/connection.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/lifecycle.hpp"
#include "server/sse.hpp"

namespace sc::server::handlers {

namespace {

constexpr string_rule optional_name_rule{.max_length = 64, .allow_empty = true, .allow_newlines = false};
// `name` may be "repo/name" (64 + 1 + 64); rebuild-git's `version` takes the same.
constexpr string_rule qualified_name_rule{.max_length = 129, .allow_empty = false, .allow_newlines = false};
constexpr std::size_t max_answers = 256;
constexpr std::array<list_field<std::string>, 1> entry_fields = {{
    {"name", [](const std::string& e) -> list_value { return std::string_view(e); }, false},
}};

bool is_admin(const request_context& context) {
  return context.caller && (context.caller->admin || context.caller->local_root);
}

// {"repo","name"[,"instance"]} (the client may send "repo/name" in `name` with no `repo`).
struct package_key {
  std::string repo;
  std::string name;
  std::string instance;
  std::string effective() const { return packages::instance_effective_name(name, instance); }
};

void split_repo(package_key& key) {
  if (key.repo.empty()) {
    if (auto slash = key.name.find('/'); slash != std::string::npos) {
      key.repo = key.name.substr(0, slash);
      key.name = key.name.substr(slash + 1);
    }
  }
}

void check_key(json_body& body, const package_key& key, bool repo_required) {
  if (!body.ok()) return;
  if (repo_required && key.repo.empty()) body.require("repo");
  if (!key.repo.empty() && !packages::valid_repository_name(key.repo)) body.reject("repo", "invalid repository name");
  if (!packages::valid_package_name(key.name)) body.reject("name", "invalid package name");
  if (!key.instance.empty() && !packages::valid_package_name(key.instance)) {
    body.reject("instance", "invalid instance name");
  }
  if (key.effective().size() > 64) body.reject("instance", "name and instance together exceed 64 characters");
}

// The request of a route that reads a key (read_key), with its own `more` members. `repo` is read
// as optional (a client may send "repo/name" in `name`) even where the route requires it.
schema::type key_request(bool repo_required, std::vector<schema::member> more = {}) {
  using namespace schema;
  auto repo = string(optional_name_rule);
  if (repo_required) repo = describe(repo, "required, here or in `name` as repo/name");
  std::vector<member> members{
      optional("repo", repo), {"name", string(qualified_name_rule)}, optional("instance", string(optional_name_rule))};
  members.insert(members.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return request(std::move(members));
}

package_key read_key(json_body& body, bool repo_required) {
  package_key key;
  key.repo = body.optional_string("repo").value_or("");
  key.name = body.string("name");
  key.instance = body.optional_string("instance").value_or("");
  split_repo(key);
  check_key(body, key, repo_required);
  return key;
}

// The frames operation_progress (server/lifecycle.cpp) publishes for an install, upgrade, rollback
// or uninstall, all unnamed events: steps, then done or error.
schema::type progress_schema() {
  using namespace schema;
  auto step =
      object({{"step", enumeration({"preparing_upgrade", "snapshotting", "migrating_volumes", "provisioning_volumes",
                                    "seeding_data", "installing_dependencies", "applying_templates",
                                    "installing_services", "starting", "restoring_volumes", "saving_install",
                                    "rolling_back", "stopping_services", "uninstalling_dependencies"})}});
  auto rolled_back = object({{"step", enumeration({"rolled_back"})},
                             {"reason", string()},
                             {"journal", describe(array(string()), "the new version's last journal lines")}});
  auto done = object({{"done", boolean()}});
  auto failed = object({{"error", string()}, optional("journal", array(string()))});
  return component("package_progress",
                   one_of({std::move(step), std::move(rolled_back), std::move(done), std::move(failed)}));
}

// Streams the operation's progress (SSE) or waits for its end (200 with no body, or its problem).
boost::asio::awaitable<http::response> answer_progress(request_context& context,
                                                       std::shared_ptr<operation_progress> progress) {
  if (context.request[boost::beast::http::field::accept].find("text/event-stream") != std::string_view::npos) {
    auto subscriber = std::make_shared<sse_subscriber>(context.stream.get_executor(), 64);
    if (context.owner != nullptr) {
      context.owner->state = connection::phase::streaming;
      context.owner->stop_stream = [subscriber] { subscriber->close(); };
    }
    progress->watch(subscriber);
    co_await serve_sse(context.stream, subscriber, sse_options{}, sse_head(context.request, context.services));
    context.response_written = true;
    co_return http::empty_response();
  }
  auto outcome = co_await progress->finished();
  if (!outcome) co_return http::problem_response(outcome.error());
  co_return http::empty_response();
}

// Secret answers of at least 6 characters, masked wherever they appear (DESIGN: non-admins).
std::string mask_secrets(std::string text, const packages::marker_values& secrets) {
  for (const auto& [k, v] : secrets) {
    if (v.size() < 6) continue;
    for (auto at = text.find(v); at != std::string::npos; at = text.find(v, at + 6))
      text.replace(at, v.size(), "******");
  }
  return text;
}

const store::install_record* find_record(request_context& context, const package_key& key) {
  const auto& records = context.services.lifecycle().records();
  if (!key.repo.empty()) return records.find(key.repo, key.effective());
  for (const auto& record : records.installed()) {
    if (record.plan.package.effective_name == key.effective()) return &record;
  }
  return nullptr;
}

}  // namespace

reply packages_install(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  install_request request;
  auto key = read_key(*body, false);
  request.repo = key.repo;
  request.name = key.name;
  request.instance = key.instance;
  request.version = body->optional_string("version").value_or("");
  request.reuse_volumes = body->optional_boolean("reuse_volumes").value_or(false);
  request.skip_response_reuse = body->optional_boolean("skip_response_reuse").value_or(false);
  if (body->ok() && !request.version.empty() && !packages::valid_version(request.version)) {
    body->reject("version", "invalid version");
  }
  request.import_from_version = body->optional_string("import_from_version").value_or("");
  if (body->ok() && !request.import_from_version.empty() && !packages::valid_version(request.import_from_version)) {
    body->reject("import_from_version", "invalid version");
  }
  // Answers as strings: numbers and booleans are taken as their JSON text.
  auto answers = body->optional_scalar_map("responses");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (answers) {
    for (auto& [question, answer] : *answers) request.responses.insert_or_assign(question, std::move(answer));
  }
  auto progress = co_await context.services.lifecycle().install(std::move(request));
  if (!progress) co_return http::problem_response(progress.error());
  co_return co_await answer_progress(context, std::move(*progress));
}

reply packages_uninstall(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, false);
  uninstall_request request{key.repo, key.name, key.instance, body->optional_boolean("purge_volumes").value_or(false)};
  (void)body->optional_string("version");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto progress = co_await context.services.lifecycle().uninstall(std::move(request));
  if (!progress) co_return http::problem_response(progress.error());
  co_return co_await answer_progress(context, std::move(*progress));
}

namespace {
boost::asio::awaitable<http::response> set_disabled(request_context& context, bool disabled) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, false);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  const auto* record = find_record(context, key);
  if (record == nullptr) {
    co_return http::problem_response(problem::not_found("package " + key.effective() + " is not installed"));
  }
  std::string repo = record->plan.package.repo;
  auto done = co_await context.services.lifecycle().set_disabled(repo, key.effective(), disabled);
  if (!done) co_return http::problem_response(done.error());
  co_return http::empty_response();
}

boost::asio::awaitable<http::response> purge(request_context& context, bool installed_too) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto done = co_await context.services.lifecycle().purge_volumes(key.repo, key.effective(), installed_too);
  if (!done) co_return http::problem_response(done.error());
  co_return http::empty_response();
}
}  // namespace

// behavior-ops.md §6.5: repo, name and version are all required; the answer is `{}`.
reply packages_rebuild_git(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  std::string version = body->string("version");
  if (body->ok() && !packages::valid_version(version)) body->reject("version", "invalid version");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto done = co_await context.services.lifecycle().rebuild_git(key.repo, key.effective(), version);
  if (!done) co_return http::problem_response(done.error());
  co_return http::json_response("{}");
}

reply packages_disable(request_context& context) {
  return set_disabled(context, true);
}
reply packages_enable(request_context& context) {
  return set_disabled(context, false);
}
reply packages_purge_volumes(request_context& context) {
  return purge(context, true);
}
reply packages_purge_uninstalled_volumes(request_context& context) {
  return purge(context, false);
}

reply packages_uninstalled_volumes(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto versions = co_await context.services.lifecycle().volumes_of(key.repo, key.effective());
  if (!versions) co_return http::problem_response(versions.error());
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object().key("has_uninstalled_volumes").value(!versions->uninstalled.empty());
    if (!versions->uninstalled.empty()) w.key("uninstalled_versions").value(versions->uninstalled);
    if (!versions->installed.empty()) w.key("installed_versions").value(versions->installed);
    w.end_object();
  }));
}

// GET /packages/installed: "repo/name@version" for every installed package and dependency.
reply packages_installed(request_context& context) {
  std::vector<std::string> names;
  for (const auto& record : context.services.lifecycle().records().installed()) {
    for (const auto& c : record.plan.containers) {
      names.push_back(record.plan.package.repo + "/" + c.ref.effective_name + "@" + c.ref.version);
    }
  }
  // A flat list: sorted lexically, reversed for sort_order=desc (behavior-ops.md §1.2).
  std::sort(names.begin(), names.end());
  auto query = parse_list_query(context.query);
  if (list_detail::is_descending(query.sort_order)) std::reverse(names.begin(), names.end());
  query.sort_by.clear();
  auto page = paginate(names, query, std::span<const list_field<std::string>>(entry_fields));
  co_return http::json_response(json_string([&](json_writer& w) {
    write_list_envelope(w, page, [](json_writer& entry, const std::string& n) { entry.value(n); });
  }));
}

namespace {

// What packages_installed_info writes. Non-admins get empty questions and responses, and the
// notes with secrets masked.
schema::type installed_info_schema() {
  using namespace schema;
  auto question = object({{"query", string()},
                          optional("type", string()),
                          optional("default", string()),
                          optional("optional", boolean())});
  auto resources =
      object({optional("slice", string()), optional("source", nullable(enumeration({"systemd", "podman"}))),
              optional("memory_bytes", nullable(integer(0))), optional("cpu_seconds", nullable(number()))});
  return component("installed_package_info",
                   object({{"questions", map(question)},
                           {"responses", map(string())},
                           {"notes", map(string())},
                           optional("note_types", map(string())),
                           {"resources", describe(resources, "empty when the figures could not be read")}}));
}

}  // namespace

reply packages_installed_info(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, false);
  (void)body->optional_string("version");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  const auto* record = find_record(context, key);
  if (record == nullptr) {
    co_return http::problem_response(problem::not_found("package " + key.effective() + " is not installed"));
  }
  const auto& main = record->plan.main();
  const bool admin = is_admin(context);
  json_members notes;
  json_members note_types;
  for (const auto* list : {&main.notes, &main.secret_notes}) {
    for (const auto& n : *list) {
      notes.set_string(n.label, admin ? n.value : mask_secrets(n.value, main.secret_answers));
      if (!n.type.empty()) note_types.set_string(n.label, n.type);
    }
  }
  json_members questions;
  json_members responses;
  if (admin) {
    if (auto def = packages::parse_definition(record->manifest); def) {
      for (const auto& q : def->questions) {
        questions.set(q.key, json_string([&](json_writer& w) {
                        w.begin_object().key("query").value(q.query);
                        if (!q.type.empty()) w.key("type").value(q.type);
                        if (q.default_value) w.key("default").value(*q.default_value);
                        if (q.optional) w.key("optional").value(true);
                        w.end_object();
                      }));
      }
    }
    for (const auto* answers : {&main.answers, &main.secret_answers}) {
      for (const auto& [k, v] : *answers) responses.set_string(k, v);
    }
  }
  // What the package (with its dependencies) uses now; null where systemd has no figure.
  std::vector<std::string> containers;
  for (const auto& c : record->plan.containers) containers.push_back(c.name);
  auto usage = co_await context.services.lifecycle().usage(main.slice, std::move(containers));
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object();
    w.key("questions");
    questions.write(w);
    w.key("responses");
    responses.write(w);
    w.key("notes");
    notes.write(w);
    if (!note_types.empty()) {
      w.key("note_types");
      note_types.write(w);
    }
    w.key("resources").begin_object();
    if (usage) {
      w.key("slice").value(usage->slice);
      if (usage->source.empty()) {
        w.key("source").null();
      } else {
        w.key("source").value(usage->source);
      }
      if (usage->memory_bytes) {
        w.key("memory_bytes").value(*usage->memory_bytes);
      } else {
        w.key("memory_bytes").null();
      }
      if (usage->cpu_nanoseconds) {
        w.key("cpu_seconds").value(static_cast<double>(*usage->cpu_nanoseconds) / 1e9);
      } else {
        w.key("cpu_seconds").null();
      }
    }
    w.end_object().end_object();
  }));
}

namespace {

// Answers and secret answers as one JSON object, the secrets masked for non-admins.
http::response answers_response(const packages::marker_values& answers, const packages::marker_values& secrets,
                                bool admin) {
  json_members out;
  for (const auto& [k, v] : answers) out.set_string(k, v);
  for (const auto& [k, v] : secrets) out.set_string(k, admin ? v : mask_secrets(v, secrets));
  return http::json_response(json_string([&](json_writer& w) { out.write(w); }));
}

}  // namespace

// POST /packages/responses: the installed answers ({} when not installed); secrets masked for
// non-admins.
reply packages_responses(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, false);
  (void)body->optional_string("version");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  const auto* record = find_record(context, key);
  if (record == nullptr) co_return http::json_response("{}");
  const auto& main = record->plan.main();
  co_return answers_response(main.answers, main.secret_answers, is_admin(context));
}

reply packages_last_responses(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto saved = context.services.lifecycle().records().last_answers(key.repo, key.effective());
  if (!saved) co_return http::json_response("{}");
  co_return answers_response(saved->answers, saved->secret_answers, is_admin(context));
}

reply packages_rollback(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto progress = co_await context.services.lifecycle().rollback(key.repo, key.effective());
  if (!progress) co_return http::problem_response(progress.error());
  co_return co_await answer_progress(context, std::move(*progress));
}

reply packages_snapshots(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto kept = co_await context.services.lifecycle().snapshots(key.repo, key.effective());
  if (!kept) co_return http::problem_response(kept.error());
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_array();
    for (const auto& k : *kept) {
      w.begin_object().key("id").value(k.id).key("version").value(k.version);
      w.key("created_at").value(k.created_at).key("size").value(k.size_bytes).end_object();
    }
    w.end_array();
  }));
}

reply packages_snapshots_remove(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  auto id = body->integer("id");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (auto removed = co_await context.services.lifecycle().remove_snapshot(key.repo, key.effective(), id); !removed) {
    co_return http::problem_response(removed.error());
  }
  co_return http::empty_response();
}

reply packages_clear_last_responses(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  auto key = read_key(*body, true);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (auto done = context.services.lifecycle().clear_last_answers(key.repo, key.effective()); !done) {
    co_return http::problem_response(done.error());
  }
  co_return http::empty_response();
}

// GET /packages/upgrades: a bare array; an instance carries `instance` beside its package name.
reply packages_upgrades(request_context& context) {
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_array();
    for (const auto& u : context.services.lifecycle().upgrades()) {
      w.begin_object().key("repo").value(u.repo).key("name").value(u.name);
      if (!u.instance.empty()) w.key("instance").value(u.instance);
      w.key("installed_version").value(u.installed_version).key("latest_version").value(u.latest_version);
      w.key("changed").value(u.changed).end_object();
    }
    w.end_array();
  }));
}

// POST /packages/upgrades/dismiss: takes no fields, so the body ({} by the reference) is not read.
reply packages_upgrades_dismiss(request_context& context) {
  if (auto done = context.services.lifecycle().dismiss_upgrades(); !done) {
    co_return http::problem_response(done.error());
  }
  co_return http::empty_response();
}

namespace contracts {

// The lifecycle routes answer 200 with no body, or (Accept: text/event-stream) the progress
// stream; a failed operation is the one answer's problem, whatever its status. 502: git refused a
// seeded volume's remote.

const contract& packages_install() {
  using namespace schema;
  static const contract c{
      .request = key_request(false, {optional("version", string(optional_name_rule)),
                                     optional("reuse_volumes", boolean()), optional("skip_response_reuse", boolean()),
                                     optional("import_from_version", string(optional_name_rule)),
                                     optional("responses", scalar_map(max_answers))}),
      .media_type = "",
      .events = {{"", progress_schema(), "progress steps, then the end: done or error"}},
      .problems = {404, 409, 502}};
  return c;
}

const contract& packages_uninstall() {
  using namespace schema;
  static const contract c{.request = key_request(false, {optional("purge_volumes", boolean()),
                                                         optional("version", string(optional_name_rule))}),
                          .media_type = "",
                          .events = {{"", progress_schema(), "progress steps, then the end: done or error"}},
                          .problems = {404, 409}};
  return c;
}

const contract& packages_disable() {
  static const contract c{.request = key_request(false), .media_type = "", .problems = {404, 409}};
  return c;
}

const contract& packages_enable() {
  static const contract c{.request = key_request(false), .media_type = "", .problems = {404, 409}};
  return c;
}

const contract& packages_rebuild_git() {
  using namespace schema;
  static const contract c{.request = key_request(true, {{"version", string(qualified_name_rule)}}),
                          .response = object({}),
                          .problems = {404, 409, 502}};
  return c;
}

const contract& packages_purge_volumes() {
  static const contract c{.request = key_request(true), .media_type = "", .problems = {404, 409}};
  return c;
}

const contract& packages_purge_uninstalled_volumes() {
  static const contract c{.request = key_request(true), .media_type = "", .problems = {404, 409}};
  return c;
}

const contract& packages_uninstalled_volumes() {
  using namespace schema;
  static const contract c{.request = key_request(true),
                          .response = object({{"has_uninstalled_volumes", boolean()},
                                              optional("uninstalled_versions", array(string())),
                                              optional("installed_versions", array(string()))}),
                          .problems = {404, 409}};
  return c;
}

const contract& packages_installed() {
  static const contract c{.response = schema::page(schema::describe(schema::string(), "repo/name@version"))};
  return c;
}

const contract& packages_installed_info() {
  using namespace schema;
  static const contract c{.request = key_request(false, {optional("version", string(optional_name_rule))}),
                          .response = installed_info_schema(),
                          .problems = {404}};
  return c;
}

const contract& packages_responses() {
  using namespace schema;
  static const contract c{.request = key_request(false, {optional("version", string(optional_name_rule))}),
                          .response = map(string())};
  return c;
}

const contract& packages_last_responses() {
  static const contract c{.request = key_request(true), .response = schema::map(schema::string())};
  return c;
}

const contract& packages_clear_last_responses() {
  static const contract c{.request = key_request(true), .media_type = ""};
  return c;
}

const contract& packages_rollback() {
  static const contract c{.request = key_request(true),
                          .media_type = "",
                          .events = {{"", progress_schema(), "progress steps, then the end: done or error"}},
                          .problems = {404, 409, 502}};
  return c;
}

const contract& packages_snapshots() {
  using namespace schema;
  static const contract c{
      .request = key_request(true),
      .response = array(component(
          "package_snapshot",
          object({{"id", integer(1)}, {"version", string()}, {"created_at", string()}, {"size", integer(0)}}))),
      .problems = {404}};
  return c;
}

const contract& packages_snapshots_remove() {
  using namespace schema;
  static const contract c{.request = key_request(true, {{"id", integer(1, std::numeric_limits<std::int64_t>::max())}}),
                          .media_type = "",
                          .problems = {404, 409}};
  return c;
}

const contract& packages_upgrades() {
  using namespace schema;
  static const contract c{.response = array(component("package_upgrade", object({{"repo", string()},
                                                                                 {"name", string()},
                                                                                 optional("instance", string()),
                                                                                 {"installed_version", string()},
                                                                                 {"latest_version", string()},
                                                                                 {"changed", boolean()}})))};
  return c;
}

const contract& packages_upgrades_dismiss() {
  static const contract c{.media_type = ""};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
