#pragma once
// The package lifecycle (issue 13, DESIGN.md "Apps"): install, uninstall, enable, disable and the
// volume housekeeping of installed packages, on real podman, systemd and btrfs.
//
// Every operation has two phases:
// - preparation, before any side effect: the package is resolved in the catalog, planned with its
//   answers (core/packages/plan.hpp) and preflighted (core/packages/preflight.hpp) against the
//   install records and the host (images, ports, free space). Its failures are plain problems
//   and the caller opens no stream.
// - the act, on its own coroutine owned by this service, so a client that goes away does not stop
//   it: each step is recorded in the operation journal (adapters/store/package_store.hpp) before it
//   acts, and every step is idempotent. Progress is published as `{"step":…}` frames, then
//   `{"done":true}` or `{"error":…}` (behavior-ops.md §1.3), to any number of watchers.
//
// "Done" means running: the units are active, the container runs, and every published port
// accepts a connection, within the package_start_timeout setting. Otherwise the install undoes
// its own effects (units, env files, the volumes it created, its journal entry) and reports the
// unit's last journal lines; volumes it reused are never touched.
//
// At start (`start`), what the journal still holds is an operation a crash interrupted: an
// install is rolled back, an uninstall completed. Then every record is reconciled (behavior-ops.md
// §7.6): unit and env files rewritten where their content differs, enabled packages started,
// disabled ones never. At shutdown (`stop`) running operations are cancelled where they stand;
// the journal keeps them for the next start.
//
// An install of another version over an installed one is an upgrade (issue 14), a transaction
// that never loses a working app: preflight as for an install; stop the old version; keep
// read-only btrfs snapshots of its volumes with its record (its plan: units, answers) under
// snapshots/<repo>/<name>/<operation id>/; move the volumes both versions have to the new
// version's paths; provision, start and verify the new one. Then commit (the record is replaced
// in one transaction, the old version's snapshot is kept, up to package_keep_snapshots), or roll
// back by itself: the new version's units and volumes go, the old volumes come back from the
// snapshot, and the old units are written again and started if the old version was running. A
// crash anywhere before the commit is rolled back at the next start, because the record stays the
// old version's until then. `rollback` returns to the newest kept snapshot the same way.
//
// One operation per package (repo + effective name) at a time: 409 for a second one. Operations on
// different packages run concurrently. Loop thread only.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/packages/plan.hpp"
#include "core/packages/podman_unit.hpp"
#include "core/packages/upgrades.hpp"
#include "core/problem.hpp"
#include "server/operations.hpp"

namespace sc::store {
class database;
class package_store;
class settings_store;
}  // namespace sc::store
namespace sc::pool {
class work_queue;
}  // namespace sc::pool
namespace sc::systemd {
class bus_connection;
class systemd_manager;
}  // namespace sc::systemd

namespace sc::server {

class catalog;
struct catalog_package;
struct catalog_snapshot;
class storage_service;
class systemd_service;
class sse_subscriber;

// The progress of one running operation, as SSE frames: every watcher gets what was published
// before it came (a short backlog), then what follows, then the stream ends.
class operation_progress {
 public:
  explicit operation_progress(const boost::asio::any_io_executor& executor) : done_(executor) {}
  void step(std::string_view key);
  // A step with a byte count (a download): {"step":key,"bytes":done[,"total":total]}.
  void step(std::string_view key, std::uint64_t done, std::optional<std::uint64_t> total);
  void succeed();
  void fail(const problem& failure);
  // An upgrade undid itself: {"step":"rolled_back","reason":…,"journal":[the new version's last lines]}.
  void rolled_back(const problem& reason);

  void watch(const std::shared_ptr<sse_subscriber>& subscriber);
  // Completes when the operation has finished: nothing on success, the failure otherwise.
  boost::asio::awaitable<result<void>> finished();
  bool is_finished() const noexcept { return finished_; }

 private:
  void publish(std::string frame);
  std::vector<std::string> frames_;
  std::vector<std::shared_ptr<sse_subscriber>> watchers_;
  std::optional<problem> failure_;
  bool finished_ = false;
  boost::asio::steady_timer done_;
};

struct install_request {
  std::string repo;  // "" = the repository the catalog serves `name` from
  std::string name;
  std::string version;  // "" = the latest
  std::string instance;
  packages::marker_values responses;
  bool reuse_volumes = false;
  bool skip_response_reuse = false;
  // Volumes the installed tree keeps of another version (after reuse_volumes brought them back)
  // start as writable snapshots of that version's volumes of the same name, not empty.
  std::string import_from_version;
};

// A kept version of an installed package (POST /packages/snapshots).
struct package_snapshot {
  std::int64_t id = 0;
  std::string version;
  std::string created_at;
  std::uint64_t size_bytes = 0;  // what its volumes refer to
};

struct uninstall_request {
  std::string repo;
  std::string name;
  std::string instance;
  bool purge_volumes = false;
};

// POST /packages/uninstalled-volumes.
struct volume_versions {
  std::vector<std::string> installed;
  std::vector<std::string> uninstalled;
};

// What an installed package uses now: from the cgroup accounting of its slice (which holds its
// dependencies too), or where systemd has no figures (accounting off; cgroup v1 controllers, as on
// the sandbox host) from podman's figures for its containers. Nullopt when neither has one (the
// package is stopped).
struct package_usage {
  std::string slice;
  std::string source;  // "systemd" or "podman"; empty without figures
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> cpu_nanoseconds;
};

class lifecycle {
 public:
  struct options {
    std::filesystem::path unit_dir;     // where unit files are written
    std::filesystem::path secrets_dir;  // root-only; the containers' env files
    packages::podman_unit_options render;
    // Git repositories of volumes seeded from git (the controller's, outside the volumes), and
    // git's private home for them.
    std::filesystem::path git_seeds_dir;
    std::chrono::milliseconds git_timeout{std::chrono::minutes(5)};
    std::string podman = "podman";
    std::chrono::milliseconds podman_timeout{std::chrono::minutes(2)};
    std::chrono::milliseconds pull_timeout{std::chrono::minutes(10)};
    // A test-only hook (SC_TEST_DIE_AT_STEP): the process dies with SIGKILL as the named step is
    // journaled ("<kind>:<step>", e.g. "install:installing_services").
    std::string die_at_step;
  };

  // `files`: the pool queue that writes unit and env files (fsync off the loop).
  lifecycle(boost::asio::io_context& io, store::database& db, catalog& packages, storage_service& storage,
            systemd_service& systemd, store::settings_store& settings, pool::work_queue& files, options opts);
  ~lifecycle();
  lifecycle(const lifecycle&) = delete;
  lifecycle& operator=(const lifecycle&) = delete;

  // Loads the install records and the journal (500 when a stored plan cannot be read).
  result<void> open();
  // Recovery and reconcile, on their own coroutine (they wait for D-Bus). `bus` gives the current
  // connection (it changes when D-Bus is reconnected; null while there is none).
  void start(std::function<systemd::bus_connection*()> bus);
  // Cancels running operations (the journal keeps them) and the start-up work. `on_idle` runs once
  // an operation is still running, once the last one has ended (the app then releases
  // what they use); never from inside this call.
  void stop(std::function<void()> on_idle);
  std::size_t running() const noexcept { return shared_->cancels.size(); }
  // The time installs have spent waiting for their apps to come up (between looks, and connecting
  // to their ports), for /metrics: not this process's work, nor a child's or systemd's.
  std::chrono::steady_clock::duration start_wait() const noexcept { return start_wait_; }

  const store::package_store& records() const noexcept { return *store_; }
  // Runs `hook` once an install has been saved or an uninstall has finished, before the operation
  // reports done (the DNS zone registers and unregisters package names there, the ingress its
  // routes). Hooks run in the order added; a subsystem that adds one must outlive this service's
  // operations.
  void on_installed_changed(std::function<boost::asio::awaitable<void>()> hook);
  // The install record's version of repo/effective name, if installed.
  std::optional<std::string> installed_version(std::string_view repo, std::string_view effective_name) const;

  // GET /packages/upgrades (core/packages/upgrades.hpp): every install record (instances too)
  // against the catalog's current snapshot.
  std::vector<packages::package_upgrade> upgrades() const;
  // POST /packages/upgrades/dismiss: stores the hash of the current list as the
  // dismissed_upgrades_hash setting. 500 when the setting cannot be written.
  result<void> dismiss_upgrades();
  // Whether `upgrades` (a list from `upgrades()`) is the list that was dismissed last.
  bool upgrades_dismissed(std::span<const packages::package_upgrade> upgrades) const;

  // Phase A of an install; on success phase B runs and reports through the returned progress.
  boost::asio::awaitable<result<std::shared_ptr<operation_progress>>> install(install_request request);
  // What installing `package` over the installed version would change (core upgrade_diff: volumes,
  // ports, questions, unit files) as JSON; "" when nothing of it is installed. `installed` is
  // the installed version's definition (parsed from its manifest; null when it does not parse).
  // No side effect.
  result<std::string> upgrade_preview(const catalog_package& package, std::string_view instance,
                                      const packages::package_definition* installed) const;
  boost::asio::awaitable<result<std::shared_ptr<operation_progress>>> uninstall(uninstall_request request);
  // Stores the state, then stops and disables (or enables and starts) the package's units.
  boost::asio::awaitable<result<void>> set_disabled(std::string repo, std::string effective_name, bool disabled);
  // POST /packages/rebuild-git (behavior-ops.md §6.5): fast-forwards every volume of the installed
  // `version` that was seeded from git (`git:` volumes and git_sources) to its remote, then
  // restarts the package's units (unless it is disabled) and waits until it runs. 404 when that
  // version is not installed or has no git volume; 409 when the volume's own edits are in the way.
  boost::asio::awaitable<result<void>> rebuild_git(std::string repo, std::string effective_name, std::string version);
  // Deletes the package's kept volumes: the uninstalled tree, and with `installed_too` the
  // installed tree as well (409 while the package is installed).
  boost::asio::awaitable<result<void>> purge_volumes(std::string repo, std::string effective_name, bool installed_too);
  boost::asio::awaitable<result<volume_versions>> volumes_of(std::string repo, std::string effective_name);
  result<void> clear_last_answers(std::string_view repo, std::string_view effective_name);
  boost::asio::awaitable<result<package_usage>> usage(std::string slice, std::vector<std::string> containers);

  // Kept versions, newest first (404 when the package is not installed and has none).
  boost::asio::awaitable<result<std::vector<package_snapshot>>> snapshots(std::string repo, std::string effective_name);
  // Deletes one kept version (404 unknown, 409 while an operation runs on the package).
  boost::asio::awaitable<result<void>> remove_snapshot(std::string repo, std::string effective_name, std::int64_t id);
  // Returns to the newest kept version, as an upgrade to it whose volumes come from its snapshot
  // (the version left is kept in turn, so a rollback can be rolled back).
  boost::asio::awaitable<result<std::shared_ptr<operation_progress>>> rollback(std::string repo,
                                                                               std::string effective_name);

 private:
  struct running;
  struct act_context;
  boost::asio::awaitable<result<systemd::systemd_manager*>> manager();
  // Whether the plan's main unit is active (or starting) now; false without systemd.
  boost::asio::awaitable<bool> running_now(const packages::install_plan& plan);
  // The plan an install of `package` with `request` acts on: the request's answers, then the
  // installed version's (an upgrade) or the last ones (reuse_volumes), then generated ones. No side
  // effect.
  result<packages::install_plan> plan_for(const std::shared_ptr<const catalog_snapshot>& snapshot,
                                          const catalog_package& package, const install_request& request) const;
  boost::asio::awaitable<void> run_install(std::int64_t id, packages::install_plan plan, std::string manifest,
                                           bool restored, std::string import_from,
                                           std::shared_ptr<operation_progress> progress);
  // The upgrade's act; `source` is the kept version it returns to (a rollback), 0 for an upgrade.
  boost::asio::awaitable<void> run_upgrade(std::int64_t id, packages::install_plan plan, std::string manifest,
                                           std::int64_t source, std::shared_ptr<operation_progress> progress);
  boost::asio::awaitable<void> rollback_upgrade(std::int64_t id);
  // Where kept version `id` of the package keeps `subvolume` (a path under its installed tree).
  static std::string snapshots_tree(std::string_view repo, std::string_view effective_name);
  boost::asio::awaitable<void> purge_snapshots(std::string repo, std::string effective_name);
  static std::string snapshot_root(const packages::package_ref& ref, std::int64_t id);
  static std::string snapshot_path(const packages::package_ref& ref, std::int64_t id, const std::string& subvolume);
  // Read-only snapshots of the plan's volumes as kept version `id` (the record is stored first).
  boost::asio::awaitable<result<void>> take_snapshot(std::int64_t id, const packages::install_plan& plan);
  // The plan's volumes as kept version `id` holds them (those it has; a present one is replaced).
  boost::asio::awaitable<result<void>> restore_snapshot(std::int64_t id, const packages::install_plan& plan);
  boost::asio::awaitable<result<void>> delete_snapshot(const packages::package_ref& ref, std::int64_t id);
  boost::asio::awaitable<result<void>> migrate_volumes(const packages::install_plan& from,
                                                       const packages::install_plan& to);
  boost::asio::awaitable<void> run_uninstall(std::int64_t id, packages::install_plan plan, bool purge,
                                             std::shared_ptr<operation_progress> progress);
  // Creates the plan's missing volumes (noted in operation `id`'s journal, when there is one, for
  // rollback) and sets the quotas of existing ones.
  // The steps an install and an upgrade share, each journaled under `kind` before it acts:
  // provisioning_volumes, applying_templates (when there are templates), installing_services and,
  // with `start`, starting (until the package runs; without it the units are written, not enabled).
  boost::asio::awaitable<result<void>> bring_up(std::int64_t id, std::string kind, const packages::install_plan& plan,
                                                operation_progress& progress, bool start, std::string import_from);
  // With `import_from`, a missing volume of the package itself starts as a writable snapshot of
  // that version's volume of the same name where there is one.
  boost::asio::awaitable<result<void>> provision(std::optional<std::int64_t> id, const packages::install_plan& plan,
                                                 std::string import_from = {});
  boost::asio::awaitable<result<void>> apply_templates(const packages::install_plan& plan);
  // seeding_data: every volume with a git source that is still empty is cloned into.
  boost::asio::awaitable<result<void>> seed_volumes(const packages::install_plan& plan);
  // Each git-seeded volume of `plan` with its source (a `git:` URL, or a git_sources entry).
  struct git_volume {
    const packages::planned_container* container;
    const packages::planned_volume* volume;
    std::string url;
    std::string branch;
  };
  static std::vector<git_volume> git_volumes(const packages::install_plan& plan);
  std::filesystem::path seed_dir(const packages::package_ref& ref, const std::string& volume) const;
  void purge_seeds(const std::string& repo, const std::string& effective_name);
  // Writes the unit and env files and reloads systemd; with `start`, enables and starts the units
  // (restarts them with `restart`).
  boost::asio::awaitable<result<void>> install_units(const packages::install_plan& plan, bool start,
                                                     bool restart = false);
  boost::asio::awaitable<result<void>> verify_running(const packages::install_plan& plan);
  boost::asio::awaitable<void> remove_units(const packages::install_plan& plan);
  boost::asio::awaitable<void> rollback_install(std::int64_t id);
  boost::asio::awaitable<result<void>> finish_uninstall(std::int64_t id, bool purge);
  boost::asio::awaitable<void> recover_and_reconcile();
  boost::asio::awaitable<result<void>> delete_tree(std::string relative);
  boost::asio::awaitable<result<void>> move_tree(std::string from, std::string to);
  boost::asio::awaitable<void> prune_empty_parents(std::string relative);
  result<void> journal_step(std::int64_t id, std::string_view kind, std::string_view step);
  // The plans of every package but `key`: installed, with an operation journaled, or being planned.
  // Pointers into the store and shared state: use them before the next co_await.
  std::vector<const packages::install_plan*> other_plans(std::string_view key) const;
  // Gives each container with an ingress port its address on the ingress network (core/ingress.hpp):
  // the one the installed record has, else the lowest one no other plan holds.
  result<void> assign_ingress_addresses(packages::install_plan& plan, std::string_view key) const;
  boost::asio::awaitable<std::vector<std::string>> journal_tail(std::string unit);
  void spawn_operation(std::string key, boost::asio::awaitable<void> body);
  boost::asio::awaitable<void> notify_installed_changed();

  boost::asio::io_context& io_;
  store::database& db_;
  catalog& catalog_;
  storage_service& storage_;
  systemd_service& systemd_;
  store::settings_store& settings_;
  pool::work_queue& files_;
  options options_;
  std::function<systemd::bus_connection*()> bus_;
  std::vector<std::function<boost::asio::awaitable<void>()>> installed_changed_;
  std::unique_ptr<store::package_store> store_;
  // Shared with the operations' coroutine frames, which may be destroyed after this object (a hard
  // stop destroys the loop's pending frames last).
  // busy: "<repo>/<effective name>" with an operation running.
  struct shared_state : operation_registry {
    // Plans of installs between planning and their journal entry (phase A awaits images and
    // storage): their host ports and names are taken, so a concurrent install cannot pick them too.
    std::map<std::string, packages::install_plan, std::less<>> planned;
  };
  std::shared_ptr<shared_state> shared_ = std::make_shared<shared_state>();
  std::set<std::string, std::less<>>& busy_ = shared_->busy;
  bool stopped_ = false;
  std::chrono::steady_clock::duration start_wait_{};
};

}  // namespace sc::server
