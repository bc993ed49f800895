#include "core/packages/preview.hpp"

#include <algorithm>
#include <set>
#include <type_traits>

#include "core/json_writer.hpp"

namespace sc::packages {

namespace {

void write_ports(json_writer& w, const std::vector<port_mapping>& ports) {
  w.begin_array();
  for (const auto& p : ports) {
    w.begin_object().key("external").value(p.host).key("internal").value(p.container);
    if (!p.name.empty()) w.key("name").value(p.name);
    w.end_object();
  }
  w.end_array();
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace

std::string install_preview(const preview_input& input) {
  const compiled_package& compiled = *input.compiled;
  std::string image = compiled.runtime == runtime_kind::proton ? std::string() : compiled.image;
  for (const auto& [key, value] : compiled.proton) {
    if (key == "app_image") image = value;
  }
  std::uint64_t total_quota = 0;
  std::size_t migrated_count = 0;
  for (const auto& v : compiled.volumes) {
    total_quota += v.quota_bytes;
    migrated_count += input.installed != nullptr && input.installed->find_volume(v.name) != nullptr ? 1 : 0;
  }
  // The original keeps 5 % of the disk in reserve.
  std::uint64_t reserve = input.disk.total / 20;
  std::uint64_t usable = input.disk.available > reserve ? input.disk.available - reserve : 0;

  std::vector<std::string> sentences;
  if (input.upgrading_from) {
    sentences.push_back("Upgrade " + input.name + " from " + *input.upgrading_from + " to " + input.version);
  } else {
    sentences.push_back("Install " + input.name + " " + input.version);
  }
  if (!image.empty()) sentences.push_back("Image: " + image);
  if (compiled.runtime == runtime_kind::vm) {
    sentences.push_back("Runs as a virtual machine");
    std::string missing;
    for (const auto& m : input.vm_host_missing) missing += (missing.empty() ? "" : "; ") + m;
    sentences.push_back(missing.empty() ? "VM packages cannot be installed by this controller yet"
                                        : "This host cannot run virtual machines: " + missing);
  }
  std::string volume_sentence = plural(compiled.volumes.size(), "volume", "volumes");
  if (migrated_count > 0)
    volume_sentence += " (" + std::to_string(migrated_count) + " kept from the installed version)";
  sentences.push_back(volume_sentence);
  std::size_t port_count = compiled.external_ports.size() + compiled.internal_ports.size();
  if (port_count > 0) sentences.push_back(plural(port_count, "port mapping", "port mappings"));
  if (!compiled.dependencies.empty())
    sentences.push_back(plural(compiled.dependencies.size(), "dependency", "dependencies"));
  if (total_quota > usable) sentences.push_back("The volume quotas exceed the free disk space");
  std::string summary;
  for (const auto& s : sentences) {
    if (!summary.empty()) summary += ". ";
    summary += s;
  }
  summary += ".";

  return json_string([&](json_writer& w) {
    w.begin_object().key("repo").value(input.repo).key("name").value(input.name);
    w.key("version").value(input.version).key("description").value(compiled.description);
    w.key("image").value(image).key("runtime").value(to_string(compiled.runtime));
    w.key("volumes").begin_array();
    for (const auto& v : compiled.volumes) {
      const bool migrated = input.installed != nullptr && input.installed->find_volume(v.name) != nullptr;
      w.begin_object().key("name").value(v.name).key("mountpoint").value(v.mountpoint);
      if (!v.quota.empty()) w.key("quota").value(v.quota);
      w.key("migrated").value(migrated).key("fresh").value(!migrated).end_object();
    }
    w.end_array();
    w.key("external_ports");
    write_ports(w, compiled.external_ports);
    w.key("internal_ports");
    write_ports(w, compiled.internal_ports);
    if (input.upgrading_from) w.key("upgrading_from").value(*input.upgrading_from);
    w.key("has_questions").value(!input.definition->questions.empty());
    w.key("disk_usage").begin_object().key("total").value(input.disk.total).key("used").value(input.disk.used);
    w.key("available").value(input.disk.available).end_object();
    w.key("total_quota").value(total_quota).key("quota_exceeds_disk").value(total_quota > usable);
    w.key("summary").value(summary);
    if (compiled.runtime == runtime_kind::vm) {
      json_members vm;
      for (const auto& [key, value] : compiled.vm) vm.set_string(key, value);
      w.key("vm");
      vm.write(w);
      w.key("vm_host_missing").value(input.vm_host_missing);
    }
    if (!input.upgrade.empty()) w.key("upgrade").raw(input.upgrade);
    w.end_object();
  });
}

schema::type install_preview_schema() {
  using namespace schema;
  auto ports = array(object({{"external", integer()}, {"internal", integer()}, optional("name", string())}));
  return component(
      "package_install_preview",
      object({{"repo", string()},
              {"name", string()},
              {"version", string()},
              {"description", string()},
              {"image", string()},
              {"runtime", enumeration({"container", "vm", "proton"})},
              {"volumes", array(object({{"name", string()},
                                        {"mountpoint", string()},
                                        optional("quota", string()),
                                        {"migrated", boolean()},
                                        {"fresh", boolean()}}))},
              {"external_ports", ports},
              {"internal_ports", ports},
              optional("upgrading_from", string()),
              {"has_questions", boolean()},
              {"disk_usage", object({{"total", integer(0)}, {"used", integer(0)}, {"available", integer(0)}})},
              {"total_quota", integer(0)},
              {"quota_exceeds_disk", boolean()},
              {"summary", string()},
              optional("vm", map(string())),
              optional("vm_host_missing", array(string())),
              optional("upgrade", upgrade_diff_schema())}));
}

std::vector<std::string> line_diff(std::string_view before, std::string_view after) {
  auto split = [](std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
      auto end = text.find('\n');
      lines.push_back(text.substr(0, end));
      if (end == std::string_view::npos) break;
      text.remove_prefix(end + 1);
    }
    return lines;
  };
  const auto a = split(before);
  const auto b = split(after);
  // Unit files are tens of lines: the quadratic table is small.
  std::vector<std::vector<std::size_t>> common(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      common[i][j] = a[i] == b[j] ? common[i + 1][j + 1] + 1 : std::max(common[i + 1][j], common[i][j + 1]);
    }
  }
  std::vector<std::string> out;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i;
      ++j;
    } else if (i < a.size() && (j == b.size() || common[i + 1][j] >= common[i][j + 1])) {
      out.push_back("-" + std::string(a[i++]));  // removals before additions, as diff prints them
    } else {
      out.push_back("+" + std::string(b[j++]));
    }
  }
  return out;
}

std::string upgrade_diff(const upgrade_diff_input& input) {
  const install_plan& from = *input.from;
  const install_plan& to = *input.to;
  // Volumes by "<container role>/<name>": the main container's by name alone.
  auto volume_names = [](const install_plan& plan) {
    std::set<std::string> names;
    for (const auto& c : plan.containers) {
      std::string prefix;
      if (&c != &plan.main()) {
        const auto& effective = c.ref.effective_name;
        auto dep = effective.rfind("--dep--");
        prefix = (dep == std::string::npos ? effective : effective.substr(dep + 7)) + "/";
      }
      for (const auto& v : c.volumes) names.insert(prefix + v.name);
    }
    return names;
  };
  auto old_volumes = volume_names(from);
  auto new_volumes = volume_names(to);
  std::vector<std::string> moved;
  std::vector<std::string> fresh;
  std::vector<std::string> dropped;
  for (const auto& v : new_volumes) (old_volumes.contains(v) ? moved : fresh).push_back(v);
  for (const auto& v : old_volumes) {
    if (!new_volumes.contains(v)) dropped.push_back(v);
  }
  auto difference = [](const auto& left, const auto& right) {
    std::vector<std::decay_t<decltype(*left.begin())>> only;
    for (const auto& x : left) {
      if (std::find(right.begin(), right.end(), x) == right.end()) only.push_back(x);
    }
    return only;
  };
  auto old_ports = from.host_ports();
  auto new_ports = to.host_ports();
  auto question_keys = [](const package_definition* def) {
    std::vector<std::string> keys;
    if (def != nullptr) {
      for (const auto& q : def->questions) keys.push_back(q.key);
    }
    return keys;
  };
  auto old_questions = question_keys(input.from_definition);
  auto new_questions = question_keys(input.to_definition);
  auto numbers = [](json_writer& w, const auto& list) {
    w.begin_array();
    for (auto n : list) w.value(static_cast<std::int64_t>(n));
    w.end_array();
  };

  return json_string([&](json_writer& w) {
    w.begin_object().key("volumes").begin_object().key("moved").value(moved).key("new").value(fresh);
    w.key("dropped").value(dropped).end_object();
    w.key("ports").begin_object().key("added");
    numbers(w, difference(new_ports, old_ports));
    w.key("removed");
    numbers(w, difference(old_ports, new_ports));
    w.end_object();
    w.key("questions").begin_object().key("added").value(difference(new_questions, old_questions));
    w.key("removed").value(difference(old_questions, new_questions)).end_object();
    // Units pair up by position among their package's containers (names carry the version).
    w.key("units").begin_array();
    std::size_t count = std::max(input.from_units.size(), input.to_units.size());
    for (std::size_t i = 0; i < count; ++i) {
      const auto* before = i < input.from_units.size() ? &input.from_units[i] : nullptr;
      const auto* after = i < input.to_units.size() ? &input.to_units[i] : nullptr;
      auto lines = line_diff(before != nullptr ? before->second : "", after != nullptr ? after->second : "");
      if (lines.empty()) continue;
      w.begin_object();
      if (before != nullptr) w.key("from").value(before->first);
      if (after != nullptr) w.key("to").value(after->first);
      w.key("diff").value(lines).end_object();
    }
    w.end_array().end_object();
  });
}

schema::type upgrade_diff_schema() {
  using namespace schema;
  auto added_removed = [](const type& item) { return object({{"added", array(item)}, {"removed", array(item)}}); };
  return component(
      "package_upgrade_diff",
      object({{"volumes", object({{"moved", array(string())}, {"new", array(string())}, {"dropped", array(string())}})},
              {"ports", added_removed(integer())},
              {"questions", added_removed(string())},
              {"units",
               array(object({optional("from", string()), optional("to", string()), {"diff", array(string())}}))}}));
}

}  // namespace sc::packages
