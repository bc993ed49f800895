#include "core/packages/plan_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <stdexcept>

namespace sc::packages {

namespace json = boost::json;

namespace {

constexpr std::int64_t format_version = 1;

json::array strings(const std::vector<std::string>& list) {
  json::array out;
  for (const auto& s : list) out.emplace_back(s);
  return out;
}

json::object answers_json(const marker_values& answers) {
  json::object out;
  for (const auto& [k, v] : answers) out[k] = v;
  return out;
}

json::object environment_json(const std::vector<environment_variable>& env) {
  json::object out;
  for (const auto& e : env) out[e.key] = e.value;
  return out;
}

json::array templates_json(const std::vector<planned_template>& templates) {
  json::array out;
  for (const auto& t : templates) {
    out.push_back(json::object{{"name", t.name}, {"volume", t.volume}, {"path", t.path}, {"content", t.content}});
  }
  return out;
}

json::array notes_json(const std::vector<note_spec>& notes) {
  json::array out;
  for (const auto& n : notes) out.push_back(json::object{{"label", n.label}, {"value", n.value}, {"type", n.type}});
  return out;
}

json::object ref_json(const package_ref& ref) {
  return {{"repo", ref.repo}, {"name", ref.name}, {"version", ref.version}, {"effective_name", ref.effective_name}};
}

// Readers throw std::runtime_error on a shape mismatch; plan_from_json turns that into a problem.
const json::object& object_of(const json::value& v, const char* what) {
  if (!v.is_object()) throw std::runtime_error(std::string(what) + " is not an object");
  return v.get_object();
}

const json::value& member(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) throw std::runtime_error(std::string("missing ") + key);
  return *v;
}

std::string string_of(const json::object& o, const char* key) {
  const json::value& v = member(o, key);
  if (!v.is_string()) throw std::runtime_error(std::string(key) + " is not a string");
  return std::string(v.get_string());
}

std::int64_t int_of(const json::object& o, const char* key) {
  const json::value& v = member(o, key);
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get_uint64());
  throw std::runtime_error(std::string(key) + " is not an integer");
}

std::uint64_t uint_of(const json::object& o, const char* key) {
  const json::value& v = member(o, key);
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  throw std::runtime_error(std::string(key) + " is not an unsigned integer");
}

bool bool_of(const json::object& o, const char* key) {
  const json::value& v = member(o, key);
  if (!v.is_bool()) throw std::runtime_error(std::string(key) + " is not a boolean");
  return v.get_bool();
}

std::vector<std::string> strings_of(const json::object& o, const char* key) {
  const json::value& v = member(o, key);
  if (!v.is_array()) throw std::runtime_error(std::string(key) + " is not an array");
  std::vector<std::string> out;
  for (const auto& s : v.get_array()) {
    if (!s.is_string()) throw std::runtime_error(std::string(key) + " holds a non-string");
    out.emplace_back(s.get_string());
  }
  return out;
}

marker_values answers_of(const json::value& v) {
  marker_values out;
  for (const auto& [k, s] : object_of(v, "answers")) {
    if (!s.is_string()) throw std::runtime_error("an answer is not a string");
    out[std::string(k)] = std::string(s.get_string());
  }
  return out;
}

std::vector<environment_variable> environment_of(const json::value& v) {
  std::vector<environment_variable> out;
  for (const auto& [k, s] : object_of(v, "environment")) {
    if (!s.is_string()) throw std::runtime_error("an environment value is not a string");
    out.push_back({std::string(k), std::string(s.get_string())});
  }
  return out;
}

std::vector<planned_template> templates_of(const json::value& v) {
  if (!v.is_array()) throw std::runtime_error("templates is not an array");
  std::vector<planned_template> out;
  for (const auto& t : v.get_array()) {
    const auto& o = object_of(t, "template");
    out.push_back({string_of(o, "name"), string_of(o, "volume"), string_of(o, "path"), string_of(o, "content")});
  }
  return out;
}

std::vector<note_spec> notes_of(const json::value& v) {
  if (!v.is_array()) throw std::runtime_error("notes is not an array");
  std::vector<note_spec> out;
  for (const auto& n : v.get_array()) {
    const auto& o = object_of(n, "note");
    out.push_back({string_of(o, "label"), string_of(o, "value"), string_of(o, "type")});
  }
  return out;
}

package_ref ref_of(const json::value& v) {
  const auto& o = object_of(v, "package");
  return {string_of(o, "repo"), string_of(o, "name"), string_of(o, "version"), string_of(o, "effective_name")};
}

port_exposure exposure_of(const std::string& text) {
  if (text == "host") return port_exposure::host;
  if (text == "ingress") return port_exposure::ingress;
  if (text == "network") return port_exposure::network;
  throw std::runtime_error("unknown port exposure " + text);
}

runtime_kind runtime_of(const std::string& text) {
  if (text == "container") return runtime_kind::container;
  if (text == "vm") return runtime_kind::vm;
  if (text == "proton") return runtime_kind::proton;
  throw std::runtime_error("unknown runtime " + text);
}

}  // namespace

json::value plan_public_json(const install_plan& plan) {
  json::array containers;
  for (const auto& c : plan.containers) {
    json::array ports;
    for (const auto& p : c.ports) {
      ports.push_back(json::object{{"host", p.host},
                                   {"container", p.container},
                                   {"name", p.name},
                                   {"external", p.external},
                                   {"exposure", to_string(p.exposure)}});
    }
    json::array volumes;
    for (const auto& v : c.volumes) {
      json::object o{{"name", v.name},
                     {"subvolume", v.subvolume},
                     {"mountpoint", v.mountpoint},
                     {"quota_bytes", v.quota_bytes},
                     {"quota_from_default", v.quota_from_default},
                     {"git", v.git},
                     {"shareable", v.shareable}};
      if (v.uid) o["uid"] = *v.uid;
      if (v.gid) o["gid"] = *v.gid;
      volumes.push_back(std::move(o));
    }
    json::array archives;
    for (const auto& a : c.archives) {
      archives.push_back(json::object{{"image", a.image}, {"directory", a.directory}, {"volume", a.volume}});
    }
    json::array git_sources;
    for (const auto& g : c.git_sources) {
      git_sources.push_back(json::object{{"url", g.url}, {"branch", g.branch}, {"volume", g.volume}});
    }
    json::array secret_keys;
    for (const auto& e : c.secret_environment) secret_keys.emplace_back(e.key);
    containers.push_back(json::object{
        {"package", ref_json(c.ref)},
        {"dependency_key", c.dependency_key},
        {"parent", c.parent},
        {"name", c.name},
        {"network", c.network},
        {"network_aliases", strings(c.network_aliases)},
        {"ingress_address", c.ingress_address},
        {"slice", c.slice},
        {"runtime", to_string(c.runtime)},
        {"image", c.image},
        {"entrypoint", strings(c.entrypoint)},
        {"command", strings(c.command)},
        {"environment", environment_json(c.environment)},
        {"secret_environment_keys", std::move(secret_keys)},
        {"ports", std::move(ports)},
        {"volumes", std::move(volumes)},
        {"templates", templates_json(c.templates)},
        {"archives", std::move(archives)},
        {"git_sources", std::move(git_sources)},
        {"requires_containers", strings(c.requires_containers)},
        {"post_update", strings(c.post_update)},
        {"supplies", strings(c.supplies)},
        {"domains", strings(c.domains)},
        {"description", c.description},
        {"notes", notes_json(c.notes)},
        {"answers", answers_json(c.answers)},
    });
  }
  return json::object{{"version", format_version}, {"package", ref_json(plan.package)}, {"containers", containers}};
}

json::value plan_secret_json(const install_plan& plan) {
  json::object containers;
  for (const auto& c : plan.containers) {
    if (c.secret_environment.empty() && c.secret_templates.empty() && c.secret_answers.empty() &&
        c.secret_notes.empty())
      continue;
    containers[c.name] = json::object{{"environment", environment_json(c.secret_environment)},
                                      {"templates", templates_json(c.secret_templates)},
                                      {"answers", answers_json(c.secret_answers)},
                                      {"notes", notes_json(c.secret_notes)}};
  }
  return json::object{{"containers", containers}};
}

result<install_plan> plan_from_json(const json::value& public_part, const json::value& secret_part) {
  try {
    const auto& root = object_of(public_part, "plan");
    if (int_of(root, "version") != format_version) throw std::runtime_error("unknown plan format version");
    install_plan plan;
    plan.package = ref_of(member(root, "package"));
    const auto& secrets = object_of(member(object_of(secret_part, "secrets"), "containers"), "containers");
    const json::value& list = member(root, "containers");
    if (!list.is_array() || list.get_array().empty()) throw std::runtime_error("containers is not a non-empty array");
    for (const auto& item : list.get_array()) {
      const auto& o = object_of(item, "container");
      planned_container c;
      c.ref = ref_of(member(o, "package"));
      c.dependency_key = string_of(o, "dependency_key");
      c.parent = string_of(o, "parent");
      c.name = string_of(o, "name");
      c.network = string_of(o, "network");
      c.network_aliases = strings_of(o, "network_aliases");
      // Records written before the ingress have none.
      if (const auto* address = o.if_contains("ingress_address"); address != nullptr && address->is_string())
        c.ingress_address = address->as_string();
      c.slice = string_of(o, "slice");
      c.runtime = runtime_of(string_of(o, "runtime"));
      c.image = string_of(o, "image");
      c.entrypoint = strings_of(o, "entrypoint");
      c.command = strings_of(o, "command");
      c.environment = environment_of(member(o, "environment"));
      for (const auto& p : member(o, "ports").as_array()) {
        const auto& po = object_of(p, "port");
        c.ports.push_back({static_cast<int>(int_of(po, "host")), static_cast<int>(int_of(po, "container")),
                           string_of(po, "name"), bool_of(po, "external"), exposure_of(string_of(po, "exposure"))});
      }
      for (const auto& v : member(o, "volumes").as_array()) {
        const auto& vo = object_of(v, "volume");
        planned_volume pv;
        pv.name = string_of(vo, "name");
        pv.subvolume = string_of(vo, "subvolume");
        pv.mountpoint = string_of(vo, "mountpoint");
        pv.quota_bytes = uint_of(vo, "quota_bytes");
        pv.quota_from_default = bool_of(vo, "quota_from_default");
        pv.git = string_of(vo, "git");
        pv.shareable = bool_of(vo, "shareable");
        if (vo.contains("uid")) pv.uid = int_of(vo, "uid");
        if (vo.contains("gid")) pv.gid = int_of(vo, "gid");
        c.volumes.push_back(std::move(pv));
      }
      c.templates = templates_of(member(o, "templates"));
      for (const auto& a : member(o, "archives").as_array()) {
        const auto& ao = object_of(a, "archive");
        c.archives.push_back({string_of(ao, "image"), string_of(ao, "directory"), string_of(ao, "volume")});
      }
      for (const auto& g : member(o, "git_sources").as_array()) {
        const auto& go = object_of(g, "git source");
        c.git_sources.push_back({string_of(go, "url"), string_of(go, "branch"), string_of(go, "volume")});
      }
      c.requires_containers = strings_of(o, "requires_containers");
      c.post_update = strings_of(o, "post_update");
      c.supplies = strings_of(o, "supplies");
      c.domains = strings_of(o, "domains");
      c.description = string_of(o, "description");
      c.notes = notes_of(member(o, "notes"));
      c.answers = answers_of(member(o, "answers"));

      auto expected_secrets = strings_of(o, "secret_environment_keys");
      if (const json::value* s = secrets.if_contains(c.name)) {
        const auto& so = object_of(*s, "secrets of a container");
        c.secret_environment = environment_of(member(so, "environment"));
        c.secret_templates = templates_of(member(so, "templates"));
        c.secret_answers = answers_of(member(so, "answers"));
        c.secret_notes = notes_of(member(so, "notes"));
      }
      if (c.secret_environment.size() != expected_secrets.size()) {
        throw std::runtime_error("the secrets of " + c.name + " are missing");
      }
      plan.containers.push_back(std::move(c));
    }
    return plan;
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("stored install plan is unreadable: ") + e.what());
  }
}

}  // namespace sc::packages
