#include "core/packages/preflight.hpp"

#include <algorithm>

namespace sc::packages {

namespace {

std::string gib(std::uint64_t bytes) {
  // One decimal is enough to tell a person how far off they are.
  std::uint64_t tenths = bytes / ((1ull << 30) / 10);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " GiB";
}

}  // namespace

std::vector<std::string> images_of(const install_plan& plan) {
  std::vector<std::string> out;
  for (const auto& c : plan.containers) out.push_back(c.image);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

result<void> preflight(const install_plan& plan, const preflight_facts& facts) {
  const auto& ref = plan.package;
  if (facts.operation_in_flight) {
    return problem::conflict("another operation on " + ref.repo + "/" + ref.effective_name + " is in progress");
  }
  for (const install_plan* other : facts.installed) {
    if (other == nullptr) continue;
    if (auto collision = check_name_collision(plan, *other); !collision) return collision.error();
  }
  for (const install_plan* other : facts.installed) {
    if (other == nullptr) continue;
    if (auto claim = check_port_claims(plan, *other); !claim) return claim.error();
  }
  for (int port : plan.host_ports()) {
    if (facts.host_ports_bound.contains(port)) {
      return problem::conflict("host port " + std::to_string(port) + " is in use on this host");
    }
  }
  for (const auto& image : images_of(plan)) {
    if (facts.images_missing.contains(image)) {
      return problem::unprocessable("image", "image " + image + " is not present and cannot be pulled");
    }
  }
  if (facts.available_bytes) {
    std::uint64_t usable =
        *facts.available_bytes > facts.reserved_bytes ? *facts.available_bytes - facts.reserved_bytes : 0;
    std::uint64_t wanted = plan.total_quota_bytes();
    if (wanted > usable) {
      return problem::unprocessable(
          "volumes", "the volumes' quotas (" + gib(wanted) + ") exceed the free space (" + gib(usable) + ")");
    }
  }
  return {};
}

}  // namespace sc::packages
