#include "core/packages/plan_json.hpp"

#include <map>
#include <stdexcept>

#include "core/json_reader.hpp"
#include "core/json_writer.hpp"

namespace sc::packages {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::int64_t format_version = 1;

void write_answers(json_writer& w, const marker_values& answers) {
  w.begin_object();
  for (const auto& [k, v] : answers) w.key(k).value(v);
  w.end_object();
}

void write_environment(json_writer& w, const std::vector<environment_variable>& env) {
  json_members out;  // a key given twice keeps its last value, as the environment does
  for (const auto& e : env) out.set_string(e.key, e.value);
  out.write(w);
}

void write_templates(json_writer& w, const std::vector<planned_template>& templates) {
  w.begin_array();
  for (const auto& t : templates) {
    w.begin_object().key("name").value(t.name).key("volume").value(t.volume).key("path").value(t.path);
    w.key("content").value(t.content).end_object();
  }
  w.end_array();
}

void write_notes(json_writer& w, const std::vector<note_spec>& notes) {
  w.begin_array();
  for (const auto& n : notes) {
    w.begin_object().key("label").value(n.label).key("value").value(n.value).key("type").value(n.type).end_object();
  }
  w.end_array();
}

void write_ref(json_writer& w, const package_ref& ref) {
  w.begin_object().key("repo").value(ref.repo).key("name").value(ref.name).key("version").value(ref.version);
  w.key("effective_name").value(ref.effective_name).end_object();
}

// Readers throw std::runtime_error on a shape mismatch; plan_from_json turns that into a problem.
object object_of(element v, const char* what) {
  object o;
  if (v.get(o) != simdjson::SUCCESS) throw std::runtime_error(std::string(what) + " is not an object");
  return o;
}

array array_of(element v, const char* what) {
  array a;
  if (v.get(a) != simdjson::SUCCESS) throw std::runtime_error(std::string(what) + " is not an array");
  return a;
}

element member(object o, const char* key) {
  element v;
  if (o[key].get(v) != simdjson::SUCCESS) throw std::runtime_error(std::string("missing ") + key);
  return v;
}

bool has(object o, const char* key) {
  return o[key].error() == simdjson::SUCCESS;
}

std::string text_of(element v, const char* what) {
  std::string_view s;
  if (v.get(s) != simdjson::SUCCESS) throw std::runtime_error(std::string(what) + " is not a string");
  return std::string(s);
}

std::string string_of(object o, const char* key) {
  return text_of(member(o, key), key);
}

std::int64_t int_of(object o, const char* key) {
  std::int64_t n = 0;
  if (member(o, key).get(n) != simdjson::SUCCESS) throw std::runtime_error(std::string(key) + " is not an integer");
  return n;
}

std::uint64_t uint_of(object o, const char* key) {
  std::uint64_t n = 0;
  if (member(o, key).get(n) != simdjson::SUCCESS) {
    throw std::runtime_error(std::string(key) + " is not an unsigned integer");
  }
  return n;
}

bool bool_of(object o, const char* key) {
  bool b = false;
  if (member(o, key).get(b) != simdjson::SUCCESS) throw std::runtime_error(std::string(key) + " is not a boolean");
  return b;
}

std::vector<std::string> strings_of(object o, const char* key) {
  std::vector<std::string> out;
  for (element s : array_of(member(o, key), key)) out.push_back(text_of(s, key));
  return out;
}

marker_values answers_of(element v) {
  marker_values out;
  for (auto [k, s] : object_of(v, "answers")) out[std::string(k)] = text_of(s, "an answer");
  return out;
}

std::vector<environment_variable> environment_of(element v) {
  std::vector<environment_variable> out;
  for (auto [k, s] : object_of(v, "environment")) out.push_back({std::string(k), text_of(s, "an environment value")});
  return out;
}

std::vector<planned_template> templates_of(element v) {
  std::vector<planned_template> out;
  for (element t : array_of(v, "templates")) {
    auto o = object_of(t, "template");
    out.push_back({string_of(o, "name"), string_of(o, "volume"), string_of(o, "path"), string_of(o, "content")});
  }
  return out;
}

std::vector<note_spec> notes_of(element v) {
  std::vector<note_spec> out;
  for (element n : array_of(v, "notes")) {
    auto o = object_of(n, "note");
    out.push_back({string_of(o, "label"), string_of(o, "value"), string_of(o, "type")});
  }
  return out;
}

package_ref ref_of(element v) {
  auto o = object_of(v, "package");
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

struct container_secrets {
  std::vector<environment_variable> environment;
  std::vector<planned_template> templates;
  marker_values answers;
  std::vector<note_spec> notes;
};

}  // namespace

std::string plan_public_json(const install_plan& plan) {
  return json_string([&](json_writer& w) {
    w.begin_object().key("version").value(format_version).key("package");
    write_ref(w, plan.package);
    w.key("containers").begin_array();
    for (const auto& c : plan.containers) {
      w.begin_object().key("package");
      write_ref(w, c.ref);
      w.key("dependency_key").value(c.dependency_key).key("parent").value(c.parent).key("name").value(c.name);
      w.key("network").value(c.network).key("network_aliases").value(c.network_aliases);
      w.key("ingress_address").value(c.ingress_address).key("slice").value(c.slice);
      w.key("runtime").value(to_string(c.runtime)).key("image").value(c.image);
      w.key("entrypoint").value(c.entrypoint).key("command").value(c.command);
      w.key("environment");
      write_environment(w, c.environment);
      w.key("secret_environment_keys").begin_array();
      for (const auto& e : c.secret_environment) w.value(e.key);
      w.end_array();
      w.key("ports").begin_array();
      for (const auto& p : c.ports) {
        w.begin_object().key("host").value(p.host).key("container").value(p.container).key("name").value(p.name);
        w.key("external").value(p.external).key("exposure").value(to_string(p.exposure)).end_object();
      }
      w.end_array();
      w.key("volumes").begin_array();
      for (const auto& v : c.volumes) {
        w.begin_object().key("name").value(v.name).key("subvolume").value(v.subvolume);
        w.key("mountpoint").value(v.mountpoint).key("quota_bytes").value(v.quota_bytes);
        w.key("quota_from_default").value(v.quota_from_default).key("git").value(v.git);
        w.key("shareable").value(v.shareable);
        if (v.uid) w.key("uid").value(static_cast<std::int64_t>(*v.uid));
        if (v.gid) w.key("gid").value(static_cast<std::int64_t>(*v.gid));
        w.end_object();
      }
      w.end_array();
      w.key("templates");
      write_templates(w, c.templates);
      w.key("archives").begin_array();
      for (const auto& a : c.archives) {
        w.begin_object().key("image").value(a.image).key("directory").value(a.directory);
        w.key("volume").value(a.volume).end_object();
      }
      w.end_array();
      w.key("git_sources").begin_array();
      for (const auto& g : c.git_sources) {
        w.begin_object().key("url").value(g.url).key("branch").value(g.branch).key("volume").value(g.volume);
        w.end_object();
      }
      w.end_array();
      w.key("requires_containers").value(c.requires_containers).key("post_update").value(c.post_update);
      w.key("supplies").value(c.supplies).key("domains").value(c.domains);
      w.key("description").value(c.description).key("notes");
      write_notes(w, c.notes);
      w.key("answers");
      write_answers(w, c.answers);
      w.end_object();
    }
    w.end_array().end_object();
  });
}

std::string plan_secret_json(const install_plan& plan) {
  return json_string([&](json_writer& w) {
    w.begin_object().key("containers").begin_object();
    for (const auto& c : plan.containers) {
      if (c.secret_environment.empty() && c.secret_templates.empty() && c.secret_answers.empty() &&
          c.secret_notes.empty())
        continue;
      w.key(c.name).begin_object().key("environment");
      write_environment(w, c.secret_environment);
      w.key("templates");
      write_templates(w, c.secret_templates);
      w.key("answers");
      write_answers(w, c.secret_answers);
      w.key("notes");
      write_notes(w, c.secret_notes);
      w.end_object();
    }
    w.end_object().end_object();
  });
}

result<install_plan> plan_from_json(std::string_view public_text, std::string_view secret_text) {
  try {
    // The secrets first, copied out: the parser holds one document at a time.
    std::map<std::string, container_secrets, std::less<>> secrets;
    element secret_root;
    if (json::parse(secret_text).get(secret_root) != simdjson::SUCCESS) {
      throw std::runtime_error("the secrets are not JSON");
    }
    for (auto [name, value] : object_of(member(object_of(secret_root, "secrets"), "containers"), "containers")) {
      auto so = object_of(value, "secrets of a container");
      secrets[std::string(name)] = {environment_of(member(so, "environment")), templates_of(member(so, "templates")),
                                    answers_of(member(so, "answers")), notes_of(member(so, "notes"))};
    }
    element public_root;
    if (json::parse(public_text).get(public_root) != simdjson::SUCCESS)
      throw std::runtime_error("the plan is not JSON");
    auto root = object_of(public_root, "plan");
    if (int_of(root, "version") != format_version) throw std::runtime_error("unknown plan format version");
    install_plan plan;
    plan.package = ref_of(member(root, "package"));
    auto list = array_of(member(root, "containers"), "containers");
    if (list.size() == 0) throw std::runtime_error("containers is not a non-empty array");
    for (element item : list) {
      auto o = object_of(item, "container");
      planned_container c;
      c.ref = ref_of(member(o, "package"));
      c.dependency_key = string_of(o, "dependency_key");
      c.parent = string_of(o, "parent");
      c.name = string_of(o, "name");
      c.network = string_of(o, "network");
      c.network_aliases = strings_of(o, "network_aliases");
      // Records written before the ingress have none.
      if (std::string_view address; o["ingress_address"].get(address) == simdjson::SUCCESS) {
        c.ingress_address = std::string(address);
      }
      c.slice = string_of(o, "slice");
      c.runtime = runtime_of(string_of(o, "runtime"));
      c.image = string_of(o, "image");
      c.entrypoint = strings_of(o, "entrypoint");
      c.command = strings_of(o, "command");
      c.environment = environment_of(member(o, "environment"));
      for (element p : array_of(member(o, "ports"), "ports")) {
        auto po = object_of(p, "port");
        c.ports.push_back({static_cast<int>(int_of(po, "host")), static_cast<int>(int_of(po, "container")),
                           string_of(po, "name"), bool_of(po, "external"), exposure_of(string_of(po, "exposure"))});
      }
      for (element v : array_of(member(o, "volumes"), "volumes")) {
        auto vo = object_of(v, "volume");
        planned_volume pv;
        pv.name = string_of(vo, "name");
        pv.subvolume = string_of(vo, "subvolume");
        pv.mountpoint = string_of(vo, "mountpoint");
        pv.quota_bytes = uint_of(vo, "quota_bytes");
        pv.quota_from_default = bool_of(vo, "quota_from_default");
        pv.git = string_of(vo, "git");
        pv.shareable = bool_of(vo, "shareable");
        if (has(vo, "uid")) pv.uid = int_of(vo, "uid");
        if (has(vo, "gid")) pv.gid = int_of(vo, "gid");
        c.volumes.push_back(std::move(pv));
      }
      c.templates = templates_of(member(o, "templates"));
      for (element a : array_of(member(o, "archives"), "archives")) {
        auto ao = object_of(a, "archive");
        c.archives.push_back({string_of(ao, "image"), string_of(ao, "directory"), string_of(ao, "volume")});
      }
      for (element g : array_of(member(o, "git_sources"), "git_sources")) {
        auto go = object_of(g, "git source");
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
      if (auto found = secrets.find(c.name); found != secrets.end()) {
        c.secret_environment = std::move(found->second.environment);
        c.secret_templates = std::move(found->second.templates);
        c.secret_answers = std::move(found->second.answers);
        c.secret_notes = std::move(found->second.notes);
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
