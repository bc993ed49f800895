#pragma once
// Install records, the operation journal and last answers of the package lifecycle (issue 13,
// DESIGN.md "Apps"), in SQLite. Loop thread only.
//
// - An install record is the package as installed: its manifest (the definition's YAML, so the
//   record does not depend on the repository still having it), its plan and whether it is
//   disabled. Names are parsed only through records, never from unit or container names.
// - The operation journal holds, for every operation in flight, its plan and the step it has
//   reached, written before the step acts; at start, what is left in it is an unfinished operation
//   (rolled back or completed). One operation per package at a time is a table constraint, so
//   it holds across restarts too.
// - Secrets (secret answers, environment and templates; core/packages/plan_json.hpp) are stored
//   in their own columns, beside the public plan, and are never part of a listing or a search.
//   The database file is root-only.
//
// Every mutation is one transaction; the in-memory cache changes only after it committed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/packages/plan.hpp"
#include "core/problem.hpp"

namespace sc::store {

class database;

// Migration 5 (adapters/store/migrations.cpp).
inline constexpr std::string_view packages_schema =
    "CREATE TABLE installed_packages (repo TEXT NOT NULL, effective_name TEXT NOT NULL, name TEXT NOT NULL, "
    "version TEXT NOT NULL, manifest TEXT NOT NULL, plan TEXT NOT NULL, plan_secrets TEXT NOT NULL, "
    "disabled INTEGER NOT NULL DEFAULT 0, installed_at TEXT NOT NULL, PRIMARY KEY (repo, effective_name));"
    "CREATE TABLE package_operations (id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL, "
    "effective_name TEXT NOT NULL, kind TEXT NOT NULL, step TEXT NOT NULL, plan TEXT NOT NULL, "
    "plan_secrets TEXT NOT NULL, options TEXT NOT NULL DEFAULT '{}', fresh_volumes TEXT NOT NULL DEFAULT '[]', "
    "started_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (repo, effective_name));"
    "CREATE TABLE package_last_answers (repo TEXT NOT NULL, effective_name TEXT NOT NULL, answers TEXT NOT NULL, "
    "secret_answers TEXT NOT NULL, saved_at TEXT NOT NULL, PRIMARY KEY (repo, effective_name));";

// Migration 7: the kept versions of upgrades (issue 14).
inline constexpr std::string_view package_snapshots_schema =
    "CREATE TABLE package_snapshots (id INTEGER PRIMARY KEY, repo TEXT NOT NULL, effective_name TEXT NOT NULL, "
    "version TEXT NOT NULL, manifest TEXT NOT NULL, plan TEXT NOT NULL, plan_secrets TEXT NOT NULL, "
    "disabled INTEGER NOT NULL DEFAULT 0, installed_at TEXT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE INDEX package_snapshots_package ON package_snapshots(repo, effective_name);";

struct install_record {
  packages::install_plan plan;  // plan.package says which package
  std::string manifest;         // the definition's YAML as installed
  bool disabled = false;
  std::string installed_at;  // RFC 3339 UTC
};

// An upgrade journals the new version's plan; the installed record stays the old one until the
// upgrade commits, so at start an unfinished upgrade is rolled back to it.
enum class operation_kind { install, uninstall, upgrade };
std::string_view to_string(operation_kind kind) noexcept;

struct operation_record {
  std::int64_t id = 0;
  operation_kind kind = operation_kind::install;
  std::string step;  // the last step recorded (written before the step acts)
  packages::install_plan plan;
  std::string options;                     // the request's options as JSON (reuse_volumes, purge_volumes…)
  std::vector<std::string> fresh_volumes;  // subvolumes this operation created: rollback removes only these
  std::string started_at;
  std::string updated_at;
};

// A kept version (issue 14): the install record as it was when an upgrade began, beside read-only
// snapshots of its volumes. Its id is that upgrade's operation id (unique, and known to the
// journal without another write).
struct snapshot_record {
  std::int64_t id = 0;
  install_record record;
  std::string created_at;  // RFC 3339 UTC
};

// The answers of the last uninstalled version, kept for a reinstall (§6.3 step 3).
struct saved_answers {
  packages::marker_values answers;
  packages::marker_values secret_answers;
};

class package_store {
 public:
  // Loads records and unfinished operations. A record or operation whose stored plan cannot be
  // read is a 500 (the file was damaged: refusing to start is better than acting on a guess).
  // `db` must outlive the store.
  static result<std::unique_ptr<package_store>> open(database& db);

  // Records, by repo then effective name.
  const std::vector<install_record>& installed() const noexcept { return installed_; }
  const install_record* find(std::string_view repo, std::string_view effective_name) const noexcept;

  // Operations in flight (at start: the unfinished ones), by id.
  const std::vector<operation_record>& operations() const noexcept { return operations_; }
  const operation_record* operation(std::int64_t id) const noexcept;

  // Journals a new operation on plan.package at `first_step`. 409 while another operation on the
  // same package (repo + effective name) is journaled.
  result<std::int64_t> begin(operation_kind kind, const packages::install_plan& plan, std::string_view first_step,
                             std::string_view options_json);
  // Records the step about to act. 404 for an unknown id.
  result<void> step(std::int64_t id, std::string_view step);
  // Notes a subvolume the operation created (before creating it: a crash in between leaves a name
  // to check, never an unknown volume).
  result<void> add_fresh_volume(std::int64_t id, std::string_view subvolume);

  // Ends an install in one transaction: the record is written (replacing one of the same package),
  // the package's last answers are cleared and the operation leaves the journal.
  result<void> complete_install(std::int64_t id, install_record record);
  // Ends an uninstall in one transaction: the record goes, its answers become the last answers,
  // the operation leaves the journal.
  result<void> complete_uninstall(std::int64_t id);
  // Drops an operation whose effects were undone (a rolled-back install) or that changed nothing.
  result<void> abandon(std::int64_t id);

  // 404 when not installed.
  result<void> set_disabled(std::string_view repo, std::string_view effective_name, bool disabled);
  // Rewrites the plan of an installed package (same package: repo and effective name), e.g. when
  // start-up gives a record from before ingress addresses existed its addresses. 404 when not
  // installed.
  result<void> update_plan(const packages::install_plan& plan);

  // Kept versions. add_snapshot stores `record` under `id` (replacing one of that id).
  result<void> add_snapshot(std::int64_t id, const install_record& record);
  // The package's snapshots, newest first (500 when one cannot be read).
  result<std::vector<snapshot_record>> snapshots(std::string_view repo, std::string_view effective_name) const;
  result<std::optional<snapshot_record>> snapshot(std::int64_t id) const;
  result<void> remove_snapshot(std::int64_t id);

  std::optional<saved_answers> last_answers(std::string_view repo, std::string_view effective_name) const;
  result<void> clear_last_answers(std::string_view repo, std::string_view effective_name);

 private:
  explicit package_store(database& db) : db_(db) {}
  database& db_;
  std::vector<install_record> installed_;
  std::vector<operation_record> operations_;
};

}  // namespace sc::store
