#include "core/packages/plan.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "core/json_writer.hpp"
#include "core/names.hpp"
#include "core/packages/version.hpp"

namespace sc::packages {

namespace {

constexpr std::string_view dependency_separator = "--dep--";

// What a secret answer is replaced by when looking for where secrets flow: a byte compile refuses
// in every value, so finding it after substitution proves the value derives from a secret.
constexpr char secret_sentinel = '\x01';

bool is_secret_type(std::string_view type) noexcept {
  return type == "secret" || type == "password" || type == "oauth";
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// systemd's unit-name escaping of one path component (systemd-escape): '-' and anything outside
// [A-Za-z0-9_.:] become \xNN, so a dash only ever means "child of" in a slice name.
std::string escape_unit_component(std::string_view text) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    bool plain = std::isalnum(c) != 0 || c == '_' || c == ':' || (c == '.' && i > 0);
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  return out;
}

// The marker names a text mentions (over-approximating around escapes, which only ever adds an
// ordering edge).
std::vector<std::string> mentioned_markers(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while ((i = text.find('@', i)) != std::string_view::npos) {
    std::size_t end = i + 1;
    while (end < text.size() && is_marker_name_char(text[end])) ++end;
    if (end > i + 1 && end < text.size() && text[end] == '@') {
      out.emplace_back(text.substr(i + 1, end - i - 1));
      i = end;
    } else {
      ++i;
    }
  }
  return out;
}

// True when `marker` is a dependency marker of sibling `key`: dep_<key>_host, dep_<key>_port_<x>.
bool marks_dependency(std::string_view marker, std::string_view key) {
  std::string lowered = lower(marker);
  std::string prefix = "dep_" + lower(key) + "_";
  if (!lowered.starts_with(prefix)) return false;
  std::string_view rest = std::string_view(lowered).substr(prefix.size());
  return rest == "host" || (rest.starts_with("port_") && rest.size() > 5);
}

// Siblings in the order they can be installed: a dependency after every sibling whose
// @dep_<key>_…@ markers its responses use or that it consumes from; ties alphabetical; self
// references ignored. nullopt on a cycle.
std::optional<std::vector<const dependency_spec*>> order_dependencies(const std::vector<dependency_spec>& deps) {
  std::map<std::string, const dependency_spec*> by_key;
  for (const auto& d : deps) by_key.emplace(d.key, &d);
  std::map<std::string, std::set<std::string>> needs;  // key → keys it waits for
  for (const auto& d : deps) {
    auto& set = needs[d.key];
    for (const auto& [response_key, value] : d.responses) {
      for (const auto& marker : mentioned_markers(value)) {
        for (const auto& [other, spec] : by_key) {
          if (other != d.key && marks_dependency(marker, other)) set.insert(other);
        }
      }
    }
    for (const auto& from : d.consumes) {
      if (from != d.key && by_key.contains(from)) set.insert(from);
    }
  }
  std::vector<const dependency_spec*> out;
  std::set<std::string> done;
  while (out.size() < by_key.size()) {
    bool progressed = false;
    for (const auto& [key, spec] : by_key) {  // alphabetical
      if (done.contains(key)) continue;
      const auto& wait = needs[key];
      if (std::all_of(wait.begin(), wait.end(), [&](const std::string& k) { return done.contains(k); })) {
        out.push_back(spec);
        done.insert(key);
        progressed = true;
        break;
      }
    }
    if (!progressed) return std::nullopt;
  }
  return out;
}

// What every runtime can carry: -e KEY=VALUE, an env file line, a manifest's env entry.
bool valid_environment_name(std::string_view key) noexcept {
  if (key.empty() || key.size() > 256) return false;
  if (std::isalpha(static_cast<unsigned char>(key.front())) == 0 && key.front() != '_') return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
  });
}

bool mentions_secret(std::string_view raw, const marker_values& sentinels) {
  if (sentinels.empty()) return false;
  return substitute_markers(raw, sentinels, escape_mode::keep).find(secret_sentinel) != std::string::npos;
}

// A container path for a bind mount: absolute, no '..' or '.' component, and none of the
// characters the runtimes' mount syntaxes split on.
bool valid_mountpoint(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 1024) return false;
  if (path.find_first_of(":,") != std::string_view::npos) return false;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// What a planned dependency offers its parent and siblings.
struct dependency_facts {
  std::string key;
  std::string host;                 // container name
  std::vector<planned_port> ports;  // container ports
  std::vector<planned_volume> volumes;
};

struct node_input {
  package_ref ref;
  const package_definition* definition = nullptr;
  marker_values answers;
  std::set<std::string, std::less<>> tainted;  // answer keys that carry a parent's secret
  std::string dependency_key;
  std::string parent;      // parent container name
  std::string slice_stem;  // without ".slice"
  std::string field_prefix;
  std::size_t depth = 0;
};

struct planner {
  const plan_request& request;
  install_plan plan;
  std::vector<field_error> errors;
  std::set<std::string> aliases;
  std::string top_repo;
  std::string top_network;
  auto_answer_context fallback_generate;

  void fail(const std::string& prefix, const std::string& field, std::string message) {
    errors.push_back({prefix + field, std::move(message)});
  }

  auto_answer_context& generator() { return request.generate != nullptr ? *request.generate : fallback_generate; }

  // Plans `node` after its dependencies; nullopt once errors are recorded.
  std::optional<dependency_facts> plan_node(node_input node) {
    const package_definition& def = *node.definition;
    const std::string& prefix = node.field_prefix;
    if (plan.containers.size() >= request.limits.max_containers) {
      fail(prefix, "dependencies",
           "the dependency tree exceeds " + std::to_string(request.limits.max_containers) + " containers");
      return std::nullopt;
    }
    if (def.runtime != runtime_kind::container) {
      fail(prefix, "runtime",
           "the " + std::string(to_string(def.runtime)) + " runtime is not supported; only containers are");
      return std::nullopt;
    }

    auto& generate = generator();
    generate.effective_name = node.ref.effective_name;
    marker_values raw_answers = auto_answers(def, std::move(node.answers), generate);

    compile_context context;
    context.repo = node.ref.repo;
    context.name = node.ref.name;
    context.version = node.ref.version;
    context.effective_name = node.ref.effective_name;
    context.dns_tld = request.dns_tld;
    context.external_host = request.external_host;
    context.internal_host = request.internal_host;
    auto compiled = compile(def, context, raw_answers);
    if (!compiled) {
      for (auto& e : compiled.error().errors) fail(prefix, e.field, std::move(e.message));
      if (compiled.error().errors.empty()) fail(prefix, "", compiled.error().detail);
      return std::nullopt;
    }

    // Which answers are secrets: secret-type questions, and answers a parent derived from its own.
    marker_values sentinels;
    planned_container out;
    for (const auto& q : def.questions) {
      bool secret = is_secret_type(q.type) || node.tainted.contains(q.key);
      if (secret) sentinels[q.key] = std::string(1, secret_sentinel);
      auto given = raw_answers.find(q.key);
      if (given == raw_answers.end()) continue;
      (secret ? out.secret_answers : out.answers)[q.key] = given->second;
    }

    out.ref = node.ref;
    out.dependency_key = node.dependency_key;
    out.parent = node.parent;
    out.name = container_name(node.ref);
    out.network = node.dependency_key.empty() ? network_name(node.ref) : top_network;
    if (node.dependency_key.empty()) top_network = out.network;
    out.slice = node.slice_stem + ".slice";
    out.runtime = compiled->runtime;
    out.image = compiled->image_reference;
    out.description = compiled->description;
    out.supplies = compiled->supplies;
    out.domains = compiled->domains;
    out.post_update = compiled->post_update;

    for (std::size_t i = 0; i < compiled->notes.size(); ++i) {
      bool secret = mentions_secret(def.notes[i].value, sentinels);
      (secret ? out.secret_notes : out.notes).push_back(compiled->notes[i]);
    }

    // Argv is world-readable (ps): a secret may reach the container only through its environment.
    auto check_argv = [&](const std::vector<std::string>& raw, const char* what) {
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (mentions_secret(raw[i], sentinels)) {
          fail(prefix, std::string(what) + "[" + std::to_string(i) + "]",
               "would put a secret answer in the process list; pass it through environment");
        }
      }
    };
    check_argv(def.command, "command");
    check_argv(def.entrypoint, "entrypoint");
    out.command = compiled->command;
    out.entrypoint = compiled->entrypoint;

    // Dependencies first, siblings in topological order.
    auto ordered = order_dependencies(compiled->dependencies);
    if (!ordered) {
      fail(prefix, "dependencies", "dependencies reference each other in a cycle");
      return std::nullopt;
    }
    if (!compiled->dependencies.empty() && node.depth >= request.limits.max_depth) {
      fail(prefix, "dependencies", "dependencies nest deeper than " + std::to_string(request.limits.max_depth));
      return std::nullopt;
    }
    marker_values dependency_markers;
    std::map<std::string, environment_variable> dependency_environment;
    std::string dep_data;  // .Dep of the file templates: a JSON object, a member per dependency
    json_writer dep_writer(dep_data);
    dep_writer.begin_object();
    bool ok = true;
    for (const dependency_spec* d : *ordered) {
      std::string dep_prefix = prefix + "dependencies." + d->key + ".";
      std::string repo = d->repo;
      if (repo.empty() && !d->version.empty()) repo = node.ref.repo;
      std::optional<resolved_definition> found;
      if (request.resolve) found = request.resolve(repo, d->package, d->version);
      if (!found || !found->definition) {
        fail(dep_prefix, "package",
             "no repository has package " + d->package + (d->version.empty() ? "" : "@" + d->version));
        ok = false;
        continue;
      }
      node_input child;
      child.ref = {found->repo, found->name, found->version,
                   dependency_effective_name(node.ref.effective_name, d->key)};
      child.definition = found->definition.get();
      const dependency_spec* raw_spec = nullptr;
      for (const auto& r : def.dependencies) {
        if (r.key == d->key) raw_spec = &r;
      }
      if (auto saved = request.dependency_answers.find(child.ref.effective_name);
          saved != request.dependency_answers.end()) {
        child.answers = saved->second;
      }
      for (const auto& [key, value] : d->responses) {
        child.answers[key] = substitute_markers(value, dependency_markers, escape_mode::collapse);
      }
      if (raw_spec != nullptr) {
        for (const auto& [key, value] : raw_spec->responses) {
          if (mentions_secret(value, sentinels)) child.tainted.insert(key);
        }
      }
      child.dependency_key = d->key;
      child.parent = out.name;
      child.slice_stem = node.slice_stem + "-" + escape_unit_component(d->key);
      child.field_prefix = dep_prefix;
      child.depth = node.depth + 1;
      auto facts = plan_node(std::move(child));
      if (!facts) {
        ok = false;
        continue;
      }
      out.requires_containers.push_back(facts->host);

      std::string key_upper = upper(d->key);
      auto add_marker = [&](const std::string& suffix, const std::string& value) {
        dependency_markers["dep_" + d->key + "_" + suffix] = value;
        dependency_markers[lower("dep_" + d->key + "_" + suffix)] = value;
        std::string env_key = "TOWNOS_DEP_" + key_upper + "_" + upper(suffix);
        dependency_environment[env_key] = {env_key, value};
      };
      add_marker("host", facts->host);
      json_members ports;
      json_members volumes;
      for (const auto& p : facts->ports) {
        add_marker("port_" + std::to_string(p.container), std::to_string(p.container));
        ports.set_string(std::to_string(p.container), std::to_string(p.container));
        if (!p.name.empty()) {
          add_marker("port_" + p.name, std::to_string(p.container));
          ports.set_string(p.name, std::to_string(p.container));
        }
      }
      for (const auto& v : facts->volumes) volumes.set_string(v.name, v.mountpoint);
      dep_writer.key(d->key).begin_object().key("Host").value(facts->host).key("Ports");
      ports.write(dep_writer);
      dep_writer.key("Volumes");
      volumes.write(dep_writer);
      dep_writer.end_object();
    }
    if (!ok) return std::nullopt;
    dep_writer.end_object();
    std::sort(out.requires_containers.begin(), out.requires_containers.end());
    if (!node.dependency_key.empty() && !aliases.contains(node.dependency_key)) {
      aliases.insert(node.dependency_key);
      out.network_aliases.push_back(node.dependency_key);
    }

    // Environment: the definition's, then the dependencies' facts (they win: TOWNOS_ is ours); the
    // runtime @dep_*@ markers resolved in one pass that also collapses `@@`.
    std::map<std::string, environment_variable> environment;
    std::set<std::string> secret_keys;
    for (std::size_t i = 0; i < compiled->environment.size(); ++i) {
      const auto& [key, value] = compiled->environment[i];
      environment[key] = {key, substitute_markers(value, dependency_markers, escape_mode::collapse)};
      if (mentions_secret(def.environment[i].second, sentinels)) secret_keys.insert(key);
    }
    for (auto& [key, variable] : dependency_environment) {
      environment[key] = variable;
      secret_keys.erase(key);
    }
    for (auto& [key, variable] : environment) {
      if (!valid_environment_name(key)) {
        fail(prefix, "environment." + key.substr(0, 64),
             "invalid environment variable name ([A-Za-z_][A-Za-z0-9_.-]*)");
        continue;
      }
      (secret_keys.contains(key) ? out.secret_environment : out.environment).push_back(std::move(variable));
    }

    // Ports.
    auto is_direct = [&](const std::string& key) {
      return std::find(compiled->direct.begin(), compiled->direct.end(), key) != compiled->direct.end();
    };
    auto passthrough = [&](const std::string& key) {
      for (const auto& [k, mode] : compiled->tls_mode) {
        if (k == key) return mode == "passthrough";
      }
      return false;
    };
    bool supplies_http =
        std::find(compiled->supplies.begin(), compiled->supplies.end(), "http") != compiled->supplies.end();
    std::set<int> seen_host;
    auto add_ports = [&](const std::vector<port_mapping>& ports, bool external, const char* where) {
      for (const auto& p : ports) {
        planned_port pp{p.host, p.container, p.name, external, port_exposure::host};
        if (!node.dependency_key.empty()) {
          pp.exposure = port_exposure::network;
        } else if (p.name == "http" && supplies_http && !is_direct(p.key) && !passthrough(p.key)) {
          pp.exposure = port_exposure::ingress;
        }
        if (!seen_host.insert(p.host).second) {
          fail(prefix, std::string(where) + "." + p.key, "port " + std::to_string(p.host) + " is declared twice");
          continue;
        }
        out.ports.push_back(std::move(pp));
      }
    };
    add_ports(compiled->external_ports, true, "network.external");
    add_ports(compiled->internal_ports, false, "network.internal");
    std::sort(out.ports.begin(), out.ports.end(), [](const auto& a, const auto& b) { return a.host < b.host; });

    // Volumes, nested under the top-level package so that they move and purge with it.
    for (const auto& v : compiled->volumes) {
      std::string field = "volumes." + v.name;
      planned_volume pv;
      pv.name = v.name;
      pv.subvolume = installed_root(top_repo, node.ref.effective_name) + "/" + node.ref.version + "/" + v.name;
      if (!validate_relative_path(pv.subvolume)) fail(prefix, field, "does not make a valid volume path");
      pv.mountpoint = v.mountpoint;
      if (!valid_mountpoint(v.mountpoint))
        fail(prefix, field + ".mountpoint", "must be an absolute path without '.', '..', ':' or ','");
      pv.quota_bytes = v.quota_bytes != 0 ? v.quota_bytes : request.default_quota;
      pv.quota_from_default = v.quota_bytes == 0;
      pv.uid = v.uid;
      pv.gid = v.gid;
      pv.git = v.git;
      pv.shareable = v.shareable;
      if (pv.uid.value_or(0) < 0 || pv.gid.value_or(0) < 0 || pv.uid.value_or(0) > 0xfffffffe ||
          pv.gid.value_or(0) > 0xfffffffe)
        fail(prefix, field, "uid and gid must be 0-4294967294");
      out.volumes.push_back(std::move(pv));
    }
    std::sort(out.volumes.begin(), out.volumes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

    for (const auto& a : def.archives) {
      if (out.find_volume(a.volume) == nullptr) {
        fail(prefix, "archives." + a.volume, "names no declared volume");
        continue;
      }
      out.archives.push_back({normalize_image(a.image), a.directory, a.volume});
    }
    for (const auto& g : def.git_sources) {
      std::string url = substitute_markers(g.url, compiled->answers, escape_mode::collapse);
      std::string branch = substitute_markers(g.branch, compiled->answers, escape_mode::collapse);
      if (out.find_volume(g.volume) == nullptr) {
        fail(prefix, "git_sources." + g.volume, "names no declared volume");
        continue;
      }
      if (has_control_characters(url) || has_control_characters(branch) || url.starts_with("-") ||
          branch.starts_with("-")) {
        fail(prefix, "git_sources." + g.volume, "invalid url or branch");
        continue;
      }
      out.git_sources.push_back({std::move(url), std::move(branch), g.volume});
    }

    // Templates, rendered now: every fact they may use (.Dep included) is known.
    // The data the templates render against, once with the answers and once with every secret
    // answer replaced by the sentinel (to find which rendered files carry a secret).
    auto template_data = [&](bool with_sentinels) {
      std::string text;
      json_writer w(text);
      w.begin_object().key("Responses").begin_object();
      for (const auto& [key, value] : compiled->answers) {
        w.key(key);
        if (with_sentinels && sentinels.contains(key)) {
          w.value(std::string_view(&secret_sentinel, 1));
        } else {
          w.value(value);
        }
      }
      w.end_object();
      w.key("Package").begin_object();
      w.key("Name").value(node.ref.name).key("Version").value(node.ref.version).key("Repo").value(node.ref.repo);
      w.key("Image").value(compiled->image).key("Description").value(compiled->description).end_object();
      w.key("System").begin_object().key("Hostname").value(request.host_name);
      w.key("ExternalIP").value(request.external_host).key("InternalIP").value(request.internal_host).end_object();
      w.key("Dep").raw(dep_data).end_object();
      return text;
    };
    // Parsers of their own: both documents are read together, and the thread's parser
    // (core/json_reader.hpp) may hold a caller's document.
    simdjson::dom::parser data_parser;
    simdjson::dom::parser sentinel_parser;
    simdjson::dom::element data;
    simdjson::dom::element sentinel_data;
    if (data_parser.parse(template_data(false)).get(data) != simdjson::SUCCESS ||
        sentinel_parser.parse(template_data(true)).get(sentinel_data) != simdjson::SUCCESS) {
      fail(prefix, "templates", "answers are not valid UTF-8");
      return std::nullopt;
    }
    for (std::size_t i = 0; i < compiled->templates.size(); ++i) {
      const auto& t = compiled->templates[i];
      std::string field = "templates." + t.name;
      if (out.find_volume(t.volume) == nullptr) {
        fail(prefix, field + ".volume", "names no declared volume");
        continue;
      }
      auto rendered = render_file_template(t.content, data, prefix + field + ".content");
      if (!rendered) {
        for (auto& e : rendered.error().errors) errors.push_back(std::move(e));
        if (rendered.error().errors.empty()) fail(prefix, field + ".content", rendered.error().detail);
        continue;
      }
      const std::string& raw_content = def.templates[i].content;
      auto probe =
          render_file_template(substitute_markers(raw_content, sentinels, escape_mode::keep), sentinel_data, field);
      bool secret = !probe || probe->find(secret_sentinel) != std::string::npos;
      planned_template pt{t.name, t.volume, t.path, std::move(*rendered)};
      (secret ? out.secret_templates : out.templates).push_back(std::move(pt));
    }

    dependency_facts facts{node.dependency_key, out.name, out.ports, out.volumes};
    plan.containers.push_back(std::move(out));
    return facts;
  }
};

}  // namespace

std::string container_name(const package_ref& ref) {
  return "town-os-package--" + ref.repo + "-" + ref.effective_name + "-" + ref.version;
}

std::string network_name(const package_ref& ref) {
  return "town-os-net--" + ref.repo + "-" + ref.effective_name + "-" + ref.version;
}

std::string service_unit_name(const package_ref& ref) {
  return container_name(ref) + ".service";
}

std::string dependency_effective_name(std::string_view parent, std::string_view key) {
  return std::string(parent) + std::string(dependency_separator) + std::string(key);
}

std::string storage_path(std::string_view effective_name) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    std::size_t at = effective_name.find(dependency_separator, start);
    out += effective_name.substr(start, at - start);
    if (at == std::string_view::npos) break;
    out += "/subpackages/";
    start = at + dependency_separator.size();
  }
  return out;
}

std::string installed_root(std::string_view repo, std::string_view effective_name) {
  return "installed/" + std::string(repo) + "/" + storage_path(effective_name);
}

std::string uninstalled_root(std::string_view repo, std::string_view effective_name) {
  return "uninstalled/" + std::string(repo) + "/" + storage_path(effective_name);
}

std::string instance_effective_name(std::string_view name, std::string_view instance) {
  if (instance.empty()) return std::string(name);
  return std::string(name) + "-" + std::string(instance);
}

std::string_view to_string(port_exposure exposure) noexcept {
  switch (exposure) {
    case port_exposure::host:
      return "host";
    case port_exposure::ingress:
      return "ingress";
    case port_exposure::network:
      return "network";
  }
  return "host";
}

int planned_container::ingress_port() const noexcept {
  for (const auto& p : ports) {
    if (p.exposure == port_exposure::ingress) return p.container;
  }
  return 0;
}

const planned_volume* planned_container::find_volume(std::string_view volume_name) const noexcept {
  for (const auto& v : volumes) {
    if (v.name == volume_name) return &v;
  }
  return nullptr;
}

std::vector<int> install_plan::host_ports() const {
  std::vector<int> out;
  for (const auto& c : containers) {
    for (const auto& p : c.ports) {
      if (p.exposure == port_exposure::host) out.push_back(p.host);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> install_plan::claimed_names() const {
  std::vector<std::string> out;
  for (const auto& c : containers) {
    out.push_back(c.name);
    if (c.dependency_key.empty()) out.push_back(c.network);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::uint64_t install_plan::total_quota_bytes() const {
  std::uint64_t total = 0;
  for (const auto& c : containers) {
    for (const auto& v : c.volumes) total += v.quota_bytes;
  }
  return total;
}

result<install_plan> make_plan(const plan_request& request) {
  const package_ref& ref = request.package;
  std::vector<field_error> identity_errors;
  if (!valid_package_name(ref.repo)) identity_errors.push_back({"repo", "invalid repository name"});
  if (!valid_package_name(ref.name)) identity_errors.push_back({"name", "invalid package name"});
  if (!valid_version(ref.version)) identity_errors.push_back({"version", "invalid version"});
  if (!valid_package_name(ref.effective_name) ||
      (ref.effective_name != ref.name && !ref.effective_name.starts_with(ref.name + "-")))
    identity_errors.push_back({"instance", "invalid instance name"});
  if (request.definition == nullptr) identity_errors.push_back({"name", "no definition"});
  if (!identity_errors.empty()) {
    problem p(422, "invalid package identity");
    p.errors = std::move(identity_errors);
    return p;
  }

  planner planner{request, {}, {}, {}, ref.repo, {}, {}};
  planner.plan.package = ref;
  node_input top;
  top.ref = ref;
  top.definition = request.definition;
  top.answers = request.answers;
  top.slice_stem =
      "town-os-packages-" + escape_unit_component(ref.repo) + "-" + escape_unit_component(ref.effective_name);
  auto facts = planner.plan_node(std::move(top));
  if (!planner.errors.empty() || !facts) {
    if (planner.errors.empty()) planner.errors.push_back({"", "the package cannot be planned"});
    const auto& first = planner.errors.front();
    problem p(422, "package cannot be installed: " + (first.field.empty() ? "" : first.field + ": ") + first.message);
    p.errors = std::move(planner.errors);
    return p;
  }
  return std::move(planner.plan);
}

namespace {

bool same_package(const install_plan& a, const install_plan& b) {
  return a.package.repo == b.package.repo && a.package.effective_name == b.package.effective_name;
}

}  // namespace

result<void> check_name_collision(const install_plan& plan, const install_plan& installed) {
  if (same_package(plan, installed)) return {};
  auto mine = plan.claimed_names();
  auto theirs = installed.claimed_names();
  for (const auto& name : mine) {
    if (std::binary_search(theirs.begin(), theirs.end(), name)) {
      return problem::conflict("the name " + name + " is already used by installed package " + installed.package.repo +
                               "/" + installed.package.effective_name + "@" + installed.package.version);
    }
  }
  return {};
}

result<void> check_port_claims(const install_plan& plan, const install_plan& installed) {
  if (same_package(plan, installed)) return {};
  auto mine = plan.host_ports();
  auto theirs = installed.host_ports();
  for (int port : mine) {
    if (std::binary_search(theirs.begin(), theirs.end(), port)) {
      return problem::conflict("host port " + std::to_string(port) + " is already claimed by installed package " +
                               installed.package.repo + "/" + installed.package.effective_name + "@" +
                               installed.package.version);
    }
  }
  return {};
}

}  // namespace sc::packages
