#pragma once
// The install plan (DESIGN.md "Apps"; behavior-ops.md §6.3–6.6, §7.1–7.2): what installing a
// package with its answers means — every container of it and of its dependencies, in the order they
// must start, with their volumes and quotas, ports, environment, mounts, templates and seeds — and
// nothing about how a runtime carries it out. The systemd unit + `podman run` argv is one rendering
// of a plan (core/packages/podman_unit.hpp); another runtime renders the same plan its own way.
//
// Planning is pure and total: a definition, its answers and a resolver for dependency definitions
// give either a plan or a problem (422 with per-field `errors` for anything the package or the
// answers got wrong). It never touches the disk, the network or a clock; the few facts from outside
// (generated randomness, free ports, the default quota, the host's addresses) come in the request.
//
// Secrets are kept apart from the moment they are known: an environment variable, an answer or a
// template whose value derives from a secret-type answer (secret, password, oauth — or an answer a
// parent passed down from one of its own secrets) lives in the `secret_*` members, never in the
// plain ones, so a rendering that writes the plain members into a unit file or argv cannot leak one.
// A secret that would reach argv (`command`, `entrypoint`) is refused.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/packages/compile.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/questions.hpp"
#include "core/packages/template.hpp"
#include "core/problem.hpp"

namespace sc::packages {

// Which package a container belongs to. `effective_name` is the name, `<name>-<instance>` for a
// second instance, or `<parent>--dep--<key>` for a dependency (nested: `a--dep--b--dep--c`).
struct package_ref {
  std::string repo;
  std::string name;  // the package in `repo` whose definition this is
  std::string version;
  std::string effective_name;

  bool operator==(const package_ref&) const = default;
};

// ---- Names (behavior-ops.md §2, §7.1). Kept as the original spells them: the dashboard filters on
// them. repo, name and version are joined with single dashes, so a name does not identify its
// package: parse names only through install records, and refuse an install whose names collide
// with an installed package's (see `name_collision`).

std::string container_name(const package_ref& ref);     // town-os-package--<repo>-<eff>-<ver>
std::string network_name(const package_ref& ref);       // town-os-net--<repo>-<eff>-<ver>
std::string service_unit_name(const package_ref& ref);  // <container name>.service
// `<parent>--dep--<key>`.
std::string dependency_effective_name(std::string_view parent, std::string_view key);
// a--dep--b--dep--c → a/subpackages/b/subpackages/c.
std::string storage_path(std::string_view effective_name);
// installed/<repo>/<storage path>: the tree that uninstall moves to uninstalled/ or purges.
std::string installed_root(std::string_view repo, std::string_view effective_name);
std::string uninstalled_root(std::string_view repo, std::string_view effective_name);
// A package name with an optional instance: `name` or `name-instance`.
std::string instance_effective_name(std::string_view name, std::string_view instance);

// ---- The plan.

enum class port_exposure {
  host,     // published on the host's port (`-p host:container`); a host port claim
  ingress,  // an `http` port of a package supplying http: reached through the shared :443 ingress
            // (the infrastructure issue routes it); not published on the host
  network,  // a dependency's port: reachable only on its parent's network, by container name
};
std::string_view to_string(port_exposure exposure) noexcept;

struct planned_port {
  int host = 0;           // the host side of the mapping (also the ingress / network key)
  int container = 0;      // the port the container listens on
  std::string name;       // semantic name ("http", "ssh"), or empty
  bool external = false;  // declared under network.external (UPnP-forwarded by the ingress issue)
  port_exposure exposure = port_exposure::host;
};

struct planned_volume {
  std::string name;
  std::string subvolume;          // relative to the btrfs root: installed/<repo>/<sp>/<version>/<name>
  std::string mountpoint;         // absolute, inside the container
  std::uint64_t quota_bytes = 0;  // the definition's quota, else the default quota; 0: none
  bool quota_from_default = false;
  std::optional<std::int64_t> uid;  // ownership set once when the volume is provisioned
  std::optional<std::int64_t> gid;
  std::string git;  // cloned into the volume while it is empty
  bool shareable = false;
};

struct planned_template {
  std::string name;
  std::string volume;   // a planned volume of the same container
  std::string path;     // relative to the volume, checked not to escape
  std::string content;  // rendered; written 0600, never over an existing file
};

struct planned_archive {
  std::string image;  // normalised reference
  std::string directory;
  std::string volume;
};

struct planned_git_source {
  std::string url;
  std::string branch;
  std::string volume;
};

struct environment_variable {
  std::string key;
  std::string value;
  bool operator==(const environment_variable&) const = default;
};

struct planned_container {
  package_ref ref;
  std::string dependency_key;                // "" for the package itself
  std::string parent;                        // the parent's container name; "" for the package itself
  std::string name;                          // container name (= the host name siblings and the parent use)
  std::string network;                       // the network it joins: its own, or the top-level package's
  std::vector<std::string> network_aliases;  // a dependency's key, so `db` resolves
  // Its address on the ingress network (core/ingress.hpp) when it has a port of exposure ingress;
  // given by the lifecycle when it plans (make_plan leaves it empty), kept across upgrades.
  std::string ingress_address;
  std::string slice;  // accounting group: town-os-packages-<repo>-<package>[-<key>…].slice
  runtime_kind runtime = runtime_kind::container;
  std::string image;  // normalised reference
  std::vector<std::string> entrypoint;
  std::vector<std::string> command;
  std::vector<environment_variable> environment;         // sorted by key; no secret in it
  std::vector<environment_variable> secret_environment;  // sorted by key
  std::vector<planned_port> ports;                       // sorted by host port
  std::vector<planned_volume> volumes;                   // sorted by name
  std::vector<planned_template> templates;               // no secret in them
  std::vector<planned_template> secret_templates;
  std::vector<planned_archive> archives;
  std::vector<planned_git_source> git_sources;
  std::vector<std::string> requires_containers;  // its direct dependencies' container names, sorted
  std::vector<std::string> post_update;
  std::vector<std::string> supplies;
  std::vector<std::string> domains;
  std::string description;
  std::vector<note_spec> notes;         // substituted; none shows a secret
  std::vector<note_spec> secret_notes;  // notes that show a secret (a connection URL with its password)
  // The raw answers as given or generated (what "responses" saves and reinstalls reuse), split.
  marker_values answers;
  marker_values secret_answers;

  const planned_volume* find_volume(std::string_view volume_name) const noexcept;
  // The container port its `http` port of exposure ingress listens on; 0 when it has none.
  int ingress_port() const noexcept;
};

struct install_plan {
  package_ref package;
  // Dependencies before whoever needs them (each dependency's own dependencies first, siblings in
  // topological order, ties alphabetical), the package itself last. Uninstall walks it backwards.
  std::vector<planned_container> containers;

  const planned_container& main() const { return containers.back(); }
  // Host ports published by the plan, sorted (what it claims against other packages and the host).
  std::vector<int> host_ports() const;
  // Every name the plan creates in the runtime's flat namespaces: containers, units, networks.
  std::vector<std::string> claimed_names() const;
  // Sum of the volumes' quotas (default quota applied), for the free-space check.
  std::uint64_t total_quota_bytes() const;
};

// A dependency's definition, as the caller's catalog resolves it.
struct resolved_definition {
  std::string repo;
  std::string name;
  std::string version;
  std::shared_ptr<const package_definition> definition;
};
// repo "" means any repository; version "" means the latest version anywhere (§6.6). nullopt: no
// such package.
using definition_resolver = std::function<std::optional<resolved_definition>(
    std::string_view repo, std::string_view name, std::string_view version)>;

struct plan_limits {
  std::size_t max_containers = 32;  // the whole dependency tree
  std::size_t max_depth = 4;        // dependency nesting
};

struct plan_request {
  package_ref package;  // effective_name filled (instance_effective_name)
  const package_definition* definition = nullptr;
  marker_values answers;  // as the client sent them, merged with saved / last answers
  // Earlier answers of dependencies by effective name (a reinstall over kept volumes keeps their
  // generated secrets); the parent's `responses` override them.
  std::map<std::string, marker_values, std::less<>> dependency_answers;
  definition_resolver resolve;
  // Where generated answers come from (ports, secrets, hostnames); updated with what was generated.
  auto_answer_context* generate = nullptr;
  std::uint64_t default_quota = 0;  // the default_quota setting, for volumes that give none
  std::string dns_tld = "home";
  std::string host_name;      // .System.Hostname
  std::string external_host;  // @LOCAL_EXTERNAL_HOST@, .System.ExternalIP
  std::string internal_host;  // @LOCAL_INTERNAL_HOST@, .System.InternalIP
  plan_limits limits;
};

// 422 (per-field `errors`, fields of dependencies prefixed `dependencies.<key>.`) for invalid
// answers, a definition that does not compile, a dependency no repository has, a dependency cycle,
// a secret in argv, a host port declared twice, an unsupported runtime or a tree beyond the limits.
result<install_plan> make_plan(const plan_request& request);

// ---- Checks against what is installed (pure parts of preflight).

// 409 naming the first name `plan` would create that `installed` already uses, unless both belong
// to the same package (repo + effective name): repo `a-b` + package `c` against repo `a` +
// package `b-c` both make `town-os-package--a-b-c-<v>`.
result<void> check_name_collision(const install_plan& plan, const install_plan& installed);
// 409 naming the first host port `plan` publishes that `installed` also publishes (same package
// excepted: an upgrade takes over its own ports).
result<void> check_port_claims(const install_plan& plan, const install_plan& installed);

}  // namespace sc::packages
