#include "core/packages/definition.hpp"

#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <exception>
#include <set>

#include "core/json_reader.hpp"
#include "core/json_writer.hpp"
#include "core/names.hpp"
#include "core/packages/template.hpp"
#include "core/packages/version.hpp"

namespace sc::packages {

std::string_view to_string(runtime_kind kind) noexcept {
  switch (kind) {
    case runtime_kind::container:
      return "container";
    case runtime_kind::vm:
      return "vm";
    case runtime_kind::proton:
      return "proton";
  }
  return "container";
}

const question_spec* package_definition::find_question(std::string_view key) const noexcept {
  for (const auto& q : questions) {
    if (q.key == key) return &q;
  }
  return nullptr;
}

const volume_spec* package_definition::find_volume(std::string_view name) const noexcept {
  for (const auto& v : volumes) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

namespace {

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

template <class Pred>
bool matches(std::string_view s, std::size_t max, Pred rest) {
  if (s.empty() || s.size() > max || !is_alnum(s.front())) return false;
  for (char c : s) {
    if (!rest(c)) return false;
  }
  return true;
}

}  // namespace

bool valid_identifier(std::string_view key) noexcept {
  return matches(key, 128, [](char c) { return is_alnum(c) || c == '_'; });
}

bool valid_volume_name(std::string_view name) noexcept {
  return matches(name, 128, [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool valid_port_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  if (!((name.front() >= 'a' && name.front() <= 'z') || (name.front() >= 'A' && name.front() <= 'Z'))) return false;
  for (char c : name) {
    if (!is_alnum(c) && c != '_') return false;
  }
  return true;
}

bool contains_marker(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '@') continue;
    std::size_t end = i + 1;
    while (end < text.size() && is_marker_name_char(text[end])) ++end;
    if (end > i + 1 && end < text.size() && text[end] == '@') return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// YAML → JSON under limits.

namespace {

struct converter {
  const parse_limits& limits;
  json_writer& out;
  std::size_t nodes = 0;
  std::string error;

  bool fail(std::string message, const YAML::Mark& mark) {
    if (error.empty()) {
      error = std::move(message);
      if (!mark.is_null()) error += " (line " + std::to_string(mark.line + 1) + ")";
    }
    return false;
  }

  // Recursion is bounded by `max_depth`; the node count bounds the work an alias bomb can cause,
  // because every visit of a shared (aliased) node counts again.
  bool convert(const YAML::Node& node, std::size_t depth) {
    if (++nodes > limits.max_nodes)
      return fail("document too large: more than " + std::to_string(limits.max_nodes) + " nodes (aliases expanded)",
                  node.Mark());
    if (depth > limits.max_depth)
      return fail("document nested deeper than " + std::to_string(limits.max_depth) + " levels", node.Mark());
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        out.null();
        return true;
      case YAML::NodeType::Scalar: {
        const std::string& s = node.Scalar();
        if (s.size() > limits.max_scalar_bytes)
          return fail("scalar longer than " + std::to_string(limits.max_scalar_bytes) + " bytes", node.Mark());
        out.value(s);
        return true;
      }
      case YAML::NodeType::Sequence:
        out.begin_array();
        for (const auto& item : node) {
          if (!convert(item, depth + 1)) return false;
        }
        out.end_array();
        return true;
      case YAML::NodeType::Map: {
        out.begin_object();
        // The scalars live as long as the document's nodes, which outlive this call.
        std::set<std::string_view> keys;
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) return fail("map keys must be scalars", entry.first.Mark());
          const std::string& key = entry.first.Scalar();
          if (!keys.insert(key).second) return fail("duplicate key \"" + key.substr(0, 64) + "\"", entry.first.Mark());
          out.key(key);
          if (!convert(entry.second, depth + 1)) return false;
        }
        out.end_object();
        return true;
      }
    }
    out.null();
    return true;
  }
};

// yaml-cpp parses flow collections recursively (its own guard stops at 2000 levels, deep enough to
// exhaust a sanitizer's stack first), so a document nested beyond the limit is refused by a cheap
// scan before the parser sees it. Block nesting needs an indentation per level and is bounded by
// the same limit while converting.
bool flow_nesting_within(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  char quote = 0;
  bool comment = false;
  for (char c : text) {
    if (comment) {
      if (c == '\n') comment = false;
      continue;
    }
    if (quote != 0) {
      if (c == quote || c == '\n') quote = 0;
      continue;
    }
    switch (c) {
      case '#':
        comment = true;
        break;
      case '"':
      case '\'':
        quote = c;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return false;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace

result<std::string> yaml_to_json(std::string_view yaml, const parse_limits& limits) {
  if (yaml.size() > limits.max_bytes) {
    return problem::unprocessable("definition",
                                  "definition larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  if (!flow_nesting_within(yaml, limits.max_depth)) {
    return problem::unprocessable("definition",
                                  "document nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  std::string out;
  json_writer writer(out);
  converter conv{limits, writer, 0, {}};
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!conv.convert(root, 0)) return problem::unprocessable("definition", "invalid YAML: " + conv.error);
  } catch (const YAML::Exception& e) {
    std::string message = e.msg.empty() ? std::string("malformed document") : e.msg;
    if (!e.mark.is_null()) message += " (line " + std::to_string(e.mark.line + 1) + ")";
    return problem::unprocessable("definition", "invalid YAML: " + message);
  } catch (const std::exception& e) {
    return problem::unprocessable("definition", std::string("invalid YAML: ") + e.what());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema.

namespace {

constexpr std::string_view question_types[] = {"",        "port",   "hostname", "volume", "bytes",  "duration",
                                               "archive", "secret", "boolean",  "oauth",  "string", "text"};

using simdjson::dom::element;
using simdjson::dom::object;

// A member that may be absent.
using maybe_element = std::optional<element>;

using json::member;

bool given(const maybe_element& v) {
  return v && !v->is_null();
}

std::string_view text_of(element e) {
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) return {};
  return s;
}

struct checker {
  std::vector<field_error> errors;

  void add(std::string field, std::string message) {
    if (errors.size() < 200) errors.push_back({std::move(field), std::move(message)});
  }

  static std::string join(std::string_view path, std::string_view key) {
    if (path.empty()) return std::string(key);
    std::string out(path);
    out.push_back('.');
    out += key;
    return out;
  }

  std::optional<std::string> scalar(element v, const std::string& path) {
    if (v.is_string()) return std::string(text_of(v));
    if (v.is_null()) return std::string();
    add(path, "must be a scalar");
    return std::nullopt;
  }

  std::string string_field(const object& obj, std::string_view key, std::string_view path) {
    auto v = member(obj, key);
    if (!v) return {};
    return scalar(*v, join(path, key)).value_or("");
  }

  std::vector<std::string> string_list(const maybe_element& v, const std::string& path) {
    std::vector<std::string> out;
    if (!given(v)) return out;
    simdjson::dom::array items;
    if (v->get(items) != simdjson::SUCCESS) {
      add(path, "must be a list of strings");
      return out;
    }
    std::size_t index = 0;
    for (element item : items) {
      auto s = scalar(item, path + "[" + std::to_string(index++) + "]");
      if (s) out.push_back(std::move(*s));
    }
    return out;
  }

  string_pairs string_map(const maybe_element& v, const std::string& path) {
    string_pairs out;
    auto obj = object_at(v, path);
    if (!obj) return out;
    for (auto field : *obj) {
      auto s = scalar(field.value, join(path, field.key));
      if (s) out.emplace_back(std::string(field.key), std::move(*s));
    }
    return out;
  }

  std::optional<object> object_at(const maybe_element& v, const std::string& path) {
    if (!given(v)) return std::nullopt;
    object obj;
    if (v->get(obj) != simdjson::SUCCESS) {
      add(path, "must be a map");
      return std::nullopt;
    }
    return obj;
  }

  std::optional<bool> boolean(const object& obj, std::string_view key, std::string_view path) {
    auto v = member(obj, key);
    if (!given(v)) return std::nullopt;
    if (v->is_string()) {
      std::string_view s = text_of(*v);
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    add(join(path, key), "must be true or false");
    return std::nullopt;
  }

  std::optional<std::int64_t> integer(const object& obj, std::string_view key, std::string_view path) {
    auto v = member(obj, key);
    if (!given(v)) return std::nullopt;
    if (v->is_string()) {
      std::string_view s = text_of(*v);
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec == std::errc() && end == s.data() + s.size() && n >= 0 && n <= 4'294'967'295LL) return n;
    }
    add(join(path, key), "must be a non-negative integer");
    return std::nullopt;
  }
};

// consume: {from: key} or [{from: key}, …].
std::vector<std::string> consumed_keys(element consume) {
  std::vector<std::string> out;
  auto take = [&out](element v) {
    object obj;
    std::string_view from;
    if (v.get(obj) == simdjson::SUCCESS && obj.at_key("from").get(from) == simdjson::SUCCESS) out.emplace_back(from);
  };
  simdjson::dom::array items;
  if (consume.get(items) == simdjson::SUCCESS) {
    for (element v : items) take(v);
  } else {
    take(consume);
  }
  return out;
}

bool parse_port_number(std::string_view s, int& port) {
  int n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < 1 || n > 65535) return false;
  port = n;
  return true;
}

void check_ports(checker& c, const string_pairs& ports, const std::string& path,
                 std::vector<std::pair<std::string, std::string>>& names_by_container) {
  for (const auto& [host, container] : ports) {
    std::string field = checker::join(path, host);
    int number = 0;
    bool host_ok = contains_marker(host) || parse_port_number(host, number) || valid_port_name(host);
    if (!host_ok)
      c.add(field, "invalid port \"" + host.substr(0, 64) + "\": not a port number (1-65535), a port name or a marker");
    bool container_ok = contains_marker(container) || parse_port_number(container, number);
    if (!container_ok)
      c.add(field, "invalid port \"" + container.substr(0, 64) +
                       "\": the container side must be a port number (1-65535) or a marker");
    if (host_ok && container_ok && valid_port_name(host) && !contains_marker(host)) {
      for (const auto& [other_container, other_name] : names_by_container) {
        if (other_container == container && other_name != host) {
          c.add(field, "invalid port name: container port " + container + " already named \"" + other_name + "\"");
        }
      }
      names_by_container.emplace_back(container, host);
    }
  }
}

bool url_scheme_allowed(std::string_view url) {
  for (std::string_view scheme : {"https://", "http://", "ssh://", "git://", "file://"}) {
    if (url.starts_with(scheme)) return true;
  }
  return false;
}

void check_runtime(checker& c, const object& root, package_definition& def) {
  auto image = member(root, "image");
  auto vm = member(root, "vm");
  auto proton = member(root, "proton");
  bool has_image = given(image);
  bool has_vm = given(vm);
  bool has_proton = given(proton);
  int count = int(has_image) + int(has_vm) + int(has_proton);
  if (count == 0) {
    c.add("image", "no runtime: exactly one of image, vm or proton is required");
    return;
  }
  if (count > 1) {
    c.add(has_vm ? "vm" : "proton", "mixed runtimes: exactly one of image, vm or proton may be given");
    return;
  }
  if (has_image) {
    def.runtime = runtime_kind::container;
    if (image->is_string()) {
      def.image = text_of(*image);
    } else if (image->is_object()) {
      object obj = image->get_object().value_unsafe();
      std::string type = c.string_field(obj, "type", "image");
      if (!type.empty() && type != "oci")
        c.add("image.type", "unknown image type \"" + type.substr(0, 32) + "\" (only oci)");
      def.image = c.string_field(obj, "url", "image");
    } else {
      c.add("image", "must be a string or {type, url}");
    }
    if (def.image.empty() && (image->is_string() || image->is_object())) c.add("image", "must not be empty");
    if (has_control_characters(def.image) || def.image.find(' ') != std::string::npos) {
      c.add("image", "must not contain spaces or control characters");
    }
  } else if (has_vm) {
    def.runtime = runtime_kind::vm;
    def.vm = c.string_map(vm, "vm");
    bool has_vm_image = false;
    for (const auto& [key, value] : def.vm) has_vm_image |= key == "image" && !value.empty();
    if (!has_vm_image) c.add("vm.image", "is required");
  } else {
    def.runtime = runtime_kind::proton;
    def.proton = c.string_map(proton, "proton");
  }
}

void check_network(checker& c, const object& root, package_definition& def) {
  auto network = c.object_at(member(root, "network"), "network");
  if (!network) return;
  def.network.external = c.string_map(member(*network, "external"), "network.external");
  def.network.internal = c.string_map(member(*network, "internal"), "network.internal");
  def.network.domains = c.string_list(member(*network, "domains"), "network.domains");
  def.network.direct = c.string_list(member(*network, "direct"), "network.direct");
  def.network.tls_mode = c.string_map(member(*network, "tls_mode"), "network.tls_mode");
  std::vector<std::pair<std::string, std::string>> names;
  check_ports(c, def.network.external, "network.external", names);
  check_ports(c, def.network.internal, "network.internal", names);
  auto is_port_key = [&def](std::string_view key) {
    for (const auto* list : {&def.network.external, &def.network.internal}) {
      for (const auto& [host, container] : *list) {
        if (host == key) return true;
      }
    }
    return false;
  };
  for (std::size_t i = 0; i < def.network.direct.size(); ++i) {
    if (!is_port_key(def.network.direct[i]))
      c.add("network.direct[" + std::to_string(i) + "]", "names no port of network.external or network.internal");
  }
  for (const auto& [key, mode] : def.network.tls_mode) {
    std::string field = "network.tls_mode." + key;
    if (mode != "terminate" && mode != "passthrough") c.add(field, "must be terminate or passthrough");
    if (!is_port_key(key)) c.add(field, "names no port of network.external or network.internal");
    for (const auto& direct : def.network.direct) {
      if (direct == key) c.add(field, "a direct port cannot have a tls_mode");
    }
  }
  for (std::size_t i = 0; i < def.network.domains.size(); ++i) {
    const auto& d = def.network.domains[i];
    if (d.empty() || has_control_characters(d) || d.find_first_of(" /") != std::string::npos) {
      c.add("network.domains[" + std::to_string(i) + "]", "must be a domain name");
    }
  }
}

void check_volumes(checker& c, const object& root, package_definition& def) {
  auto volumes = c.object_at(member(root, "volumes"), "volumes");
  if (!volumes) return;
  for (auto field : *volumes) {
    std::string path = checker::join("volumes", field.key);
    volume_spec v;
    v.name = field.key;
    if (!valid_volume_name(v.name))
      c.add(path, "invalid volume name (letters, digits, '.', '_', '-'; starting with a letter or digit)");
    auto obj = c.object_at(field.value, path);
    if (!obj) {
      if (field.value.is_null()) c.add(path + ".mountpoint", "is required");
      continue;
    }
    v.mountpoint = c.string_field(*obj, "mountpoint", path);
    v.quota = c.string_field(*obj, "quota", path);
    v.archive = c.string_field(*obj, "archive", path);
    v.git = c.string_field(*obj, "git", path);
    v.uid = c.integer(*obj, "uid", path);
    v.gid = c.integer(*obj, "gid", path);
    v.shareable = c.boolean(*obj, "shareable", path).value_or(false);
    if (v.mountpoint.empty()) {
      c.add(path + ".mountpoint", "is required");
    } else if (!contains_marker(v.mountpoint) && v.mountpoint.front() != '/') {
      c.add(path + ".mountpoint", "must be an absolute path");
    }
    if (has_control_characters(v.mountpoint)) c.add(path + ".mountpoint", "must not contain control characters");
    if (!v.git.empty() && !contains_marker(v.git) && !url_scheme_allowed(v.git)) {
      c.add(path + ".git", "scheme must be http, https, ssh, git or file");
    }
    def.volumes.push_back(std::move(v));
  }
}

void check_questions(checker& c, const object& root, package_definition& def) {
  auto questions = c.object_at(member(root, "questions"), "questions");
  if (!questions) return;
  for (auto field : *questions) {
    std::string path = checker::join("questions", field.key);
    question_spec q;
    q.key = field.key;
    if (!valid_identifier(q.key))
      c.add(path, "invalid question key (letters, digits and '_', starting with a letter or digit)");
    auto obj = c.object_at(field.value, path);
    if (!obj) {
      if (field.value.is_null()) c.add(path + ".query", "is required");
      continue;
    }
    q.query = c.string_field(*obj, "query", path);
    if (q.query.empty()) c.add(path + ".query", "is required");
    q.type = c.string_field(*obj, "type", path);
    bool known = false;
    for (auto t : question_types) known |= q.type == t;
    if (!known) c.add(path + ".type", "unknown question type \"" + q.type.substr(0, 32) + "\"");
    if (auto d = member(*obj, "default"); given(d)) {
      if (auto s = c.scalar(*d, path + ".default")) q.default_value = std::move(*s);
    }
    q.optional = c.boolean(*obj, "optional", path).value_or(false);
    q.show_if = c.string_field(*obj, "show_if", path);
    if (auto o = member(*obj, "oauth"); given(o)) {
      if (!o->is_object()) {
        c.add(path + ".oauth", "must be a map");
      } else {
        q.oauth = simdjson::minify(*o);
      }
    }
    if (q.type == "oauth" && !q.oauth) c.add(path + ".oauth", "is required for type oauth");
    if (q.type == "port" && q.default_value && *q.default_value != "auto" && !contains_marker(*q.default_value)) {
      int port = 0;
      if (!parse_port_number(*q.default_value, port)) c.add(path + ".default", "invalid port: must be 1-65535 or auto");
    }
    def.questions.push_back(std::move(q));
  }
  for (const auto& q : def.questions) {
    if (q.show_if.empty()) continue;
    std::string field = "questions." + q.key + ".show_if";
    const question_spec* target = def.find_question(q.show_if);
    if (q.show_if == q.key) {
      c.add(field, "must not refer to the question itself");
    } else if (target == nullptr) {
      c.add(field, "names no question");
    } else if (target->type != "boolean") {
      c.add(field, "must name a boolean question");
    } else if (!target->show_if.empty()) {
      c.add(field, "must not name a question that has a show_if itself (no chains)");
    }
  }
}

void check_notes(checker& c, const object& root, package_definition& def) {
  auto notes = c.object_at(member(root, "notes"), "notes");
  if (!notes) return;
  for (auto field : *notes) {
    std::string path = checker::join("notes", field.key);
    note_spec n;
    n.label = field.key;
    if (field.value.is_string()) {
      n.value = text_of(field.value);
    } else if (auto obj = c.object_at(field.value, path)) {
      n.value = c.string_field(*obj, "value", path);
      n.type = c.string_field(*obj, "type", path);
      if (n.type != "" && n.type != "url" && n.type != "phone" && n.type != "email") {
        c.add(path + ".type", "must be url, phone or email");
      }
    }
    def.notes.push_back(std::move(n));
  }
}

void check_templates(checker& c, const object& root, package_definition& def) {
  auto templates = c.object_at(member(root, "templates"), "templates");
  if (!templates) return;
  for (auto field : *templates) {
    std::string path = checker::join("templates", field.key);
    template_spec t;
    t.name = field.key;
    if (!valid_volume_name(t.name)) c.add(path, "invalid template name (letters, digits, '.', '_', '-')");
    auto obj = c.object_at(field.value, path);
    if (!obj) continue;
    t.volume = c.string_field(*obj, "volume", path);
    t.path = c.string_field(*obj, "path", path);
    t.content = c.string_field(*obj, "content", path);
    if (t.volume.empty()) {
      c.add(path + ".volume", "is required");
    } else if (!contains_marker(t.volume) && def.find_volume(t.volume) == nullptr) {
      c.add(path + ".volume", "names no declared volume");
    }
    if (t.path.empty()) {
      c.add(path + ".path", "is required");
    } else if (!contains_marker(t.path) && !validate_relative_path(t.path)) {
      c.add(path + ".path", "must be a relative path without '..' of [A-Za-z0-9._-] components");
    }
    if (auto ok = check_file_template(t.content, path + ".content"); !ok) {
      for (const auto& e : ok.error().errors) c.add(e.field, e.message);
    }
    def.templates.push_back(std::move(t));
  }
}

void check_dependencies(checker& c, const object& root, package_definition& def) {
  auto deps = c.object_at(member(root, "dependencies"), "dependencies");
  if (!deps) return;
  for (auto field : *deps) {
    std::string path = checker::join("dependencies", field.key);
    dependency_spec d;
    d.key = field.key;
    if (!valid_identifier(d.key)) c.add(path, "invalid dependency key (letters, digits and '_')");
    auto obj = c.object_at(field.value, path);
    if (!obj) {
      if (field.value.is_null()) c.add(path + ".package", "is required");
      continue;
    }
    d.package = c.string_field(*obj, "package", path);
    d.repo = c.string_field(*obj, "repo", path);
    d.version = c.string_field(*obj, "version", path);
    d.responses = c.string_map(member(*obj, "responses"), path + ".responses");
    if (auto e = member(*obj, "expose"); given(e)) d.expose = simdjson::minify(*e);
    if (auto e = member(*obj, "consume"); given(e)) {
      d.consume = simdjson::minify(*e);
      d.consumes = consumed_keys(*e);
    }
    if (d.package.empty()) {
      c.add(path + ".package", "is required");
    } else if (!valid_package_name(d.package)) {
      c.add(path + ".package", "invalid package name");
    }
    if (!d.repo.empty() && !valid_package_name(d.repo)) c.add(path + ".repo", "invalid repository name");
    if (!d.version.empty() && !valid_version(d.version)) c.add(path + ".version", "invalid version");
    def.dependencies.push_back(std::move(d));
  }
}

void check_seeding(checker& c, const object& root, package_definition& def) {
  if (auto list = member(root, "archives"); given(list)) {
    simdjson::dom::array items;
    if (list->get(items) != simdjson::SUCCESS) {
      c.add("archives", "must be a list");
    } else {
      std::size_t i = 0;
      for (element item : items) {
        std::string path = "archives[" + std::to_string(i++) + "]";
        if (auto obj = c.object_at(item, path)) {
          archive_spec a{c.string_field(*obj, "image", path), c.string_field(*obj, "directory", path),
                         c.string_field(*obj, "volume", path)};
          if (a.image.empty()) c.add(path + ".image", "is required");
          if (!a.volume.empty() && !contains_marker(a.volume) && def.find_volume(a.volume) == nullptr) {
            c.add(path + ".volume", "names no declared volume");
          }
          def.archives.push_back(std::move(a));
        }
      }
    }
  }
  if (auto list = member(root, "git_sources"); given(list)) {
    simdjson::dom::array items;
    if (list->get(items) != simdjson::SUCCESS) {
      c.add("git_sources", "must be a list");
    } else {
      std::size_t i = 0;
      for (element item : items) {
        std::string path = "git_sources[" + std::to_string(i++) + "]";
        if (auto obj = c.object_at(item, path)) {
          git_source_spec g{c.string_field(*obj, "url", path), c.string_field(*obj, "branch", path),
                            c.string_field(*obj, "volume", path)};
          if (g.url.empty()) {
            c.add(path + ".url", "is required");
          } else if (!contains_marker(g.url) && !url_scheme_allowed(g.url)) {
            c.add(path + ".url", "scheme must be http, https, ssh, git or file");
          }
          if (!g.volume.empty() && !contains_marker(g.volume) && def.find_volume(g.volume) == nullptr) {
            c.add(path + ".volume", "names no declared volume");
          }
          def.git_sources.push_back(std::move(g));
        }
      }
    }
  }
}

}  // namespace

result<package_definition> parse_definition(std::string_view yaml, const parse_limits& limits) {
  auto document = yaml_to_json(yaml, limits);
  if (!document) return document.error();
  // A parser of its own: a caller may still be reading a document of the thread's parser
  // (core/json_reader.hpp), e.g. the request body this YAML came in.
  simdjson::dom::parser parser;
  element parsed;
  if (auto error = parser.parse(*document).get(parsed); error != simdjson::SUCCESS) {
    return problem::unprocessable("definition", error == simdjson::UTF8_ERROR
                                                    ? std::string("invalid YAML: text is not valid UTF-8")
                                                    : std::string("invalid YAML: ") + simdjson::error_message(error));
  }
  checker c;
  package_definition def;
  object root;
  if (parsed.get(root) != simdjson::SUCCESS) {
    c.add("definition", "a package definition must be a YAML map");
  } else {
    check_runtime(c, root, def);
    def.description = c.string_field(root, "description", "");
    def.entrypoint = c.string_list(member(root, "entrypoint"), "entrypoint");
    def.command = c.string_list(member(root, "command"), "command");
    def.environment = c.string_map(member(root, "environment"), "environment");
    for (const auto& [key, value] : def.environment) {
      bool ok = !key.empty() && !(key.front() >= '0' && key.front() <= '9');
      for (char ch : key) ok = ok && (is_alnum(ch) || ch == '_');
      if (!ok)
        c.add("environment." + key.substr(0, 64),
              "invalid variable name (letters, digits and '_', not starting with a digit)");
    }
    def.supplies = c.string_list(member(root, "supplies"), "supplies");
    def.post_update = c.string_list(member(root, "post_update"), "post_update");
    if (def.runtime == runtime_kind::vm && !def.post_update.empty())
      c.add("post_update", "not allowed for vm packages");
    check_network(c, root, def);
    check_volumes(c, root, def);
    check_questions(c, root, def);
    check_notes(c, root, def);
    check_templates(c, root, def);
    check_dependencies(c, root, def);
    check_seeding(c, root, def);
  }
  if (c.errors.empty()) return def;
  problem p(422, "invalid package definition: " + c.errors.front().field + ": " + c.errors.front().message +
                     (c.errors.size() > 1 ? " (and " + std::to_string(c.errors.size() - 1) + " more)" : ""));
  p.errors = std::move(c.errors);
  return p;
}

}  // namespace sc::packages
