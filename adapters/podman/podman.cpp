#include "adapters/podman/podman.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "adapters/process/spawn.hpp"

namespace sc::podman {

namespace {

bool bind_fails_in_use(int family, int port) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;  // no such family on this host: nothing can listen there
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = 0;
  if (family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<std::uint16_t>(port));
    addr.sin6_addr = in6addr_any;
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  int error = errno;
  ::close(fd);
  return rc != 0 && error == EADDRINUSE;
}

}  // namespace

boost::asio::awaitable<result<bool>> image_exists(options opts, std::string image) {
  if (image.empty() || image.front() == '-') co_return problem::unprocessable("image", "invalid image reference");
  process::spawn_request request;
  request.argv = {opts.program, "image", "exists", image};
  request.timeout = opts.timeout;
  request.max_output = std::size_t{16} * 1024;
  auto outcome = co_await process::run_process(std::move(request));
  if (!outcome) co_return outcome.error();
  if (outcome->exit_code == 0 && !outcome->timed_out) co_return true;
  if (outcome->exit_code == 1 && !outcome->timed_out) co_return false;
  problem p = problem::unavailable("podman cannot tell whether image " + image + " is present");
  p.internal = outcome->timed_out ? "podman image exists timed out" : "podman image exists: " + outcome->err;
  co_return p;
}

boost::asio::awaitable<result<std::set<std::string>>> missing_images(options opts, std::vector<std::string> images) {
  std::set<std::string> missing;
  for (auto& image : images) {
    auto present = co_await image_exists(opts, image);
    if (!present) co_return present.error();
    if (!*present) missing.insert(std::move(image));
  }
  co_return missing;
}

std::set<int> tcp_ports_in_use(const std::vector<int>& ports) {
  std::set<int> out;
  for (int port : ports) {
    if (port < 1 || port > 65535) continue;
    if (bind_fails_in_use(AF_INET, port) || bind_fails_in_use(AF_INET6, port)) out.insert(port);
  }
  return out;
}

}  // namespace sc::podman
