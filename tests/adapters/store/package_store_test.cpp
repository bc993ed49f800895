// Install records, the operation journal and last answers survive a reopen; one operation per
// package; secrets stay in their own columns.
#include "adapters/store/package_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include "adapters/store/database.hpp"
#include "core/packages/definition.hpp"
#include "tests/support/counting_bytes.hpp"
#include "tests/support/store_fixture.hpp"

namespace sc::store {
namespace {

constexpr std::string_view web_yaml = R"(image: busybox
description: web
environment:
  PASSWORD: "@pass@"
  PORT: "@port@"
network:
  external:
    "@port@": "80"
volumes:
  www: {mountpoint: /www}
questions:
  pass: {query: "pass?", type: secret}
  port: {query: "port?", type: port}
)";

packages::install_plan web_plan(const std::string& name, const std::string& port) {
  auto def = packages::parse_definition(web_yaml);
  EXPECT_TRUE(def);
  packages::auto_answer_context generate{
      .effective_name = {}, .used_ports = {}, .port_free = {}, .random_bytes = test::counting_bytes};
  packages::plan_request r;
  r.package = {"r", name, "1", name};
  r.definition = &*def;
  r.answers = {{"port", port}};
  r.generate = &generate;
  auto plan = packages::make_plan(r);
  EXPECT_TRUE(plan) << (plan ? "" : plan.error().detail);
  return plan ? *plan : packages::install_plan{};
}

class package_store_test : public test::store_fixture<package_store> {};

TEST_F(package_store_test, an_install_is_journaled_step_by_step_and_recorded_at_the_end) {
  auto plan = web_plan("web", "18080");
  const std::string secret = plan.main().secret_answers.at("pass");
  auto id = store_->begin(operation_kind::install, plan, "preflight", R"({"reuse_volumes":false})");
  ASSERT_TRUE(id) << id.error().detail;
  ASSERT_TRUE(store_->step(*id, "provisioning_volumes"));
  ASSERT_TRUE(store_->add_fresh_volume(*id, "installed/r/web/1/www"));
  ASSERT_TRUE(store_->add_fresh_volume(*id, "installed/r/web/1/www"));

  // A crash here: the reopened store knows the operation, its step, plan and fresh volumes.
  reopen();
  ASSERT_EQ(store_->operations().size(), 1u);
  const auto& op = store_->operations().front();
  EXPECT_EQ(op.id, *id);
  EXPECT_EQ(op.kind, operation_kind::install);
  EXPECT_EQ(op.step, "provisioning_volumes");
  EXPECT_EQ(op.options, R"({"reuse_volumes":false})");
  EXPECT_EQ(op.fresh_volumes, std::vector<std::string>{"installed/r/web/1/www"});
  EXPECT_EQ(op.plan.main().name, plan.main().name);
  EXPECT_EQ(op.plan.main().secret_answers.at("pass"), secret);
  EXPECT_TRUE(store_->installed().empty());

  ASSERT_TRUE(store_->complete_install(*id, {op.plan, std::string(web_yaml), false, ""}));
  EXPECT_TRUE(store_->operations().empty());
  reopen();
  ASSERT_EQ(store_->installed().size(), 1u);
  const auto* record = store_->find("r", "web");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->manifest, web_yaml);
  EXPECT_FALSE(record->disabled);
  EXPECT_FALSE(record->installed_at.empty());
  EXPECT_EQ(record->plan.host_ports(), std::vector<int>{18080});
  EXPECT_EQ(record->plan.main().secret_environment.front().value, secret);
  EXPECT_TRUE(store_->operations().empty());

  // The public plan column never holds the secret; only the secrets column does.
  SQLite::Statement q(db_->sql(), "SELECT plan, plan_secrets FROM installed_packages");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getString().find(secret), std::string::npos);
  EXPECT_NE(q.getColumn(1).getString().find(secret), std::string::npos);
}

TEST_F(package_store_test, one_operation_per_package_even_across_a_restart) {
  auto plan = web_plan("web", "18080");
  auto first = store_->begin(operation_kind::install, plan, "preflight", "{}");
  ASSERT_TRUE(first);
  auto second = store_->begin(operation_kind::uninstall, plan, "stopping", "{}");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().status, 409);
  // Another package is independent.
  EXPECT_TRUE(store_->begin(operation_kind::install, web_plan("other", "18081"), "preflight", "{}"));
  reopen();
  auto again = store_->begin(operation_kind::install, plan, "preflight", "{}");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().status, 409);
  ASSERT_TRUE(store_->abandon(*first));
  EXPECT_TRUE(store_->begin(operation_kind::install, plan, "preflight", "{}"));
  EXPECT_FALSE(store_->step(999, "x"));
  EXPECT_EQ(store_->abandon(999).error().status, 404);
}

TEST_F(package_store_test, update_plan_rewrites_the_record_and_keeps_its_secrets) {
  auto plan = web_plan("web", "18080");
  auto id = store_->begin(operation_kind::install, plan, "preflight", "{}");
  ASSERT_TRUE(id);
  ASSERT_TRUE(store_->complete_install(*id, {plan, std::string(web_yaml), true, ""}));
  plan.containers.front().ingress_address = "10.89.255.7";
  ASSERT_TRUE(store_->update_plan(plan));
  EXPECT_EQ(store_->find("r", "web")->plan.containers.front().ingress_address, "10.89.255.7");
  reopen();
  const auto* record = store_->find("r", "web");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->plan.containers.front().ingress_address, "10.89.255.7");
  EXPECT_EQ(record->plan.main().secret_answers.at("pass"), plan.main().secret_answers.at("pass"));
  EXPECT_TRUE(record->disabled);
  EXPECT_EQ(record->manifest, web_yaml);

  auto other = web_plan("other", "18081");
  EXPECT_EQ(store_->update_plan(other).error().status, 404);
}

TEST_F(package_store_test, uninstall_keeps_the_last_answers_until_cleared_or_reinstalled) {
  auto plan = web_plan("web", "18080");
  auto id = store_->begin(operation_kind::install, plan, "preflight", "{}");
  ASSERT_TRUE(id);
  ASSERT_TRUE(store_->complete_install(*id, {plan, std::string(web_yaml), false, ""}));
  ASSERT_TRUE(store_->set_disabled("r", "web", true));
  reopen();
  EXPECT_TRUE(store_->find("r", "web")->disabled);
  EXPECT_EQ(store_->set_disabled("r", "nope", true).error().status, 404);

  auto un = store_->begin(operation_kind::uninstall, store_->find("r", "web")->plan, "stopping", "{}");
  ASSERT_TRUE(un);
  ASSERT_TRUE(store_->complete_uninstall(*un));
  EXPECT_EQ(store_->find("r", "web"), nullptr);
  reopen();
  EXPECT_TRUE(store_->installed().empty());
  auto last = store_->last_answers("r", "web");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->answers.at("port"), "18080");
  EXPECT_EQ(last->secret_answers.at("pass"), plan.main().secret_answers.at("pass"));
  EXPECT_FALSE(last->answers.contains("pass"));

  // A reinstall clears them; so does an explicit clear.
  auto re = store_->begin(operation_kind::install, plan, "preflight", "{}");
  ASSERT_TRUE(re);
  ASSERT_TRUE(store_->complete_install(*re, {plan, std::string(web_yaml), false, ""}));
  EXPECT_FALSE(store_->last_answers("r", "web"));
  auto un2 = store_->begin(operation_kind::uninstall, plan, "stopping", "{}");
  ASSERT_TRUE(un2);
  ASSERT_TRUE(store_->complete_uninstall(*un2));
  ASSERT_TRUE(store_->last_answers("r", "web"));
  ASSERT_TRUE(store_->clear_last_answers("r", "web"));
  EXPECT_FALSE(store_->last_answers("r", "web"));
}

// An upgrade is journaled as its own kind with the new plan, and survives a reopen; the record it
// keeps (a snapshot) comes back whole, secrets included, newest first, and goes when removed.
TEST_F(package_store_test, upgrades_are_journaled_and_kept_versions_survive_a_reopen) {
  auto old_plan = web_plan("web", "18080");
  auto id = store_->begin(operation_kind::install, old_plan, "preflight", "{}");
  ASSERT_TRUE(id);
  ASSERT_TRUE(store_->complete_install(*id, {old_plan, std::string(web_yaml), true, ""}));
  const std::string secret = old_plan.main().secret_answers.at("pass");

  auto new_plan = web_plan("web", "18081");
  auto upgrade = store_->begin(operation_kind::upgrade, new_plan, "preflight", R"({"from":"1"})");
  ASSERT_TRUE(upgrade);
  ASSERT_TRUE(store_->add_snapshot(*upgrade, *store_->find("r", "web")));
  reopen();
  ASSERT_EQ(store_->operations().size(), 1u);
  EXPECT_EQ(store_->operations().front().kind, operation_kind::upgrade);
  EXPECT_EQ(store_->operations().front().plan.host_ports(), std::vector<int>{18081});
  // Until the upgrade commits, the record is the old version's.
  EXPECT_EQ(store_->find("r", "web")->plan.host_ports(), std::vector<int>{18080});

  auto kept = store_->snapshots("r", "web");
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ(kept->front().id, *upgrade);
  EXPECT_TRUE(kept->front().record.disabled);
  EXPECT_EQ(kept->front().record.manifest, web_yaml);
  EXPECT_EQ(kept->front().record.plan.main().secret_answers.at("pass"), secret);
  EXPECT_FALSE(kept->front().created_at.empty());
  EXPECT_TRUE(store_->snapshots("r", "other")->empty());

  ASSERT_TRUE(store_->complete_install(*upgrade, {new_plan, std::string(web_yaml), true, ""}));
  auto later = store_->begin(operation_kind::upgrade, old_plan, "preflight", "{}");
  ASSERT_TRUE(later);
  ASSERT_TRUE(store_->add_snapshot(*later, *store_->find("r", "web")));
  kept = store_->snapshots("r", "web");
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_EQ(kept->front().id, *later);  // newest first
  EXPECT_EQ(kept->front().record.plan.host_ports(), std::vector<int>{18081});

  ASSERT_TRUE(store_->remove_snapshot(*upgrade));
  auto one = store_->snapshot(*upgrade);
  ASSERT_TRUE(one);
  EXPECT_FALSE(one->has_value());
  EXPECT_EQ(store_->snapshots("r", "web")->size(), 1u);
  // The secrets stay out of the public column here too.
  SQLite::Statement q(db_->sql(), "SELECT plan, plan_secrets FROM package_snapshots");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getString().find(secret), std::string::npos);
}

TEST_F(package_store_test, a_damaged_record_stops_the_open) {
  auto plan = web_plan("web", "18080");
  auto id = store_->begin(operation_kind::install, plan, "preflight", "{}");
  ASSERT_TRUE(id);
  ASSERT_TRUE(store_->complete_install(*id, {plan, std::string(web_yaml), false, ""}));
  db_->sql().exec("UPDATE installed_packages SET plan = '{\"version\":1'");
  store_.reset();
  auto store = package_store::open(*db_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().status, 500);
}

}  // namespace
}  // namespace sc::store
