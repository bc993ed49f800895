// Preflight decides from gathered facts, in a fixed order, with plain problems.
#include "core/packages/preflight.hpp"

#include <gtest/gtest.h>

#include "tests/support/counting_bytes.hpp"

namespace sc::packages {
namespace {

install_plan web(const std::string& repo, const std::string& name, const std::string& port, std::uint64_t quota = 0) {
  auto def = parse_definition(R"(image: busybox
description: web
network:
  external:
    "@port@": "80"
volumes:
  www: {mountpoint: /www}
  logs: {mountpoint: /logs}
questions:
  port: {query: "port?", type: port}
)");
  EXPECT_TRUE(def);
  auto_answer_context generate{
      .effective_name = {}, .used_ports = {}, .port_free = {}, .random_bytes = test::counting_bytes};
  plan_request r;
  r.package = {repo, name, "1", name};
  r.definition = &*def;
  r.answers = {{"port", port}};
  r.generate = &generate;
  r.default_quota = quota;
  auto plan = make_plan(r);
  EXPECT_TRUE(plan);
  return plan ? *plan : install_plan{};
}

TEST(preflight, passes_a_plan_that_fits) {
  auto plan = web("r", "web", "18080", 1 << 20);
  auto other = web("r", "other", "18081");
  preflight_facts facts;
  facts.installed = {&other, &plan};  // itself included: a reinstall does not conflict with itself
  facts.available_bytes = 10 << 20;
  EXPECT_TRUE(preflight(plan, facts));
  EXPECT_EQ(images_of(plan), std::vector<std::string>{"docker.io/library/busybox:latest"});
}

TEST(preflight, refuses_in_order_with_the_right_status) {
  auto plan = web("a", "b-c", "18080", 1 << 30);
  auto same_names = web("a-b", "c", "19000");
  auto same_port = web("r", "other", "18080");

  preflight_facts facts;
  facts.operation_in_flight = true;
  facts.installed = {&same_names, &same_port};
  facts.host_ports_bound = {18080};
  facts.images_missing = {"docker.io/library/busybox:latest"};
  facts.available_bytes = 1 << 20;

  auto step = [&] { return preflight(plan, facts); };
  auto r = step();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 409);
  EXPECT_NE(r.error().detail.find("in progress"), std::string::npos);

  facts.operation_in_flight = false;
  r = step();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 409);
  EXPECT_NE(r.error().detail.find("a-b-c-1 is already used by installed package a-b/c@1"), std::string::npos)
      << r.error().detail;

  facts.installed = {&same_port};
  r = step();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 409);
  EXPECT_NE(r.error().detail.find("18080"), std::string::npos);
  EXPECT_NE(r.error().detail.find("r/other"), std::string::npos);

  facts.installed.clear();
  r = step();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 409);
  EXPECT_NE(r.error().detail.find("in use on this host"), std::string::npos);

  facts.host_ports_bound = {18081};  // not ours
  r = step();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 422);
  ASSERT_EQ(r.error().errors.size(), 1u);
  EXPECT_EQ(r.error().errors[0].field, "image");
  EXPECT_NE(r.error().errors[0].message.find("docker.io/library/busybox:latest"), std::string::npos);

  facts.images_missing.clear();
  r = step();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 422);
  EXPECT_EQ(r.error().errors[0].field, "volumes");
  EXPECT_NE(r.error().errors[0].message.find("2.0 GiB"), std::string::npos) << r.error().errors[0].message;

  facts.available_bytes = (2ull << 30) + 100;
  facts.reserved_bytes = 200;
  EXPECT_FALSE(step());
  facts.reserved_bytes = 100;
  EXPECT_TRUE(step());
  facts.available_bytes.reset();
  EXPECT_TRUE(step());
}

}  // namespace
}  // namespace sc::packages
