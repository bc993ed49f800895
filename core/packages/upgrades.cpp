#include "core/packages/upgrades.hpp"

#include <algorithm>
#include <tuple>

#include "core/packages/version.hpp"

namespace sc::packages {

bool definition_changed(std::string_view installed_manifest,
                        std::optional<std::string_view> repository_manifest) noexcept {
  return !repository_manifest || *repository_manifest != installed_manifest;
}

std::vector<package_upgrade> find_upgrades(std::span<const installed_package> installed) {
  std::vector<package_upgrade> out;
  for (const auto& entry : installed) {
    const package_ref& ref = entry.package;
    const bool higher = !entry.latest_version.empty() && compare_versions(entry.latest_version, ref.version) > 0;
    const bool changed = definition_changed(entry.installed_manifest, entry.repository_manifest);
    if (!higher && !changed) continue;
    package_upgrade upgrade;
    upgrade.repo = ref.repo;
    upgrade.name = ref.name;
    // An instance's effective name is `<name>-<instance>` (instance_effective_name).
    if (ref.effective_name != ref.name && ref.effective_name.size() > ref.name.size() + 1) {
      upgrade.instance = ref.effective_name.substr(ref.name.size() + 1);
    }
    upgrade.installed_version = ref.version;
    upgrade.latest_version = higher ? std::string(entry.latest_version) : ref.version;
    upgrade.changed = changed;
    out.push_back(std::move(upgrade));
  }
  std::sort(out.begin(), out.end(), [](const package_upgrade& a, const package_upgrade& b) {
    return std::tie(a.repo, a.name, a.instance) < std::tie(b.repo, b.name, b.instance);
  });
  return out;
}

std::string upgrades_hash_text(std::span<const package_upgrade> upgrades) {
  std::string text;
  for (const auto& u : upgrades) {
    text += u.repo;
    text += '/';
    text += instance_effective_name(u.name, u.instance);
    text += '@';
    text += u.installed_version;
    text += "->";
    text += u.latest_version;
    text += '\n';
  }
  return text;
}

}  // namespace sc::packages
