#pragma once
// Install preview (behavior-ops.md §6.5 "install-preview"), computed from the compiled package —
// so templated and named ports appear, and quotas are byte counts — not from raw YAML as the
// original did. No side effects.

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/packages/compile.hpp"

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
};

// {"repo","name","version","description","image","runtime","volumes":[…],"external_ports":[…],
//  "internal_ports":[…],"upgrading_from"?,"has_questions","disk_usage":{…},"total_quota",
//  "quota_exceeds_disk","summary","vm"?,"vm_host_missing"?:[…]}. VM packages cannot be installed
// (issue 16 keeps them out of scope); the summary says why, naming what the host lacks.
boost::json::object install_preview(const preview_input& input);

}  // namespace sc::packages
