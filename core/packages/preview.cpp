#include "core/packages/preview.hpp"

#include <boost/json/array.hpp>

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

}  // namespace sc::packages
