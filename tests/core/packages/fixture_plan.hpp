#pragma once
// Install plans of the fixture repository's packages (repo "default"), for the tests of what is
// built from a plan: its stored JSON, its renderings. Generated answers come from counting_bytes.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/packages/definition.hpp"
#include "core/packages/plan.hpp"
#include "tests/core/packages/fixture.hpp"
#include "tests/support/counting_bytes.hpp"

namespace sc::test {

// packages/<name>/<version>.yaml of the fixture, parsed; a failure (and null) when it does not parse.
inline std::shared_ptr<const packages::package_definition> fixture_definition(const std::string& name,
                                                                              const std::string& version) {
  auto def = packages::parse_definition(read_text(fixture_root() / "packages" / name / (version + ".yaml")));
  if (!def) {
    ADD_FAILURE() << name << "/" << version << ": " << def.error().detail;
    return nullptr;
  }
  return std::make_shared<const packages::package_definition>(std::move(*def));
}

// The plan of name@version with `answers`; dependencies resolve to the fixture (all of them name a
// single version, "1.0" when unnamed). A failure (and an empty plan) when it cannot be made.
inline packages::install_plan fixture_plan(const std::string& name, const std::string& version,
                                           packages::marker_values answers = {}) {
  packages::auto_answer_context generate{
      .effective_name = {}, .used_ports = {}, .port_free = {}, .random_bytes = counting_bytes};
  auto def = fixture_definition(name, version);
  if (!def) return {};
  packages::plan_request r;
  r.package = {"default", name, version, name};
  r.definition = def.get();
  r.answers = std::move(answers);
  r.resolve = [](std::string_view, std::string_view n,
                 std::string_view v) -> std::optional<packages::resolved_definition> {
    std::string wanted = v.empty() ? "1.0" : std::string(v);
    auto d = fixture_definition(std::string(n), wanted);
    if (!d) return std::nullopt;
    return packages::resolved_definition{"default", std::string(n), wanted, d};
  };
  r.generate = &generate;
  r.default_quota = 1 << 30;
  auto plan = packages::make_plan(r);
  EXPECT_TRUE(plan) << (plan ? "" : plan.error().detail);
  return plan ? *plan : packages::install_plan{};
}

}  // namespace sc::test
