#pragma once
// One rendering of an install plan (core/packages/plan.hpp): a systemd service per container that
// runs `podman run --replace` in the foreground (its text made by core/service_unit.hpp), plus the root-only env file
// that carries the container's secrets. Pure text; the lifecycle writes the files and talks to systemd. Another runtime
// (Kubernetes manifests, say) renders the same plan beside this file without changing it.
//
// The unit (behavior-ops.md §7.3, changed where issue 13 decides):
// - `podman run --replace --rm --pull=never` in the foreground under `Restart=on-failure`, with
//   `SuccessExitStatus=143 137` (podman's exit after SIGTERM / SIGKILL: a clean stop is not a
//   failure) and a start timeout long enough for a container start;
// - its own slice under town-os-packages.slice, the container kept in the unit's cgroup
//   (`--cgroups=split`, `Delegate=yes`), so the slice accounts its CPU and memory;
// - ports published by podman (`-p`); no network-controller container, no socket units;
// - plain environment as `-e` arguments, secrets only through `--env-file` (a 0600 file the
//   lifecycle writes as root): never in the unit file, never in argv;
// - no `chown -R` on start: volume ownership is set once, when the volume is provisioned;
// - dependencies `PartOf=` and `Before=` their parent, which `Wants=` and is `After=` them.
// Every argument is quoted for systemd's command-line syntax (quotes, backslashes, `%` specifiers
// and `$` expansion), so any value arrives in argv byte for byte.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/packages/plan.hpp"
#include "core/problem.hpp"
#include "core/service_unit.hpp"

namespace sc::packages {

struct podman_unit_options {
  std::string podman = "/usr/bin/podman";
  std::string btrfs_root;         // absolute host path; a volume is <btrfs_root>/<subvolume>
  std::string secrets_directory;  // absolute, root-only; a container's env file is <dir>/<container>.env
  // DBUS_SYSTEM_BUS_ADDRESS for podman (netavark starts aardvark-dns through systemd-run and needs a
  // system bus for container name resolution; the sandbox has none, DESIGN.md). Empty: not set.
  std::string system_bus_address;
  std::chrono::seconds start_timeout{300};  // ExecStartPre work: network creation
  std::chrono::seconds stop_timeout{10};    // podman stop -t
  std::chrono::seconds restart_delay{2};
  std::string wanted_by = "multi-user.target";  // default.target under a user manager
  bool split_cgroups = true;                    // --cgroups=split + Delegate=yes
  // The subnet the ingress network is created with when a unit needs it first (core/ingress.hpp).
  std::string ingress_subnet;
};

struct rendered_container {
  std::string container;                // container name
  std::string unit_name;                // <container>.service
  std::string unit;                     // the unit file's text
  std::vector<std::string> exec_start;  // the argv ExecStart= runs (podman run …)
  std::string env_file;                 // path of the secret env file; empty when it has no secret
  std::string env_file_content;         // KEY=VALUE lines; write 0600, root-owned
};

// One per container, in the plan's order (dependencies first). 422 when the options cannot place a
// file (relative paths) or a value cannot be carried (a secret with a newline cannot be in an env
// file; plans never hold one).
result<std::vector<rendered_container>> render_podman_units(const install_plan& plan,
                                                            const podman_unit_options& options);

// The parts, for tests and for the lifecycle's "is the unit on disk current" check.
std::vector<std::string> podman_run_argv(const planned_container& container, const podman_unit_options& options);
std::string render_env_file(const planned_container& container);
// Quoting for systemd command lines lives with the one unit rendering (core/service_unit.hpp).
using units::systemd_command_line;
using units::systemd_quote;

}  // namespace sc::packages
