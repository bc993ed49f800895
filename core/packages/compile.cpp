#include "core/packages/compile.hpp"

#include <charconv>

#include "core/names.hpp"
#include "core/packages/questions.hpp"

namespace sc::packages {

std::string normalize_image(std::string_view image) {
  std::string out(image);
  auto slash = out.find('/');
  if (slash == std::string::npos) {
    out = "docker.io/library/" + out;
  } else {
    std::string_view first = std::string_view(out).substr(0, slash);
    if (first.find('.') == std::string_view::npos && first.find(':') == std::string_view::npos &&
        first != "localhost") {
      out = "docker.io/" + out;
    }
  }
  auto last_slash = out.rfind('/');
  std::string_view tail = std::string_view(out).substr(last_slash == std::string::npos ? 0 : last_slash + 1);
  if (tail.find(':') == std::string_view::npos && tail.find('@') == std::string_view::npos) out += ":latest";
  return out;
}

namespace {

struct compiler {
  const package_definition& def;
  std::vector<field_error> answer_errors;
  std::vector<field_error> errors;
  marker_values markers;

  std::string sub(std::string_view text) { return substitute_markers(text, markers, escape_mode::keep); }

  // Values that become unit-file lines or argv elements.
  std::string unit_value(std::string_view text, std::string field) {
    std::string out = sub(text);
    if (has_control_characters(out)) errors.push_back({std::move(field), "must not contain control characters"});
    return out;
  }

  std::optional<int> port(const std::string& text, const std::string& field) {
    int n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 65535) {
      errors.push_back({field, "invalid port \"" + text.substr(0, 64) + "\" (must be 1-65535)"});
      return std::nullopt;
    }
    return n;
  }

  std::vector<port_mapping> ports(const string_pairs& raw, const std::string& path) {
    std::vector<port_mapping> out;
    for (const auto& [raw_host, raw_container] : raw) {
      std::string field = path + "." + raw_host;
      std::string host = unit_value(raw_host, field);
      std::string container = unit_value(raw_container, field);
      auto container_port = port(container, field);
      if (!container_port) continue;
      port_mapping m;
      m.container = *container_port;
      m.key = host;
      if (valid_port_name(host)) {
        m.host = m.container;
        m.name = host;
      } else if (auto host_port = port(host, field)) {
        m.host = *host_port;
      } else {
        continue;
      }
      out.push_back(std::move(m));
    }
    return out;
  }
};

}  // namespace

result<compiled_package> compile(const package_definition& def, const compile_context& context,
                                 const marker_values& answers) {
  compiler c{def, {}, {}, {}};
  compiled_package out;

  // Answers first: the original's messages, every problem collected.
  for (const auto& [key, value] : answers) {
    if (def.find_question(key) == nullptr)
      c.answer_errors.push_back({key, "response does not match a prompt question"});
  }
  for (const auto& q : def.questions) {
    bool hidden = false;
    if (!q.show_if.empty()) {
      auto target = answers.find(q.show_if);
      hidden = target == answers.end() || parse_bool(target->second) != std::optional<bool>(true);
    }
    auto given = answers.find(q.key);
    if (hidden || (q.optional && (given == answers.end() || given->second.empty()))) {
      out.answers[q.key] = "";
      continue;
    }
    if (given == answers.end()) {
      c.answer_errors.push_back({q.key, "question has no response"});
      continue;
    }
    if (given->second.empty()) {
      c.answer_errors.push_back({q.key, "empty response"});
      continue;
    }
    auto normalized = normalize_answer(q, given->second);
    if (!normalized) {
      c.answer_errors.push_back({q.key, "response does not match the expected type"});
      continue;
    }
    out.answers[q.key] = std::move(*normalized);
  }
  if (!c.answer_errors.empty()) {
    problem p(422, std::to_string(c.answer_errors.size()) + " response validation error(s)");
    p.errors = std::move(c.answer_errors);
    return p;
  }

  c.markers = out.answers;
  c.markers["PACKAGE_DNS"] = context.effective_name + "." + context.repo + "." + context.dns_tld;
  c.markers["LOCAL_EXTERNAL_HOST"] = context.external_host;
  c.markers["LOCAL_INTERNAL_HOST"] = context.internal_host;

  out.runtime = def.runtime;
  out.description = def.description;
  out.supplies = def.supplies;
  out.image = c.unit_value(def.image, "image");
  if (def.runtime == runtime_kind::container) {
    if (out.image.empty() || out.image.find(' ') != std::string::npos) {
      c.errors.push_back({"image", "must be a non-empty image reference without spaces"});
    } else {
      out.image_reference = normalize_image(out.image);
    }
  }
  for (const auto& [key, value] : def.vm) out.vm.emplace_back(key, c.unit_value(value, "vm." + key));
  for (const auto& [key, value] : def.proton) out.proton.emplace_back(key, c.unit_value(value, "proton." + key));
  for (std::size_t i = 0; i < def.entrypoint.size(); ++i) {
    out.entrypoint.push_back(c.unit_value(def.entrypoint[i], "entrypoint[" + std::to_string(i) + "]"));
  }
  for (std::size_t i = 0; i < def.command.size(); ++i) {
    out.command.push_back(c.unit_value(def.command[i], "command[" + std::to_string(i) + "]"));
  }
  for (const auto& [key, value] : def.environment) {
    out.environment.emplace_back(key, c.unit_value(value, "environment." + key));
  }
  for (std::size_t i = 0; i < def.post_update.size(); ++i) {
    out.post_update.push_back(c.unit_value(def.post_update[i], "post_update[" + std::to_string(i) + "]"));
  }

  out.external_ports = c.ports(def.network.external, "network.external");
  out.internal_ports = c.ports(def.network.internal, "network.internal");
  for (std::size_t i = 0; i < def.network.domains.size(); ++i) {
    out.domains.push_back(c.unit_value(def.network.domains[i], "network.domains[" + std::to_string(i) + "]"));
  }
  out.direct = def.network.direct;
  out.tls_mode = def.network.tls_mode;

  for (const auto& v : def.volumes) {
    std::string path = "volumes." + v.name;
    compiled_volume cv;
    cv.name = v.name;
    cv.mountpoint = c.unit_value(v.mountpoint, path + ".mountpoint");
    if (cv.mountpoint.empty() || cv.mountpoint.front() != '/')
      c.errors.push_back({path + ".mountpoint", "must be an absolute path"});
    cv.quota = c.unit_value(v.quota, path + ".quota");
    if (!cv.quota.empty()) {
      if (auto bytes = parse_bytes(cv.quota)) {
        cv.quota_bytes = *bytes;
      } else {
        c.errors.push_back({path + ".quota", "invalid size \"" + cv.quota.substr(0, 32) + "\""});
      }
    }
    cv.archive = c.unit_value(v.archive, path + ".archive");
    cv.git = c.unit_value(v.git, path + ".git");
    cv.uid = v.uid;
    cv.gid = v.gid;
    cv.shareable = v.shareable;
    out.volumes.push_back(std::move(cv));
  }

  for (const auto& t : def.templates) {
    std::string path = "templates." + t.name;
    template_spec ct{t.name, c.unit_value(t.volume, path + ".volume"), c.unit_value(t.path, path + ".path"),
                     c.sub(t.content)};
    if (def.find_volume(ct.volume) == nullptr) c.errors.push_back({path + ".volume", "names no declared volume"});
    if (!validate_relative_path(ct.path)) c.errors.push_back({path + ".path", "must be a relative path without '..'"});
    out.templates.push_back(std::move(ct));
  }

  for (const auto& d : def.dependencies) {
    dependency_spec cd = d;
    for (auto& [key, value] : cd.responses) value = c.unit_value(value, "dependencies." + d.key + ".responses." + key);
    out.dependencies.push_back(std::move(cd));
  }

  // Notes are shown, not executed: one pass that also collapses escapes (ssh://git@@@PACKAGE_DNS@).
  for (const auto& n : def.notes) {
    note_spec cn{n.label, substitute_markers(n.value, c.markers, escape_mode::collapse), n.type};
    out.notes.push_back(std::move(cn));
  }

  if (!c.errors.empty()) {
    problem p(422, "package does not compile: " + c.errors.front().field + ": " + c.errors.front().message);
    p.errors = std::move(c.errors);
    return p;
  }
  return out;
}

}  // namespace sc::packages
