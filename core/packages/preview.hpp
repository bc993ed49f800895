#pragma once
// Install preview (behavior-ops.md §6.5 "install-preview"), computed from the compiled package —
// so templated and named ports appear, and quotas are byte counts — not from raw YAML as the
// original did. No side effects.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/packages/compile.hpp"
#include "core/packages/plan.hpp"
#include "core/schema.hpp"

namespace sc::packages {

struct disk_usage {
  std::uint64_t total = 0;
  std::uint64_t used = 0;
  std::uint64_t available = 0;
};

struct preview_input {
  std::string repo;
  std::string name;
  std::string version;
  const package_definition* definition = nullptr;
  const compiled_package* compiled = nullptr;
  // The installed version this would upgrade from, and its definition (volume migration); empty
  // while nothing is installed.
  std::optional<std::string> upgrading_from;
  const package_definition* installed = nullptr;
  disk_usage disk;
  // A VM package: what the host lacks to run one (KVM, QEMU), as sentences naming each.
  std::vector<std::string> vm_host_missing;
  // The upgrade's dry run (upgrade_diff's JSON), placed as "upgrade" when not empty.
  std::string upgrade;
};

// {"repo","name","version","description","image","runtime","volumes":[…],"external_ports":[…],
//  "internal_ports":[…],"upgrading_from"?,"has_questions","disk_usage":{…},"total_quota",
//  "quota_exceeds_disk","summary","vm"?,"vm_host_missing"?:[…],"upgrade"?:{…}}. VM packages cannot be installed
// (issue 16 keeps them out of scope); the summary says why, naming what the host lacks.
std::string install_preview(const preview_input& input);
// What install_preview writes (POST /packages/install-preview).
schema::type install_preview_schema();

// An upgrade as a dry run (issue 14): what the transaction would do to the installed version.
struct upgrade_diff_input {
  const install_plan* from = nullptr;  // the installed version's plan
  const install_plan* to = nullptr;    // the new version's, planned as the install would
  const package_definition* from_definition = nullptr;
  const package_definition* to_definition = nullptr;
  // The unit files each would write, by unit name.
  std::vector<std::pair<std::string, std::string>> from_units;
  std::vector<std::pair<std::string, std::string>> to_units;
};

// {"volumes":{"moved":[…],"new":[…],"dropped":[…]},  (names; containers' volumes as
//  "<container>/<volume>" for dependencies)
//  "ports":{"added":[…],"removed":[…]},               (host ports)
//  "questions":{"added":[…],"removed":[…]},
//  "units":[{"from"?,"to"?,"diff":["-old line","+new line",…]}]}  (only units that differ)
std::string upgrade_diff(const upgrade_diff_input& input);
schema::type upgrade_diff_schema();

// The lines of `before` and `after` that differ, as "-line" and "+line" in order (a longest
// common subsequence over lines; the rest is unchanged).
std::vector<std::string> line_diff(std::string_view before, std::string_view after);

}  // namespace sc::packages
