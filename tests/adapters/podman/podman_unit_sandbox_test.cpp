// The rendering of a plan (core/packages/podman_unit.hpp) run for real: the sandbox's systemd user
// manager starts the unit, podman runs the busybox image, the published port serves the volume,
// the secret reaches the container only through the env file, and a stop leaves the unit inactive,
// not failed (SuccessExitStatus covers podman's exit after the stop's SIGKILL).
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/packages/podman_unit.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"

namespace sc::packages {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

void write_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);
}

TEST(podman_unit_sandbox, a_rendered_unit_serves_stops_cleanly_and_hides_its_secret) {
  std::string unit_dir = test::sandbox_env("SC_UNIT_DIR");
  std::string bus = test::sandbox_env("SC_BUS_ADDRESS");
  std::string image = test::sandbox_env("SC_PODMAN_IMAGE");
  ASSERT_FALSE(unit_dir.empty() || bus.empty() || image.empty());

  int port = free_port();
  auto def = parse_definition("image: " + image + R"(
description: "sandbox web: 100% busybox"
environment:
  SECRET: "@pass@"
  GREETING: "hello $USER %h"
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  pass: {query: "pass?", type: secret}
  port: {query: "port?", type: port}
entrypoint: [sh, -c]
command: ["echo \"$GREETING\" > /www/greeting; exec httpd -f -p 8080 -h /www"]
)");
  ASSERT_TRUE(def) << def.error().detail;
  auto_answer_context generate;
  plan_request request;
  std::string repo = "sbx" + std::to_string(::getpid());
  request.package = {repo, "web", "1", "web"};
  request.definition = &*def;
  request.answers = {{"port", std::to_string(port)}};
  request.generate = &generate;
  auto plan = make_plan(request);
  ASSERT_TRUE(plan) << plan.error().detail;
  const std::string secret = plan->main().secret_answers.at("pass");

  std::filesystem::path root = test::make_temp_dir("sc-podman-unit");
  podman_unit_options options;
  options.podman = "/usr/bin/podman";
  options.btrfs_root = root.string();
  options.secrets_directory = (root / "secrets").string();
  options.system_bus_address = bus;
  options.wanted_by = "default.target";
  struct statfs fs {};
  options.split_cgroups = ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
  options.start_timeout = std::chrono::seconds(120);
  auto units = render_podman_units(*plan, options);
  ASSERT_TRUE(units) << units.error().detail;
  ASSERT_EQ(units->size(), 1u);
  const auto& u = units->front();

  write_file(root / plan->main().volumes[0].subvolume / "index.html", "served from the volume\n", 0644);
  write_file(u.env_file, u.env_file_content, 0600);
  write_file(std::filesystem::path(unit_dir) / u.unit_name, u.unit, 0644);
  auto cleanup = [&] {
    test::shell("systemctl --user stop " + u.unit_name + " 2>&1");
    std::filesystem::remove(std::filesystem::path(unit_dir) / u.unit_name);
    test::shell("systemctl --user daemon-reload 2>&1; podman rm -f --ignore " + u.container +
                " >/dev/null 2>&1; podman network rm -f " + plan->main().network + " >/dev/null 2>&1");
    std::filesystem::remove_all(root);
  };

  test::shell("systemctl --user daemon-reload 2>&1");
  test::shell("systemctl --user start " + u.unit_name + " 2>&1");
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  bool served = test::eventually(std::chrono::seconds(60), [&] {
    return test::shell("curl -s --max-time 2 " + url + "/index.html") == "served from the volume\n";
  });
  EXPECT_TRUE(served) << test::shell("systemctl --user status --no-pager " + u.unit_name +
                                     " 2>&1; journalctl -n 30 "
                                     "--no-pager _SYSTEMD_UNIT=" +
                                     u.unit_name + " 2>&1");
  if (served) {
    // Values reach the container byte for byte, through systemd's quoting.
    EXPECT_EQ(test::shell("curl -s --max-time 2 " + url + "/greeting"), "hello $USER %h\n");
    EXPECT_EQ(test::shell("podman exec " + u.container + " sh -c 'echo \"$SECRET\"'"), secret + "\n");
    // Not in the unit file, not in any process's argv.
    EXPECT_EQ(u.unit.find(secret), std::string::npos);
    EXPECT_EQ(test::shell("ps -eo args").find(secret), std::string::npos);
    EXPECT_EQ(test::shell("systemctl --user show -p Slice --value " + u.unit_name), plan->main().slice + "\n");
  }

  test::shell("systemctl --user stop " + u.unit_name + " 2>&1");
  EXPECT_EQ(test::shell("systemctl --user show -p ActiveState --value " + u.unit_name), "inactive\n");
  EXPECT_EQ(test::shell("systemctl --user show -p Result --value " + u.unit_name), "success\n");
  EXPECT_TRUE(test::eventually(std::chrono::seconds(10), [&] {
    return test::shell("podman container exists " + u.container + " && echo yes") != "yes\n";
  }));
  cleanup();
}

}  // namespace
}  // namespace sc::packages
