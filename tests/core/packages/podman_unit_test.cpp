// The systemd + podman rendering of a plan: the unit's shape, quoting, and secrets kept out of the
// unit file and argv.
#include "core/packages/podman_unit.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/packages/version.hpp"
#include "tests/core/packages/fixture_plan.hpp"

namespace sc::packages {
namespace {

using test::fixture_plan;

podman_unit_options options() {
  podman_unit_options o;
  o.btrfs_root = "/town-os";
  o.secrets_directory = "/run/systemcontroller/secrets";
  return o;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool has_line(const std::string& unit, std::string_view line) {
  auto lines = lines_of(unit);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(systemd_quote, quotes_only_what_needs_it_and_escapes_expansions) {
  EXPECT_EQ(systemd_quote("--name"), "--name");
  EXPECT_EQ(systemd_quote("/town-os/installed/a/b:/data:rw"), "/town-os/installed/a/b:/data:rw");
  EXPECT_EQ(systemd_quote("KEY=a,b+c@d"), "KEY=a,b+c@d");
  EXPECT_EQ(systemd_quote(""), "\"\"");
  EXPECT_EQ(systemd_quote("two words"), "\"two words\"");
  EXPECT_EQ(systemd_quote("100%"), "\"100%%\"");
  EXPECT_EQ(systemd_quote("$HOME ${X}"), "\"$$HOME $${X}\"");
  EXPECT_EQ(systemd_quote("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(systemd_quote("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(systemd_quote("it's"), "\"it's\"");
  EXPECT_EQ(systemd_quote("a\tb"), "\"a\\tb\"");
  EXPECT_EQ(systemd_quote(std::string("a\nb")), "\"a\\x0ab\"");
  EXPECT_EQ(systemd_quote(";"), "\\;");
  EXPECT_EQ(systemd_quote("a;b"), "\"a;b\"");
  EXPECT_EQ(systemd_command_line({"/usr/bin/podman", "run", "x y"}), "/usr/bin/podman run \"x y\"");
}

TEST(podman_units, gitea_runs_in_the_foreground_in_its_slice) {
  auto plan = fixture_plan("gitea", "2.0");
  auto units = render_podman_units(plan, options());
  ASSERT_TRUE(units) << units.error().detail;
  ASSERT_EQ(units->size(), 1u);
  const auto& u = units->front();
  EXPECT_EQ(u.unit_name, "town-os-package--default-gitea-2.0.service");
  EXPECT_EQ(u.container, "town-os-package--default-gitea-2.0");
  EXPECT_TRUE(u.env_file.empty());
  EXPECT_TRUE(u.env_file_content.empty());

  const std::vector<std::string> head{"/usr/bin/podman", "run",    "--replace", "--rm",
                                      "--pull=never",    "--name", u.container, "--cgroups=split"};
  ASSERT_GT(u.exec_start.size(), head.size());
  EXPECT_TRUE(std::equal(head.begin(), head.end(), u.exec_start.begin()));
  auto has_pair = [&](std::string_view flag, std::string_view value) {
    for (std::size_t i = 0; i + 1 < u.exec_start.size(); ++i) {
      if (u.exec_start[i] == flag && u.exec_start[i + 1] == value) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_pair("--network", "town-os-net--default-gitea-2.0"));
  EXPECT_TRUE(has_pair("-p", "2222:22/tcp"));
  EXPECT_FALSE(has_pair("-p", "3000:3000/tcp"));  // http goes to the ingress
  EXPECT_TRUE(has_pair("-e", "GITEA__server__DOMAIN=gitea.default.home"));
  EXPECT_TRUE(has_pair("-v", "/town-os/installed/default/gitea/2.0/data:/data:rw"));
  EXPECT_TRUE(has_pair("-v", "/town-os/installed/default/gitea/2.0/log:/data/gitea/log:rw"));
  EXPECT_TRUE(has_pair("--label", "io.town-os.package=default/gitea@2.0"));
  EXPECT_EQ(u.exec_start.back(), "docker.io/gitea/gitea:latest");

  const std::string& unit = u.unit;
  EXPECT_TRUE(has_line(unit, "Description=Town OS: Lightweight self-hosted Git service (local network)")) << unit;
  EXPECT_TRUE(has_line(unit, "Type=simple"));
  EXPECT_TRUE(has_line(unit, "Slice=town-os-packages-default-gitea.slice"));
  EXPECT_TRUE(has_line(unit, "Restart=on-failure"));
  EXPECT_TRUE(has_line(unit, "SuccessExitStatus=143 137"));
  EXPECT_TRUE(has_line(unit, "TimeoutStartSec=300"));
  EXPECT_TRUE(has_line(unit, "Delegate=yes"));
  EXPECT_TRUE(has_line(unit, "ExecStart=" + systemd_command_line(u.exec_start)));
  EXPECT_TRUE(has_line(unit, "ExecStartPre=-/usr/bin/podman network create town-os-net--default-gitea-2.0"));
  EXPECT_TRUE(has_line(unit, "ExecStop=-/usr/bin/podman stop --ignore -t 10 " + u.container));
  EXPECT_TRUE(has_line(unit, "WantedBy=multi-user.target"));
  EXPECT_EQ(unit.find("chown"), std::string::npos);
  EXPECT_EQ(unit.find("DBUS_SYSTEM_BUS_ADDRESS"), std::string::npos);
  // One ExecStart, no socket or network-controller units.
  auto lines = lines_of(unit);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.starts_with("ExecStart="); }),
            1);
}

TEST(podman_units, an_ingress_port_joins_the_ingress_network_at_the_planned_address) {
  auto plan = fixture_plan("gitea", "2.0");
  ASSERT_EQ(plan.main().ingress_port(), 3000);
  plan.containers.back().ingress_address = "10.89.255.7";
  auto o = options();
  o.ingress_subnet = "10.89.255.0/24";
  auto units = render_podman_units(plan, o);
  ASSERT_TRUE(units) << units.error().detail;
  const auto& u = units->front();
  std::vector<std::string> networks;
  for (std::size_t i = 0; i + 1 < u.exec_start.size(); ++i) {
    if (u.exec_start[i] == "--network") networks.push_back(u.exec_start[i + 1]);
  }
  EXPECT_EQ(networks, (std::vector<std::string>{"town-os-net--default-gitea-2.0", "town-os-ingress:ip=10.89.255.7"}));
  EXPECT_TRUE(has_line(u.unit, "ExecStartPre=-/usr/bin/podman network create --subnet 10.89.255.0/24 town-os-ingress"))
      << u.unit;

  // A package without an ingress port never joins it.
  auto postgres = fixture_plan("redis", "1.0");
  ASSERT_EQ(postgres.main().ingress_port(), 0);
  auto plain = render_podman_units(postgres, o);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->back().unit.find("town-os-ingress"), std::string::npos);
}

TEST(podman_units, the_sandbox_options_reach_the_unit) {
  auto plan = fixture_plan("gitea", "2.0");
  auto o = options();
  o.system_bus_address = "unix:path=/var/tmp/sb/run/bus";
  o.wanted_by = "default.target";
  o.split_cgroups = false;
  o.start_timeout = std::chrono::seconds(120);
  auto units = render_podman_units(plan, o);
  ASSERT_TRUE(units);
  const auto& u = units->front();
  EXPECT_TRUE(has_line(u.unit, "Environment=\"DBUS_SYSTEM_BUS_ADDRESS=unix:path=/var/tmp/sb/run/bus\"")) << u.unit;
  EXPECT_TRUE(has_line(u.unit, "WantedBy=default.target"));
  EXPECT_TRUE(has_line(u.unit, "TimeoutStartSec=120"));
  EXPECT_FALSE(has_line(u.unit, "Delegate=yes"));
  EXPECT_EQ(std::find(u.exec_start.begin(), u.exec_start.end(), "--cgroups=split"), u.exec_start.end());
}

TEST(podman_units, immich_secrets_only_in_the_env_file) {
  auto plan = fixture_plan("immich", "2.0", {{"photosize", "20gb"}});
  auto units = render_podman_units(plan, options());
  ASSERT_TRUE(units) << units.error().detail;
  ASSERT_EQ(units->size(), 4u);
  const std::string& password = plan.main().secret_answers.at("dbpass");
  ASSERT_EQ(password.size(), 64u);
  for (const auto& u : *units) {
    EXPECT_EQ(u.unit.find(password), std::string::npos) << u.unit_name;
    for (const auto& a : u.exec_start) EXPECT_EQ(a.find(password), std::string::npos) << u.unit_name;
  }
  const auto& db = (*units)[0];
  const auto& immich = units->back();
  EXPECT_EQ(db.env_file, "/run/systemcontroller/secrets/" + db.container + ".env");
  EXPECT_NE(db.env_file_content.find("POSTGRES_PASSWORD=" + password + "\n"), std::string::npos);
  EXPECT_EQ(db.env_file_content.find("POSTGRES_USER"), std::string::npos);
  EXPECT_NE(std::find(db.exec_start.begin(), db.exec_start.end(), db.env_file), db.exec_start.end());
  EXPECT_EQ(immich.env_file_content, "DB_PASSWORD=" + password + "\n");

  // Dependencies start first, with their parent, on its network, under its slice.
  EXPECT_TRUE(has_line(db.unit, "PartOf=" + immich.unit_name)) << db.unit;
  EXPECT_TRUE(has_line(db.unit, "Before=" + immich.unit_name));
  EXPECT_TRUE(has_line(db.unit, "Slice=town-os-packages-default-immich-db.slice"));
  EXPECT_FALSE(has_line(db.unit, "[Install]"));
  EXPECT_NE(std::find(db.exec_start.begin(), db.exec_start.end(), "--network-alias"), db.exec_start.end());
  EXPECT_TRUE(has_line(immich.unit,
                       "Wants=" + (*units)[0].unit_name + " " + (*units)[1].unit_name + " " + (*units)[2].unit_name));
  EXPECT_TRUE(has_line(immich.unit, "After=" + (*units)[0].unit_name + " " + (*units)[1].unit_name + " " +
                                        (*units)[2].unit_name + " network-online.target"));
  EXPECT_EQ(std::count(db.exec_start.begin(), db.exec_start.end(), "-p"), 0);
}

TEST(podman_units, hostile_values_stay_one_argument_and_one_line) {
  install_plan plan;
  planned_container c;
  c.ref = {"r", "app", "1", "app"};
  c.name = container_name(c.ref);
  c.network = network_name(c.ref);
  c.slice = "town-os-packages-r-app.slice";
  c.image = "docker.io/library/busybox:latest";
  c.description = "50% off\nExecStartPre=/bin/rm -rf /\\";
  c.environment = {{"A", "x y $HOME %n \"q\" \\ ;"}};
  c.entrypoint = {"sh", "-c"};
  c.command = {"echo $1; touch /x", ";"};
  plan.package = c.ref;
  plan.containers.push_back(c);
  auto units = render_podman_units(plan, options());
  ASSERT_TRUE(units);
  const auto& u = units->front();
  for (const auto& line : lines_of(u.unit)) EXPECT_FALSE(line.starts_with("ExecStartPre=/bin/rm")) << line;
  EXPECT_TRUE(has_line(u.unit, "Description=Town OS: 50%% offExecStartPre=/bin/rm -rf /")) << u.unit;
  EXPECT_NE(std::find(u.exec_start.begin(), u.exec_start.end(), "A=x y $HOME %n \"q\" \\ ;"), u.exec_start.end());
  EXPECT_NE(u.unit.find(" -e \"A=x y $$HOME %%n \\\"q\\\" \\\\ ;\" "), std::string::npos) << u.unit;
  EXPECT_NE(std::find(u.exec_start.begin(), u.exec_start.end(), "--entrypoint=[\"sh\",\"-c\"]"), u.exec_start.end());
  EXPECT_NE(u.unit.find(" \"echo $$1; touch /x\" \\;\n"), std::string::npos) << u.unit;

  // A secret that cannot be one env-file line is refused rather than split.
  plan.containers[0].secret_environment = {{"S", "a\nB=evil"}};
  auto refused = render_podman_units(plan, options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 422);

  // Paths the unit cannot carry are a configuration fault.
  plan.containers[0].secret_environment.clear();
  auto o = options();
  o.btrfs_root = "relative";
  EXPECT_FALSE(render_podman_units(plan, o));
  o = options();
  o.btrfs_root = "/a:b";
  EXPECT_FALSE(render_podman_units(plan, o));
}

}  // namespace
}  // namespace sc::packages
