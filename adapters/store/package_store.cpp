#include "adapters/store/package_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "adapters/store/audit_store.hpp"
#include "adapters/store/database.hpp"
#include "core/json_reader.hpp"
#include "core/json_writer.hpp"
#include "core/packages/plan_json.hpp"

namespace sc::store {

namespace {

std::string now() {
  return rfc3339_seconds(std::chrono::system_clock::now());
}

std::vector<std::string> read_strings(const std::string& text) {
  return json::string_array(text).value_or(std::vector<std::string>{});
}

std::string write_strings(const std::vector<std::string>& list) {
  return json_string([&](json_writer& w) { w.value(list); });
}

std::string write_answers(const packages::marker_values& answers) {
  return json_string([&](json_writer& w) {
    w.begin_object();
    for (const auto& [k, v] : answers) w.key(k).value(v);
    w.end_object();
  });
}

packages::marker_values read_answers(const std::string& text) {
  packages::marker_values out;
  simdjson::dom::object stored;
  if (json::parse(text).get(stored) != simdjson::SUCCESS) return out;
  for (auto [k, v] : stored) {
    if (std::string_view s; v.get(s) == simdjson::SUCCESS) out[std::string(k)] = std::string(s);
  }
  return out;
}

operation_kind kind_of(const std::string& text) {
  if (text == "uninstall") return operation_kind::uninstall;
  return text == "upgrade" ? operation_kind::upgrade : operation_kind::install;
}

bool same_package(const packages::package_ref& a, std::string_view repo, std::string_view effective_name) {
  return a.repo == repo && a.effective_name == effective_name;
}

}  // namespace

std::string_view to_string(operation_kind kind) noexcept {
  switch (kind) {
    case operation_kind::uninstall:
      return "uninstall";
    case operation_kind::upgrade:
      return "upgrade";
    case operation_kind::install:
      break;
  }
  return "install";
}

result<std::unique_ptr<package_store>> package_store::open(database& db) {
  std::unique_ptr<package_store> store(new package_store(db));
  try {
    SQLite::Statement records(db.sql(),
                              "SELECT repo, effective_name, manifest, plan, plan_secrets, disabled, installed_at "
                              "FROM installed_packages ORDER BY repo, effective_name");
    while (records.executeStep()) {
      auto plan = packages::plan_from_json(records.getColumn(3).getString(), records.getColumn(4).getString());
      if (!plan) {
        problem p = plan.error();
        p.internal += " (record " + records.getColumn(0).getString() + "/" + records.getColumn(1).getString() + ")";
        return p;
      }
      store->installed_.push_back({std::move(*plan), records.getColumn(2).getString(),
                                   records.getColumn(5).getInt() != 0, records.getColumn(6).getString()});
    }
    SQLite::Statement ops(db.sql(),
                          "SELECT id, kind, step, plan, plan_secrets, options, fresh_volumes, started_at, updated_at "
                          "FROM package_operations ORDER BY id");
    while (ops.executeStep()) {
      auto plan = packages::plan_from_json(ops.getColumn(3).getString(), ops.getColumn(4).getString());
      if (!plan) {
        problem p = plan.error();
        p.internal += " (operation " + std::to_string(ops.getColumn(0).getInt64()) + ")";
        return p;
      }
      store->operations_.push_back({ops.getColumn(0).getInt64(), kind_of(ops.getColumn(1).getString()),
                                    ops.getColumn(2).getString(), std::move(*plan), ops.getColumn(5).getString(),
                                    read_strings(ops.getColumn(6).getString()), ops.getColumn(7).getString(),
                                    ops.getColumn(8).getString()});
    }
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("loading install records: ") + e.what());
  }
  return store;
}

const install_record* package_store::find(std::string_view repo, std::string_view effective_name) const noexcept {
  for (const auto& r : installed_) {
    if (same_package(r.plan.package, repo, effective_name)) return &r;
  }
  return nullptr;
}

const operation_record* package_store::operation(std::int64_t id) const noexcept {
  for (const auto& o : operations_) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

result<std::int64_t> package_store::begin(operation_kind kind, const packages::install_plan& plan,
                                          std::string_view first_step, std::string_view options_json) {
  const auto& ref = plan.package;
  for (const auto& o : operations_) {
    if (same_package(o.plan.package, ref.repo, ref.effective_name)) {
      return problem::conflict("another operation (" + std::string(to_string(o.kind)) + ") is in progress on " +
                               ref.repo + "/" + ref.effective_name);
    }
  }
  operation_record record{0, kind, std::string(first_step), plan, std::string(options_json), {}, now(), now()};
  try {
    SQLite::Statement insert(db_.sql(),
                             "INSERT INTO package_operations(repo, effective_name, kind, step, plan, plan_secrets, "
                             "options, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, ref.repo);
    insert.bind(2, ref.effective_name);
    insert.bind(3, std::string(to_string(kind)));
    insert.bind(4, record.step);
    insert.bind(5, packages::plan_public_json(plan));
    insert.bind(6, packages::plan_secret_json(plan));
    insert.bind(7, record.options);
    insert.bind(8, record.started_at);
    insert.bind(9, record.updated_at);
    insert.exec();
    record.id = db_.sql().getLastInsertRowid();
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_CONSTRAINT) {
      return problem::conflict("another operation is in progress on " + ref.repo + "/" + ref.effective_name);
    }
    return problem::internal_error(std::string("journaling an operation: ") + e.what());
  }
  operations_.push_back(std::move(record));
  return operations_.back().id;
}

result<void> package_store::step(std::int64_t id, std::string_view step_name) {
  auto it = std::find_if(operations_.begin(), operations_.end(), [&](const auto& o) { return o.id == id; });
  if (it == operations_.end()) return problem::not_found("no operation " + std::to_string(id));
  std::string updated = now();
  try {
    SQLite::Statement update(db_.sql(), "UPDATE package_operations SET step = ?, updated_at = ? WHERE id = ?");
    update.bind(1, std::string(step_name));
    update.bind(2, updated);
    update.bind(3, id);
    update.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("journaling a step: ") + e.what());
  }
  it->step = std::string(step_name);
  it->updated_at = std::move(updated);
  return {};
}

result<void> package_store::add_fresh_volume(std::int64_t id, std::string_view subvolume) {
  auto it = std::find_if(operations_.begin(), operations_.end(), [&](const auto& o) { return o.id == id; });
  if (it == operations_.end()) return problem::not_found("no operation " + std::to_string(id));
  auto fresh = it->fresh_volumes;
  if (std::find(fresh.begin(), fresh.end(), subvolume) != fresh.end()) return {};
  fresh.emplace_back(subvolume);
  try {
    SQLite::Statement update(db_.sql(), "UPDATE package_operations SET fresh_volumes = ?, updated_at = ? WHERE id = ?");
    update.bind(1, write_strings(fresh));
    update.bind(2, now());
    update.bind(3, id);
    update.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("journaling a volume: ") + e.what());
  }
  it->fresh_volumes = std::move(fresh);
  return {};
}

result<void> package_store::complete_install(std::int64_t id, install_record record) {
  auto it = std::find_if(operations_.begin(), operations_.end(), [&](const auto& o) { return o.id == id; });
  if (it == operations_.end()) return problem::not_found("no operation " + std::to_string(id));
  const auto& ref = record.plan.package;
  if (record.installed_at.empty()) record.installed_at = now();
  try {
    SQLite::Transaction transaction(db_.sql());
    SQLite::Statement upsert(db_.sql(),
                             "INSERT OR REPLACE INTO installed_packages(repo, effective_name, name, version, manifest, "
                             "plan, plan_secrets, disabled, installed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    upsert.bind(1, ref.repo);
    upsert.bind(2, ref.effective_name);
    upsert.bind(3, ref.name);
    upsert.bind(4, ref.version);
    upsert.bind(5, record.manifest);
    upsert.bind(6, packages::plan_public_json(record.plan));
    upsert.bind(7, packages::plan_secret_json(record.plan));
    upsert.bind(8, record.disabled ? 1 : 0);
    upsert.bind(9, record.installed_at);
    upsert.exec();
    SQLite::Statement clear(db_.sql(), "DELETE FROM package_last_answers WHERE repo = ? AND effective_name = ?");
    for (const auto& c : record.plan.containers) {
      clear.bind(1, c.ref.repo);
      clear.bind(2, c.ref.effective_name);
      clear.exec();
      clear.reset();
    }
    SQLite::Statement done(db_.sql(), "DELETE FROM package_operations WHERE id = ?");
    done.bind(1, id);
    done.exec();
    transaction.commit();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("recording an install: ") + e.what());
  }
  operations_.erase(it);
  auto existing = std::find_if(installed_.begin(), installed_.end(), [&](const auto& r) {
    return same_package(r.plan.package, ref.repo, ref.effective_name);
  });
  if (existing != installed_.end()) {
    *existing = std::move(record);
  } else {
    installed_.push_back(std::move(record));
    std::sort(installed_.begin(), installed_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.plan.package.repo, a.plan.package.effective_name) <
             std::tie(b.plan.package.repo, b.plan.package.effective_name);
    });
  }
  return {};
}

result<void> package_store::complete_uninstall(std::int64_t id) {
  auto it = std::find_if(operations_.begin(), operations_.end(), [&](const auto& o) { return o.id == id; });
  if (it == operations_.end()) return problem::not_found("no operation " + std::to_string(id));
  const auto& plan = it->plan;
  try {
    SQLite::Transaction transaction(db_.sql());
    SQLite::Statement save(db_.sql(),
                           "INSERT OR REPLACE INTO package_last_answers(repo, effective_name, answers, secret_answers, "
                           "saved_at) VALUES (?, ?, ?, ?, ?)");
    for (const auto& c : plan.containers) {
      save.bind(1, c.ref.repo);
      save.bind(2, c.ref.effective_name);
      save.bind(3, write_answers(c.answers));
      save.bind(4, write_answers(c.secret_answers));
      save.bind(5, now());
      save.exec();
      save.reset();
    }
    SQLite::Statement remove(db_.sql(), "DELETE FROM installed_packages WHERE repo = ? AND effective_name = ?");
    remove.bind(1, plan.package.repo);
    remove.bind(2, plan.package.effective_name);
    remove.exec();
    SQLite::Statement done(db_.sql(), "DELETE FROM package_operations WHERE id = ?");
    done.bind(1, id);
    done.exec();
    transaction.commit();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("recording an uninstall: ") + e.what());
  }
  std::string repo = plan.package.repo;
  std::string effective_name = plan.package.effective_name;
  operations_.erase(it);
  std::erase_if(installed_, [&](const auto& r) { return same_package(r.plan.package, repo, effective_name); });
  return {};
}

result<void> package_store::abandon(std::int64_t id) {
  auto it = std::find_if(operations_.begin(), operations_.end(), [&](const auto& o) { return o.id == id; });
  if (it == operations_.end()) return problem::not_found("no operation " + std::to_string(id));
  try {
    SQLite::Statement done(db_.sql(), "DELETE FROM package_operations WHERE id = ?");
    done.bind(1, id);
    done.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("closing an operation: ") + e.what());
  }
  operations_.erase(it);
  return {};
}

result<void> package_store::set_disabled(std::string_view repo, std::string_view effective_name, bool disabled) {
  auto it = std::find_if(installed_.begin(), installed_.end(),
                         [&](const auto& r) { return same_package(r.plan.package, repo, effective_name); });
  if (it == installed_.end()) {
    return problem::not_found("package " + std::string(repo) + "/" + std::string(effective_name) + " is not installed");
  }
  try {
    SQLite::Statement update(db_.sql(),
                             "UPDATE installed_packages SET disabled = ? WHERE repo = ? AND effective_name = ?");
    update.bind(1, disabled ? 1 : 0);
    update.bind(2, std::string(repo));
    update.bind(3, std::string(effective_name));
    update.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("updating an install record: ") + e.what());
  }
  it->disabled = disabled;
  return {};
}

result<void> package_store::update_plan(const packages::install_plan& plan) {
  const auto& ref = plan.package;
  auto it = std::find_if(installed_.begin(), installed_.end(),
                         [&](const auto& r) { return same_package(r.plan.package, ref.repo, ref.effective_name); });
  if (it == installed_.end()) {
    return problem::not_found("package " + ref.repo + "/" + ref.effective_name + " is not installed");
  }
  try {
    SQLite::Statement update(
        db_.sql(), "UPDATE installed_packages SET plan = ?, plan_secrets = ? WHERE repo = ? AND effective_name = ?");
    update.bind(1, packages::plan_public_json(plan));
    update.bind(2, packages::plan_secret_json(plan));
    update.bind(3, ref.repo);
    update.bind(4, ref.effective_name);
    update.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("updating an install record: ") + e.what());
  }
  it->plan = plan;
  return {};
}

result<void> package_store::add_snapshot(std::int64_t id, const install_record& record) {
  const auto& ref = record.plan.package;
  try {
    SQLite::Statement insert(
        db_.sql(),
        "INSERT OR REPLACE INTO package_snapshots(id, repo, effective_name, version, manifest, plan, "
        "plan_secrets, disabled, installed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, id);
    insert.bind(2, ref.repo);
    insert.bind(3, ref.effective_name);
    insert.bind(4, ref.version);
    insert.bind(5, record.manifest);
    insert.bind(6, packages::plan_public_json(record.plan));
    insert.bind(7, packages::plan_secret_json(record.plan));
    insert.bind(8, record.disabled ? 1 : 0);
    insert.bind(9, record.installed_at);
    insert.bind(10, now());
    insert.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("recording a snapshot: ") + e.what());
  }
  return {};
}

namespace {

constexpr std::string_view snapshot_columns =
    "SELECT id, manifest, plan, plan_secrets, disabled, installed_at, created_at FROM package_snapshots ";

result<snapshot_record> read_snapshot(SQLite::Statement& row) {
  auto plan = packages::plan_from_json(row.getColumn(2).getString(), row.getColumn(3).getString());
  if (!plan) {
    problem p = plan.error();
    p.internal += " (snapshot " + std::to_string(row.getColumn(0).getInt64()) + ")";
    return p;
  }
  return snapshot_record{
      row.getColumn(0).getInt64(),
      {std::move(*plan), row.getColumn(1).getString(), row.getColumn(4).getInt() != 0, row.getColumn(5).getString()},
      row.getColumn(6).getString()};
}

}  // namespace

result<std::vector<snapshot_record>> package_store::snapshots(std::string_view repo,
                                                              std::string_view effective_name) const {
  std::vector<snapshot_record> out;
  try {
    SQLite::Statement query(db_.sql(),
                            std::string(snapshot_columns) + "WHERE repo = ? AND effective_name = ? ORDER BY id DESC");
    query.bind(1, std::string(repo));
    query.bind(2, std::string(effective_name));
    while (query.executeStep()) {
      auto one = read_snapshot(query);
      if (!one) return one.error();
      out.push_back(std::move(*one));
    }
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("listing snapshots: ") + e.what());
  }
  return out;
}

result<std::optional<snapshot_record>> package_store::snapshot(std::int64_t id) const {
  try {
    SQLite::Statement query(db_.sql(), std::string(snapshot_columns) + "WHERE id = ?");
    query.bind(1, id);
    if (!query.executeStep()) return std::optional<snapshot_record>{};
    auto one = read_snapshot(query);
    if (!one) return one.error();
    return std::optional<snapshot_record>(std::move(*one));
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("reading a snapshot: ") + e.what());
  }
}

result<void> package_store::remove_snapshot(std::int64_t id) {
  try {
    SQLite::Statement remove(db_.sql(), "DELETE FROM package_snapshots WHERE id = ?");
    remove.bind(1, id);
    remove.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("removing a snapshot: ") + e.what());
  }
  return {};
}

std::optional<saved_answers> package_store::last_answers(std::string_view repo, std::string_view effective_name) const {
  try {
    SQLite::Statement query(db_.sql(),
                            "SELECT answers, secret_answers FROM package_last_answers WHERE repo = ? AND "
                            "effective_name = ?");
    query.bind(1, std::string(repo));
    query.bind(2, std::string(effective_name));
    if (!query.executeStep()) return std::nullopt;
    return saved_answers{read_answers(query.getColumn(0).getString()), read_answers(query.getColumn(1).getString())};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

result<void> package_store::clear_last_answers(std::string_view repo, std::string_view effective_name) {
  try {
    SQLite::Statement clear(db_.sql(), "DELETE FROM package_last_answers WHERE repo = ? AND effective_name = ?");
    clear.bind(1, std::string(repo));
    clear.bind(2, std::string(effective_name));
    clear.exec();
    // Its dependencies (<name>--dep--…), whichever repository they came from.
    std::string pattern;
    for (char c : effective_name) {
      if (c == '%' || c == '_' || c == '\\') pattern.push_back('\\');
      pattern.push_back(c);
    }
    SQLite::Statement clear_deps(db_.sql(), "DELETE FROM package_last_answers WHERE effective_name LIKE ? ESCAPE '\\'");
    clear_deps.bind(1, pattern + "--dep--%");
    clear_deps.exec();
  } catch (const std::exception& e) {
    return problem::internal_error(std::string("clearing last answers: ") + e.what());
  }
  return {};
}

}  // namespace sc::store
