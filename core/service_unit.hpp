#pragma once
// The one rendering of a systemd service unit file. Packages (core/packages/podman_unit.hpp: a
// container per unit) and system services (server/system_services.hpp: `town-os-system--<key>`,
// a container or a Debian-packaged binary) describe their unit as a `service_unit` and render it
// here, so quoting, escaping and section layout exist once.
//
// Every command-line argument is quoted for systemd's syntax (quotes, backslashes, `%` specifiers
// and `$` expansion), so any value arrives in argv byte for byte; one-line values (Description=)
// lose control characters, so no value can add a directive.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sc::units {

struct unit_command {
  std::vector<std::string> argv;  // argv[0] an absolute path
  bool ignore_failure = false;    // rendered with systemd's '-' prefix
};

struct service_unit {
  std::string comment;      // first line, after "# "; one line
  std::string description;  // Description=, bounded and stripped of control characters
  std::vector<std::string> wants;
  std::vector<std::string> after;
  std::string part_of;
  std::string before;
  std::string type = "simple";
  std::string slice;
  std::vector<std::string> environment;  // KEY=VALUE, each rendered quoted (no secrets: use env files)
  bool delegate = false;                 // Delegate=yes and KillMode=mixed
  std::vector<unit_command> exec_start_pre;
  unit_command exec_start;
  std::optional<unit_command> exec_reload;
  std::vector<unit_command> exec_stop;
  std::vector<unit_command> exec_stop_post;
  std::string restart = "on-failure";  // Restart=
  std::chrono::seconds restart_delay{2};
  // StartLimitIntervalSec=0 in [Unit]: a service that must always come back is never given up on.
  bool no_start_limit = false;
  std::string success_exit_status;  // "" leaves it out
  std::optional<std::chrono::seconds> start_timeout;
  std::optional<std::chrono::seconds> stop_timeout;
  std::string wanted_by;  // "" (a dependency started by its parent) leaves out [Install]
};

std::string render_service_unit(const service_unit& unit);

// One argv element in systemd's command-line syntax (systemd.syntax(7), systemd.service(5)
// "Command lines"): quoted when needed, `%` as `%%`, `$` as `$$`, control characters C-escaped.
std::string systemd_quote(std::string_view argument);
// A whole command line: every argument quoted.
std::string systemd_command_line(const std::vector<std::string>& argv);
// A one-line value of a unit file that systemd does not unquote (Description=): control characters
// dropped, specifiers escaped, at most 200 bytes, no trailing backslash.
std::string unit_text(std::string_view text);

}  // namespace sc::units
