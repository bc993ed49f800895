// Storage (behavior-ops.md §3.4): user filesystems and package volumes on btrfs. Names are decided
// by core/storage; the btrfs adapter runs the commands; this file only decodes and encodes.
#include "core/storage.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "adapters/store/settings_store.hpp"
#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/storage_service.hpp"

namespace sc::server::handlers {

namespace {

constexpr string_rule name_rule{.max_length = 4096, .allow_empty = true, .allow_newlines = false};
constexpr std::int64_t max_quota = std::numeric_limits<std::int64_t>::max();

std::uint64_t default_quota(app& services) {
  std::uint64_t value = 0;
  if (auto text = services.system_settings().get("default_quota")) {
    std::from_chars(text->data(), text->data() + text->size(), value);
  }
  return value;
}

const std::array<list_field<storage::volume_entry>, 5>& volume_fields() {
  using entry = storage::volume_entry;
  static const std::array<list_field<entry>, 5> fields = {{
      {"name", [](const entry& e) -> list_value { return std::string_view(e.name); }},
      {"internal_name", [](const entry& e) -> list_value { return std::string_view(e.internal_name); }},
      {"state", [](const entry& e) -> list_value { return storage::to_string(e.state); }},
      {"quota", [](const entry& e) -> list_value { return static_cast<std::int64_t>(e.quota); }},
      {"usage", [](const entry& e) -> list_value { return static_cast<std::int64_t>(e.usage); }},
  }};
  return fields;
}

const schema::type& volume_state_schema() {
  static const schema::type t = schema::enumeration({"user", "installed", "uninstalled"});
  return t;
}

// What write_volume writes.
schema::type volume_schema() {
  using namespace schema;
  return component("storage_volume", object({{"name", string()},
                                             optional("internal_name", string()),
                                             {"quota", describe(integer(0), "bytes; 0: unlimited")},
                                             {"usage", describe(integer(0), "referenced bytes")},
                                             {"state", volume_state_schema()}}));
}

// One group storage_package_volumes writes.
schema::type package_group_schema() {
  using namespace schema;
  auto volume = component("storage_package_volume", object({{"name", string()},
                                                            {"internal_name", string()},
                                                            {"repo", string()},
                                                            {"quota", integer(0)},
                                                            {"usage", integer(0)},
                                                            {"state", volume_state_schema()}}));
  return component("storage_package_group", object({{"package", string()},
                                                    {"effective_name", string()},
                                                    {"repo", string()},
                                                    {"volumes", array(std::move(volume))}}));
}

void write_volume(json_writer& w, const storage::volume_entry& e) {
  w.begin_object().key("name").value(e.name);
  if (!e.internal_name.empty()) w.key("internal_name").value(e.internal_name);
  w.key("quota").value(e.quota).key("usage").value(e.usage).key("state").value(storage::to_string(e.state));
  w.end_object();
}

// Every classified volume under `prefix`, with its quota and usage.
boost::asio::awaitable<result<std::vector<storage::volume_entry>>> classified_volumes(storage_service& storage,
                                                                                      std::string prefix) {
  if (auto ready = co_await storage.ready(); !ready) co_return ready.error();
  auto listed = co_await storage.volumes().list(std::move(prefix));
  if (!listed) co_return listed.error();
  std::vector<storage::volume_entry> out;
  out.reserve(listed->size());
  for (const auto& info : *listed) {
    auto entry = storage::classify(info.path);
    if (!entry) continue;
    entry->quota = info.quota;
    entry->usage = info.usage;
    out.push_back(std::move(*entry));
  }
  co_return out;
}

}  // namespace

reply storage_list(request_context& context) {
  // The body is optional here (request_optional): none lists everything.
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->optional_string("name").value_or("");
  std::string state_text = body->optional_string("state").value_or("");
  list_query query;
  query.sort_by = body->optional_string("sort_by").value_or("");
  query.sort_order = body->optional_string("sort_order").value_or("");
  auto limit = body->optional_integer("limit").value_or(0);
  auto offset = body->optional_integer("offset").value_or(0);
  query.limit = limit <= 0 ? 20 : static_cast<std::size_t>(limit);
  query.offset = offset <= 0 ? 0 : static_cast<std::size_t>(offset);
  std::string search = body->optional_string("search").value_or("");
  std::transform(search.begin(), search.end(), search.begin(), [](unsigned char c) { return std::tolower(c); });
  query.search = std::move(search);
  std::optional<storage::volume_state> state;
  if (!state_text.empty()) {
    state = storage::parse_volume_state(state_text);
    if (!state) body->reject("state", "must be user, installed or uninstalled");
  }
  // The name is a prefix, so it may end mid-component; it may still never climb or leave user/.
  if (!name.empty() && (name.find("..") != std::string::npos || name.front() == '/')) {
    body->reject("name", "invalid filesystem name prefix");
  }
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());

  std::string prefix;
  if (!name.empty()) {
    prefix = "user/" + name;
  } else if (state) {
    prefix = std::string(storage::to_string(*state)) + "/";
  }
  auto volumes = co_await classified_volumes(context.services.storage(), std::move(prefix));
  if (!volumes) co_return http::problem_response(volumes.error());
  if (state) {
    std::erase_if(*volumes, [&](const storage::volume_entry& e) { return e.state != *state; });
  }
  auto page = paginate(*volumes, query, std::span<const list_field<storage::volume_entry>>(volume_fields()));
  co_return http::json_response(json_string([&](json_writer& w) { write_list_envelope(w, page, write_volume); }));
}

reply storage_create(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  auto quota = body->optional_integer("quota").value_or(0);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto path = storage::user_volume_path(name, "name");
  if (!path) co_return http::problem_response(path.error());
  std::uint64_t bytes = quota > 0 ? static_cast<std::uint64_t>(quota) : default_quota(context.services);
  auto& storage = context.services.storage();
  if (auto ready = co_await storage.ready(); !ready) co_return http::problem_response(ready.error());
  if (auto made = co_await storage.volumes().create(std::move(*path), bytes); !made) {
    co_return http::problem_response(made.error());
  }
  co_return http::empty_response();
}

reply storage_modify(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  std::string new_name;
  std::int64_t quota = 0;
  if (auto fs = body->object("filesystem")) {
    new_name = fs->optional_string("name").value_or("");
    quota = fs->optional_integer("quota").value_or(0);
  }
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());

  std::string from;
  std::string to;
  if (storage::is_package_path(name)) {
    auto path = storage::package_volume_path(name, "name");
    if (!path) co_return http::problem_response(path.error());
    if (!new_name.empty() && new_name != name) {
      co_return http::problem_response(problem::unprocessable("filesystem.name", "cannot rename package volume"));
    }
    from = to = *path;
  } else {
    auto old_path = storage::user_volume_path(name, "name");
    if (!old_path) co_return http::problem_response(old_path.error());
    from = *old_path;
    to = from;
    if (!new_name.empty()) {
      auto new_path = storage::user_volume_path(new_name, "filesystem.name");
      if (!new_path) co_return http::problem_response(new_path.error());
      to = *new_path;
    }
  }
  auto& storage = context.services.storage();
  if (auto ready = co_await storage.ready(); !ready) co_return http::problem_response(ready.error());
  auto& volumes = storage.volumes();
  // Resolved beneath the btrfs root without following links: 422 through a symlink, 404 missing.
  if (auto opened = volumes.open_subvolume(from); !opened) co_return http::problem_response(opened.error());
  if (from != to) {
    if (auto moved = co_await volumes.rename(from, to); !moved) co_return http::problem_response(moved.error());
  }
  if (auto limited = co_await volumes.set_quota(to, static_cast<std::uint64_t>(quota)); !limited) {
    co_return http::problem_response(limited.error());
  }
  co_return http::empty_response();
}

reply storage_remove(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (name.empty()) co_return http::problem_response(problem::unprocessable("name", "cannot modify root filesystem"));
  auto path = storage::user_volume_path(name, "name");
  if (!path) co_return http::problem_response(path.error());
  auto& storage = context.services.storage();
  if (auto ready = co_await storage.ready(); !ready) co_return http::problem_response(ready.error());
  if (auto removed = co_await storage.volumes().remove(std::move(*path)); !removed) {
    co_return http::problem_response(removed.error());
  }
  co_return http::empty_response();
}

reply storage_package_volumes(request_context& context) {
  auto body = json_body::parse(context);  // request_optional: none means {}
  if (!body) co_return http::problem_response(body.error());
  const bool include_uninstalled = body->optional_boolean("include_uninstalled").value_or(false);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  std::vector<storage::volume_entry> volumes;
  for (std::string_view root : {"installed/", "uninstalled/"}) {
    if (root == "uninstalled/" && !include_uninstalled) continue;
    auto found = co_await classified_volumes(context.services.storage(), std::string(root));
    if (!found) co_return http::problem_response(found.error());
    for (auto& v : *found) {
      if (!v.version.empty() && !v.volume.empty()) volumes.push_back(std::move(v));
    }
  }
  // Groups keyed by (repo, pretty name); `package` gets the repo prefix when the pretty name exists
  // in more than one repo (§3.4).
  std::map<std::pair<std::string, std::string>, std::vector<const storage::volume_entry*>> groups;
  std::map<std::string, std::size_t> repos_per_package;
  for (const auto& v : volumes) {
    auto& group = groups[{v.repo, v.package}];
    if (group.empty()) ++repos_per_package[v.package];
    group.push_back(&v);
  }
  std::vector<std::pair<std::string, std::string>> rendered;  // label, the group as JSON
  for (auto& [key, members] : groups) {
    const auto& [repo, package] = key;
    std::sort(members.begin(), members.end(),
              [](const auto* a, const auto* b) { return a->version + "/" + a->volume < b->version + "/" + b->volume; });
    std::string label = repos_per_package[package] > 1 ? repo + "/" + package : package;
    std::string group;
    json_writer w(group);
    w.begin_object().key("package").value(label);
    w.key("effective_name").value(members.front()->effective_name).key("repo").value(repo);
    w.key("volumes").begin_array();
    for (const auto* m : members) {
      w.begin_object().key("name").value(m->version + "/" + m->volume).key("internal_name").value(m->internal_name);
      w.key("repo").value(repo).key("quota").value(m->quota).key("usage").value(m->usage);
      w.key("state").value(storage::to_string(m->state)).end_object();
    }
    w.end_array().end_object();
    rendered.emplace_back(std::move(label), std::move(group));
  }
  std::stable_sort(rendered.begin(), rendered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_array();
    for (const auto& entry : rendered) w.raw(entry.second);
    w.end_array();
  }));
}

reply storage_remove_package_volume(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string internal_name = body->string("internal_name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (!storage::is_package_path(internal_name)) {
    // The original answers this one case with plain JSON (§1.1); every error here is problem+json.
    co_return http::problem_response(problem::bad_request("internal_name must start with installed/ or uninstalled/"));
  }
  auto path = storage::package_volume_path(internal_name, "internal_name");
  if (!path) co_return http::problem_response(path.error());
  auto& storage = context.services.storage();
  if (auto ready = co_await storage.ready(); !ready) co_return http::problem_response(ready.error());
  if (auto removed = co_await storage.volumes().remove(std::move(*path)); !removed) {
    co_return http::problem_response(removed.error());
  }
  co_return http::empty_response();
}

namespace contracts {

const contract& storage_list() {
  using namespace schema;
  static const contract c{
      .request = request(
          {optional("name", describe(string(name_rule), "a name prefix")),
           optional("state", string({.max_length = 32})), optional("sort_by", string({.max_length = 64})),
           optional("sort_order", string({.max_length = 64})), optional("limit", integer(std::nullopt, 100'000)),
           optional("offset", integer()), optional("search", string({.max_length = 256}))}),
      .request_optional = true,
      .response = page(volume_schema())};
  return c;
}

const contract& storage_create() {
  using namespace schema;
  static const contract c{.request = request({{"name", string(name_rule)}, optional("quota", integer(0, max_quota))}),
                          .media_type = "",
                          .problems = {404, 409}};
  return c;
}

const contract& storage_modify() {
  using namespace schema;
  static const contract c{
      .request = request(
          {{"name", string(name_rule)},
           {"filesystem", request({optional("name", string(name_rule)), optional("quota", integer(0, max_quota))})}}),
      .media_type = "",
      .problems = {404, 409}};
  return c;
}

const contract& storage_remove() {
  using namespace schema;
  static const contract c{.request = request({{"name", string(name_rule)}}), .media_type = "", .problems = {404, 409}};
  return c;
}

const contract& storage_package_volumes() {
  using namespace schema;
  static const contract c{.request = request({optional("include_uninstalled", boolean())}),
                          .request_optional = true,
                          .response = array(package_group_schema())};
  return c;
}

const contract& storage_remove_package_volume() {
  using namespace schema;
  static const contract c{
      .request = request({{"internal_name", string(name_rule)}}), .media_type = "", .problems = {404, 409}};
  return c;
}

const contract& storage_upload_archive() {
  using namespace schema;
  // The body is a multipart form (subvolume, subpath, stop_service, then the archive), not JSON.
  static const contract c{.response = object({{"needs_restart", boolean()}, {"message", string()}}),
                          .problems = {404, 408, 409, 415}};
  return c;
}

const contract& storage_download_archive() {
  using namespace schema;
  static const contract c{
      .request =
          request({{"subvolume", string({.max_length = 4096})},
                   optional("paths", array(string({.max_length = 4096}), 1024)),
                   optional("stop_service", string({.max_length = 255})),
                   optional("format", string({.max_length = 16})),
                   optional("filename", string({.max_length = 1024, .allow_empty = true, .allow_newlines = true}))}),
      // The default format's; tar.bz2 is sent as application/x-bzip2, tar.xz as application/x-xz.
      .media_type = "application/gzip",
      .problems = {404, 409}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
