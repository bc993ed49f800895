#include "core/units.hpp"

#include "core/names.hpp"

namespace sc::units {

unit_kind classify_unit(std::string_view name) noexcept {
  if (name.starts_with(system_unit_prefix)) {
    return name.size() > system_unit_prefix.size() + 8 && name.ends_with(".service") ? unit_kind::system_service
                                                                                     : unit_kind::unmanaged;
  }
  if (!name.starts_with(package_unit_prefix) || name.size() <= package_unit_prefix.size()) return unit_kind::unmanaged;
  if (!name.ends_with(".service")) {
    return name.ends_with(".socket") ? unit_kind::package_helper : unit_kind::unmanaged;
  }
  if (name.ends_with("-network.service") || name.ends_with("-upnp.service") ||
      name.find("-fwd-") != std::string_view::npos) {
    return unit_kind::package_helper;
  }
  return unit_kind::package_service;
}

std::string network_unit_of(std::string_view main_service) {
  std::string_view base = main_service.substr(0, main_service.size() - std::string_view(".service").size());
  return std::string(base) + "-network.service";
}

result<unit_action> parse_unit_action(std::string_view text) {
  if (text == "start") return unit_action::start;
  if (text == "stop") return unit_action::stop;
  if (text == "restart") return unit_action::restart;
  if (text == "enable") return unit_action::enable;
  if (text == "disable") return unit_action::disable;
  return problem::unprocessable("action", "must be one of start, stop, restart, enable, disable");
}

std::string_view to_string(unit_action action) noexcept {
  switch (action) {
    case unit_action::start:
      return "start";
    case unit_action::stop:
      return "stop";
    case unit_action::restart:
      return "restart";
    case unit_action::enable:
      return "enable";
    case unit_action::disable:
      return "disable";
  }
  return "start";
}

result<void> check_unit_action(std::string_view name, unit_action action, std::string_view field) {
  if (auto valid = validate_unit_name(name); !valid) {
    const problem& p = valid.error();
    return problem::unprocessable(std::string(field), p.errors.empty() ? p.detail : p.errors.front().message);
  }
  // As the original's newest revision: units are enabled and disabled through /packages only.
  if (action == unit_action::enable || action == unit_action::disable) {
    return problem::bad_request("enable/disable not allowed; use /packages/enable or /packages/disable");
  }
  if (name == controller_unit && action == unit_action::stop) {
    return problem::bad_request("the controller's own unit cannot be stopped through the API");
  }
  if (classify_unit(name) == unit_kind::unmanaged) {
    return problem::forbidden("unit " + std::string(name) + " is not managed by Town OS");
  }
  return {};
}

package_state combine_package_state(std::string_view service_state,
                                    std::optional<std::string_view> controller_state) noexcept {
  package_state state{service_state};
  if (!controller_state) return state;
  state.controller_active = *controller_state == "active";
  if (*controller_state == "failed") {
    state.controller_failed = true;
    state.active_state = "failed";
  }
  return state;
}

result<void> check_stop_service(std::string_view name) {
  if (name.empty()) return {};
  if (!validate_unit_name(name)) {
    return problem::bad_request("invalid systemd service name: \"" + std::string(name) + "\"");
  }
  return check_unit_action(name, unit_action::stop, "stop_service");
}

}  // namespace sc::units
