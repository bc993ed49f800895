// The upgrade dry run (install-preview of another version): volumes moved, new and dropped; host
// ports and questions added and removed; the unit files' changed lines.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/packages/definition.hpp"
#include "core/packages/preview.hpp"
#include "tests/support/counting_bytes.hpp"

namespace sc::packages {
namespace {

namespace json = boost::json;

struct version {
  package_definition definition;
  install_plan plan;
};

version make(const std::string& number, const std::string& yaml, const std::string& port) {
  auto def = parse_definition(yaml);
  EXPECT_TRUE(def) << (def ? "" : def.error().detail);
  auto_answer_context generate{
      .effective_name = {}, .used_ports = {}, .port_free = {}, .random_bytes = test::counting_bytes};
  plan_request r;
  r.package = {"r", "web", number, "web"};
  r.definition = &*def;
  r.answers = {{"port", port}};
  r.generate = &generate;
  auto plan = make_plan(r);
  EXPECT_TRUE(plan) << (plan ? "" : plan.error().detail);
  return {*def, plan ? *plan : install_plan{}};
}

TEST(line_diff, reports_only_changed_lines_in_order) {
  EXPECT_TRUE(line_diff("a\nb\nc\n", "a\nb\nc\n").empty());
  EXPECT_EQ(line_diff("a\nb\nc", "a\nx\nc"), (std::vector<std::string>{"-b", "+x"}));
  EXPECT_EQ(line_diff("", "a\nb"), (std::vector<std::string>{"+a", "+b"}));
  EXPECT_EQ(line_diff("a\nb", ""), (std::vector<std::string>{"-a", "-b"}));
  EXPECT_EQ(line_diff("a\nb\nc\nd", "b\nc\nd\ne"), (std::vector<std::string>{"-a", "+e"}));
}

TEST(upgrade_diff, names_what_moves_arrives_and_goes) {
  auto from = make("1.0", R"(image: busybox
description: web
network:
  external:
    "@port@": "80"
volumes:
  www: {mountpoint: /www}
  old: {mountpoint: /old}
questions:
  port: {query: "port?", type: port}
  greeting: {query: "hi?", default: hello}
)",
                   "18080");
  auto to = make("2.0", R"(image: busybox:2
description: web
network:
  external:
    "@port@": "80"
    "18443": "443"
volumes:
  www: {mountpoint: /www}
  extra: {mountpoint: /extra}
questions:
  port: {query: "port?", type: port}
  admin: {query: "admin?", default: root}
)",
                 "18080");
  upgrade_diff_input input;
  input.from = &from.plan;
  input.to = &to.plan;
  input.from_definition = &from.definition;
  input.to_definition = &to.definition;
  input.from_units = {{"web-1.0.service", "[Service]\nExecStart=podman run busybox\n"}};
  input.to_units = {{"web-2.0.service", "[Service]\nExecStart=podman run busybox:2\n"}};
  auto diff = json::parse(upgrade_diff(input)).as_object();
  EXPECT_EQ(json::serialize(diff.at("volumes")), R"({"moved":["www"],"new":["extra"],"dropped":["old"]})");
  EXPECT_EQ(json::serialize(diff.at("ports")), R"({"added":[18443],"removed":[]})");
  EXPECT_EQ(json::serialize(diff.at("questions")), R"({"added":["admin"],"removed":["greeting"]})");
  EXPECT_EQ(json::serialize(diff.at("units")),
            R"([{"from":"web-1.0.service","to":"web-2.0.service","diff":["-ExecStart=podman run busybox",)"
            R"("+ExecStart=podman run busybox:2"]}])");

  // The same version again changes nothing.
  input.to = &from.plan;
  input.to_definition = &from.definition;
  input.to_units = input.from_units;
  diff = json::parse(upgrade_diff(input)).as_object();
  EXPECT_EQ(json::serialize(diff.at("volumes")), R"({"moved":["old","www"],"new":[],"dropped":[]})");
  EXPECT_EQ(json::serialize(diff.at("units")), "[]");
}

}  // namespace
}  // namespace sc::packages
