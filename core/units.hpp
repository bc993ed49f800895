#pragma once
// The unit policy (behavior-ops.md §7.1, §8.2, §8.3): which systemd units Town OS manages, what
// the API may do to them, and how a package's units combine into the state the dashboard shows.
// Every path that touches a unit by name (POST /systemd/status, the archive endpoints'
// `stop_service`) asks `check_unit_action` first. Pure functions: no D-Bus.

#include <optional>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::units {

inline constexpr std::string_view package_unit_prefix = "town-os-package--";
inline constexpr std::string_view system_unit_prefix = "town-os-system--";
inline constexpr std::string_view controller_unit = "town-os-systemcontroller.service";

enum class unit_kind {
  package_service,  // a package's main service: listed and controllable
  package_helper,   // -network.service, -upnp.service, *-fwd-*, sockets: controllable, not listed
  system_service,   // town-os-system--<key>.service: listed and controllable
  unmanaged,        // anything else, the controller's own unit included
};
unit_kind classify_unit(std::string_view name) noexcept;
// The network-controller unit of a package's main service ("<base>-network.service").
std::string network_unit_of(std::string_view main_service);

enum class unit_action { start, stop, restart, enable, disable };
// "start" | "stop" | "restart" | "enable" | "disable"; else 422 naming the field "action".
result<unit_action> parse_unit_action(std::string_view text);
std::string_view to_string(unit_action action) noexcept;
// Whether `action` may be applied to `name` through the API: the name is a valid unit name (422
// naming `field`), only start, stop and restart are allowed (enable and disable: 400, as the
// original), the controller's own unit is never stopped (400), and only managed units are touched
// (403).
result<void> check_unit_action(std::string_view name, unit_action action, std::string_view field = "name");
// The `stop_service` of an archive upload or download, which is stopped and started again: empty
// is fine; a malformed name is a 400 (as before); otherwise the policy of check_unit_action.
result<void> check_stop_service(std::string_view name);

// A package's main service seen together with its network controller (§8.2): a failed network
// controller makes the package failed, whatever its service says. `controller_state` is the
// controller's ActiveState, or nullopt when the package has none loaded.
struct package_state {
  std::string_view active_state;  // what the package shows: the service's own, or "failed"
  bool controller_active = false;
  bool controller_failed = false;
};
package_state combine_package_state(std::string_view service_state,
                                    std::optional<std::string_view> controller_state) noexcept;

}  // namespace sc::units
