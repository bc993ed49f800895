#include "core/packages/preview.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <set>

namespace sc::packages {

namespace json = boost::json;

namespace {

json::array port_list(const std::vector<port_mapping>& ports) {
  json::array out;
  for (const auto& p : ports) {
    json::object entry;
    entry["external"] = p.host;
    entry["internal"] = p.container;
    if (!p.name.empty()) entry["name"] = p.name;
    out.emplace_back(std::move(entry));
  }
  return out;
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace

json::object install_preview(const preview_input& input) {
  const compiled_package& compiled = *input.compiled;
  json::object out;
  out["repo"] = input.repo;
  out["name"] = input.name;
  out["version"] = input.version;
  out["description"] = compiled.description;
  std::string image = compiled.runtime == runtime_kind::proton ? std::string() : compiled.image;
  for (const auto& [key, value] : compiled.proton) {
    if (key == "app_image") image = value;
  }
  out["image"] = image;
  out["runtime"] = to_string(compiled.runtime);

  json::array volumes;
  std::uint64_t total_quota = 0;
  std::size_t migrated_count = 0;
  for (const auto& v : compiled.volumes) {
    json::object entry;
    entry["name"] = v.name;
    entry["mountpoint"] = v.mountpoint;
    if (!v.quota.empty()) entry["quota"] = v.quota;
    bool migrated = input.installed != nullptr && input.installed->find_volume(v.name) != nullptr;
    migrated_count += migrated ? 1 : 0;
    entry["migrated"] = migrated;
    entry["fresh"] = !migrated;
    total_quota += v.quota_bytes;
    volumes.emplace_back(std::move(entry));
  }
  out["volumes"] = std::move(volumes);
  out["external_ports"] = port_list(compiled.external_ports);
  out["internal_ports"] = port_list(compiled.internal_ports);
  if (input.upgrading_from) out["upgrading_from"] = *input.upgrading_from;
  out["has_questions"] = !input.definition->questions.empty();
  json::object disk;
  disk["total"] = input.disk.total;
  disk["used"] = input.disk.used;
  disk["available"] = input.disk.available;
  out["disk_usage"] = std::move(disk);
  out["total_quota"] = total_quota;
  // The original keeps 5 % of the disk in reserve.
  std::uint64_t reserve = input.disk.total / 20;
  std::uint64_t usable = input.disk.available > reserve ? input.disk.available - reserve : 0;
  out["quota_exceeds_disk"] = total_quota > usable;

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
  out["summary"] = summary;

  if (compiled.runtime == runtime_kind::vm) {
    json::object vm;
    for (const auto& [key, value] : compiled.vm) vm[key] = value;
    out["vm"] = std::move(vm);
    json::array missing;
    for (const auto& m : input.vm_host_missing) missing.emplace_back(m);
    out["vm_host_missing"] = std::move(missing);
  }
  return out;
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

json::object upgrade_diff(const upgrade_diff_input& input) {
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
  json::array moved;
  json::array fresh;
  json::array dropped;
  for (const auto& v : new_volumes) (old_volumes.contains(v) ? moved : fresh).emplace_back(v);
  for (const auto& v : old_volumes) {
    if (!new_volumes.contains(v)) dropped.emplace_back(v);
  }
  json::object out;
  out["volumes"] =
      json::object{{"moved", std::move(moved)}, {"new", std::move(fresh)}, {"dropped", std::move(dropped)}};

  auto difference = [](const auto& left, const auto& right) {
    json::array only;
    for (const auto& x : left) {
      if (std::find(right.begin(), right.end(), x) == right.end()) only.emplace_back(x);
    }
    return only;
  };
  auto old_ports = from.host_ports();
  auto new_ports = to.host_ports();
  out["ports"] =
      json::object{{"added", difference(new_ports, old_ports)}, {"removed", difference(old_ports, new_ports)}};

  auto question_keys = [](const package_definition* def) {
    std::vector<std::string> keys;
    if (def != nullptr) {
      for (const auto& q : def->questions) keys.push_back(q.key);
    }
    return keys;
  };
  auto old_questions = question_keys(input.from_definition);
  auto new_questions = question_keys(input.to_definition);
  out["questions"] = json::object{{"added", difference(new_questions, old_questions)},
                                  {"removed", difference(old_questions, new_questions)}};

  // Units pair up by position among their package's containers (names carry the version).
  json::array units;
  std::size_t count = std::max(input.from_units.size(), input.to_units.size());
  for (std::size_t i = 0; i < count; ++i) {
    const auto* before = i < input.from_units.size() ? &input.from_units[i] : nullptr;
    const auto* after = i < input.to_units.size() ? &input.to_units[i] : nullptr;
    auto lines = line_diff(before != nullptr ? before->second : "", after != nullptr ? after->second : "");
    if (lines.empty()) continue;
    json::object unit;
    if (before != nullptr) unit["from"] = before->first;
    if (after != nullptr) unit["to"] = after->first;
    json::array diff;
    for (auto& line : lines) diff.emplace_back(std::move(line));
    unit["diff"] = std::move(diff);
    units.emplace_back(std::move(unit));
  }
  out["units"] = std::move(units);
  return out;
}

}  // namespace sc::packages
