#include "core/units.hpp"

#include <gtest/gtest.h>

namespace sc::units {
namespace {

TEST(units, classifies_units_as_behavior_ops_7_1) {
  EXPECT_EQ(classify_unit("town-os-package--default-gitea-2.0.service"), unit_kind::package_service);
  EXPECT_EQ(classify_unit("town-os-package--default-gitea-2.0-network.service"), unit_kind::package_helper);
  EXPECT_EQ(classify_unit("town-os-package--default-gitea-2.0-upnp.service"), unit_kind::package_helper);
  EXPECT_EQ(classify_unit("town-os-package--default-gitea-2.0-fwd-22.service"), unit_kind::package_helper);
  EXPECT_EQ(classify_unit("town-os-package--default-gitea-2.0-22-tcp.socket"), unit_kind::package_helper);
  EXPECT_EQ(classify_unit("town-os-system--grafana.service"), unit_kind::system_service);
  EXPECT_EQ(classify_unit("town-os-systemcontroller.service"), unit_kind::unmanaged);
  EXPECT_EQ(classify_unit("town-os-package--.service"), unit_kind::package_service);
  EXPECT_EQ(classify_unit("town-os-package--"), unit_kind::unmanaged);
  EXPECT_EQ(classify_unit("dbus.service"), unit_kind::unmanaged);
  EXPECT_EQ(classify_unit("town-os-package--x.timer"), unit_kind::unmanaged);
  EXPECT_EQ(network_unit_of("town-os-package--a-b-1.service"), "town-os-package--a-b-1-network.service");
}

TEST(units, unit_actions_are_checked_before_any_bus_call) {
  EXPECT_TRUE(parse_unit_action("restart").has_value());
  EXPECT_EQ(parse_unit_action("explode").error().status, 422);
  EXPECT_EQ(parse_unit_action("Start").error().errors.front().field, "action");

  EXPECT_TRUE(check_unit_action("town-os-package--a-b-1.service", unit_action::stop).has_value());
  EXPECT_TRUE(check_unit_action("town-os-system--dns.service", unit_action::restart).has_value());
  // The original's newest revision: enable and disable only through /packages.
  EXPECT_EQ(check_unit_action("town-os-system--dns.service", unit_action::enable).error().status, 400);
  EXPECT_EQ(check_unit_action("town-os-package--a-b-1.service", unit_action::disable).error().status, 400);
  EXPECT_EQ(check_unit_action("town-os-systemcontroller.service", unit_action::stop).error().status, 400);
  EXPECT_EQ(check_unit_action("town-os-systemcontroller.service", unit_action::restart).error().status, 403);
  EXPECT_EQ(check_unit_action("dbus.service", unit_action::start).error().status, 403);
  auto bad = check_unit_action("../town-os-package--x.service", unit_action::start);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().status, 422);
  EXPECT_EQ(bad.error().errors.front().field, "name");
  EXPECT_EQ(check_unit_action("-town-os-package--x.service", unit_action::start).error().status, 422);
  EXPECT_EQ(check_unit_action("town-os-package--x", unit_action::start).error().status, 422);
  EXPECT_EQ(check_unit_action("", unit_action::start).error().status, 422);
}

TEST(units, stop_service_names_are_checked_against_the_same_policy) {
  // The archive endpoints' stop_service: the same rules, reported under the form's own field.
  EXPECT_TRUE(check_unit_action("town-os-package--a-b-1.service", unit_action::stop, "stop_service").has_value());
  EXPECT_EQ(check_unit_action("dbus.service", unit_action::stop, "stop_service").error().status, 403);
  EXPECT_EQ(check_unit_action("town-os-systemcontroller.service", unit_action::stop, "stop_service").error().status,
            400);
  auto bad = check_unit_action("x;rm -rf /", unit_action::stop, "stop_service");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().status, 422);
  EXPECT_EQ(bad.error().errors.front().field, "stop_service");
}

TEST(units, a_failed_network_controller_fails_the_package) {
  auto alone = combine_package_state("active", std::nullopt);
  EXPECT_EQ(alone.active_state, "active");
  EXPECT_FALSE(alone.controller_active);
  EXPECT_FALSE(alone.controller_failed);
  auto healthy = combine_package_state("active", "active");
  EXPECT_EQ(healthy.active_state, "active");
  EXPECT_TRUE(healthy.controller_active);
  auto broken = combine_package_state("active", "failed");
  EXPECT_EQ(broken.active_state, "failed");
  EXPECT_TRUE(broken.controller_failed);
  EXPECT_FALSE(broken.controller_active);
  EXPECT_EQ(combine_package_state("inactive", "inactive").active_state, "inactive");
}

}  // namespace
}  // namespace sc::units
