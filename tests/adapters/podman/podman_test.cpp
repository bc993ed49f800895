// Preflight probes against the sandbox's real podman store and the host's real sockets.
#include "adapters/podman/podman.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>

#include "tests/support/loop.hpp"
#include "tests/support/sandbox.hpp"

namespace sc::podman {
namespace {

TEST(podman_probe, tells_present_from_missing_images) {
  std::string image = test::sandbox_env("SC_PODMAN_IMAGE");
  ASSERT_FALSE(image.empty());
  ASSERT_FALSE(test::sandbox_env("CONTAINERS_CONF").empty());
  boost::asio::io_context io;
  options opts;
  auto present = test::run_to_completion(io, image_exists(opts, image));
  ASSERT_TRUE(present) << present.error().internal;
  EXPECT_TRUE(*present);
  auto absent = test::run_to_completion(io, image_exists(opts, "localhost/sc-no-such-image:latest"));
  ASSERT_TRUE(absent) << absent.error().internal;
  EXPECT_FALSE(*absent);

  auto missing = test::run_to_completion(
      io, missing_images(opts, {image, "localhost/sc-no-such-image:latest", "localhost/sc-no-such-image:2"}));
  ASSERT_TRUE(missing) << missing.error().internal;
  EXPECT_EQ(*missing, (std::set<std::string>{"localhost/sc-no-such-image:2", "localhost/sc-no-such-image:latest"}));

  // An option-looking reference never reaches podman's argv.
  auto hostile = test::run_to_completion(io, image_exists(opts, "--help"));
  ASSERT_FALSE(hostile);
  EXPECT_EQ(hostile.error().status, 422);
}

TEST(podman_probe, a_missing_podman_is_unavailable_not_absent) {
  boost::asio::io_context io;
  options opts;
  opts.program = "/nonexistent/podman";
  auto r = test::run_to_completion(io, image_exists(opts, "localhost/busybox:latest"));
  ASSERT_FALSE(r);
  EXPECT_GE(r.error().status, 500);
}

TEST(podman_probe, tells_running_containers_in_one_call) {
  std::string image = test::sandbox_env("SC_PODMAN_IMAGE");
  ASSERT_FALSE(image.empty());
  const std::string running = "sc-probe-running-" + std::to_string(::getpid());
  const std::string stopped = "sc-probe-stopped-" + std::to_string(::getpid());
  ASSERT_EQ(std::system(("podman run -d --rm --name " + running + " " + image + " sleep 60 >/dev/null").c_str()), 0);
  ASSERT_EQ(std::system(("podman create --name " + stopped + " " + image + " true >/dev/null").c_str()), 0);
  boost::asio::io_context io;
  options opts;
  auto seen = test::run_to_completion(io, running_containers(opts, {running, stopped, "sc-probe-no-such-container"}));
  (void)std::system(("podman rm -f -t 0 " + running + " " + stopped + " >/dev/null 2>&1").c_str());
  ASSERT_TRUE(seen) << seen.error().internal;
  EXPECT_EQ(*seen, std::set<std::string>{running});

  auto hostile = test::run_to_completion(io, running_containers(opts, {"--all"}));
  ASSERT_FALSE(hostile);
  EXPECT_EQ(hostile.error().status, 422);
}

TEST(port_probe, sees_a_listener_and_not_a_free_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);
  EXPECT_EQ(tcp_ports_in_use({port, 0, 70000}), std::set<int>{port});
  ::close(fd);
  EXPECT_TRUE(tcp_ports_in_use({port}).empty());
}

}  // namespace
}  // namespace sc::podman
