#pragma once
// Preflight (DESIGN.md "Apps", issue 13): every check that can fail an install, made before the
// first side effect, as plain problem+json. The facts from outside (what the host has bound, which
// images are present, free space) are gathered by adapters first and passed in; the decision is
// pure. Answers (422 with per-question `errors`) and unknown packages (404) are refused earlier, by
// planning and by the catalog.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/packages/plan.hpp"
#include "core/problem.hpp"

namespace sc::packages {

struct preflight_facts {
  // Other installed packages' plans (the package itself may be among them: an upgrade or a
  // reinstall, which never conflicts with itself).
  std::vector<const install_plan*> installed;
  bool operation_in_flight = false;              // on the same package
  std::set<int> host_ports_bound;                // of the plan's host ports, those something listens on now
  std::set<std::string> images_missing;          // of the plan's images, those neither present nor pullable
  std::optional<std::uint64_t> available_bytes;  // free space on the volume filesystem; nullopt: unknown
  std::uint64_t reserved_bytes = 0;              // kept free (a share of the disk): quota must fit below
};

// The first failure, in this order: 409 another operation on the package; 409 a generated name
// collides with an installed package's; 409 a host port claimed by an installed package; 409 a
// host port bound on the host right now; 422 an image that is missing (naming it, field "image");
// 422 quotas beyond the free space.
result<void> preflight(const install_plan& plan, const preflight_facts& facts);

// Every distinct image the plan runs, sorted.
std::vector<std::string> images_of(const install_plan& plan);

}  // namespace sc::packages
