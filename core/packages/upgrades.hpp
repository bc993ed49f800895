#pragma once
// The upgrade list (behavior-ops.md §6.5, GET /packages/upgrades): the installed packages whose
// repository now offers a higher version, or whose installed version's definition changed in the
// repository since it was installed. And the text that identifies one list: its hex SHA-256 is the
// `dismissed_upgrades_hash` setting (core has no crypto; the caller hashes).
//
// Pure: the caller looks each install record up in its catalog and passes what it found.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/packages/plan.hpp"

namespace sc::packages {

// One install record (a package, or an instance of one) beside what its repository holds now.
// The views must outlive the find_upgrades call.
struct installed_package {
  package_ref package;                  // as installed: repo, name, version, effective name
  std::string_view installed_manifest;  // the definition's YAML the record was installed from
  // The repository's current file for package.version; nullopt when the repository no longer has it.
  std::optional<std::string_view> repository_manifest;
  // The repository's highest version of repo/name among the definitions that parse; "" when none.
  std::string_view latest_version;
};

struct package_upgrade {
  std::string repo;
  std::string name;      // the package name, never an instance's effective name
  std::string instance;  // "" for the package itself; `c1` for the instance `name-c1`
  std::string installed_version;
  // The repository's highest version when it is higher than the installed one; otherwise the
  // installed version (an entry listed only because its definition changed, or one whose
  // repository now has only lower versions: neither is an offer to downgrade).
  std::string latest_version;
  bool changed = false;

  bool operator==(const package_upgrade&) const = default;
};

// True when the repository's definition of an installed version differs from the one installed,
// by content (git rewrites a file it updates), or the repository no longer has it.
bool definition_changed(std::string_view installed_manifest,
                        std::optional<std::string_view> repository_manifest) noexcept;

// The entries of `installed` with a higher version in their repository or a changed definition,
// sorted by repo, then name, then instance (the package itself before its instances).
std::vector<package_upgrade> find_upgrades(std::span<const installed_package> installed);

// One line `repo/name@installed->latest\n` per upgrade, in list order; an instance is named by its
// effective name (`repo/web-c1@1.0->2.0`), so two instances make two distinct lines.
std::string upgrades_hash_text(std::span<const package_upgrade> upgrades);

}  // namespace sc::packages
