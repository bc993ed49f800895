#include "adapters/podman/podman.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <system_error>

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

namespace {

boost::asio::awaitable<result<process::spawn_outcome>> run_podman(const options& opts, std::vector<std::string> args) {
  process::spawn_request request;
  request.argv = {opts.program};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  request.timeout = opts.timeout;
  request.kill_grace = std::chrono::milliseconds(2000);
  request.max_output = std::size_t{64} * 1024;
  co_return co_await process::run_process(std::move(request));
}

std::string first_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (auto newline = text.find('\n'); newline != std::string::npos) text.resize(newline);
  if (text.size() > 512) text.resize(512);
  return text;
}

}  // namespace

boost::asio::awaitable<result<void>> copy_from_image(options opts, std::string image, std::string directory,
                                                     std::string destination) {
  if (image.empty() || image.front() == '-') co_return problem::unprocessable("image", "invalid image reference");
  if (directory.empty() || directory.front() != '/')
    co_return problem::unprocessable("image_directory", "must be an absolute path");
  // A command is named because an image without one (an imported rootfs) cannot be created; the
  // container is never started.
  std::vector<std::string> create_args = {"create", "--quiet", "--", image, "true"};
  auto created = co_await run_podman(opts, std::move(create_args));
  if (!created) co_return created.error();
  if (created->timed_out) co_return problem::gateway_timeout("podman create " + image + " timed out");
  if (!created->ok())
    co_return problem::unprocessable("image", "podman create " + image + ": " + first_line(created->err));
  std::string id = first_line(created->out);
  if (id.empty() || id.front() == '-') co_return problem::internal_error("podman create printed no container id");
  // "<dir>/." copies what the directory holds, not the directory itself.
  std::string source = id + ":" + (directory == "/" ? std::string("/.") : directory + "/.");
  std::vector<std::string> copy_args = {"cp", "--", source, destination};
  auto copied = co_await run_podman(opts, std::move(copy_args));
  std::vector<std::string> remove_args = {"rm", "--force", "--", id};
  auto removed = co_await run_podman(opts, std::move(remove_args));
  (void)removed;  // a container left behind is not the copy's failure
  if (!copied) co_return copied.error();
  if (copied->timed_out) co_return problem::gateway_timeout("podman cp from " + image + " timed out");
  if (!copied->ok())
    co_return problem::unprocessable("image_directory", "podman cp " + directory + ": " + first_line(copied->err));
  co_return result<void>{};
}

std::set<int> tcp_ports_in_use(const std::vector<int>& ports) {
  std::set<int> out;
  for (int port : ports) {
    if (port < 1 || port > 65535) continue;
    if (bind_fails_in_use(AF_INET, port) || bind_fails_in_use(AF_INET6, port)) out.insert(port);
  }
  return out;
}

boost::asio::awaitable<result<std::set<std::string>>> running_containers(options opts, std::vector<std::string> names) {
  std::set<std::string> running;
  if (names.empty()) co_return running;
  process::spawn_request request;
  request.argv = {opts.program, "container", "inspect", "--format", "{{.Name}} {{.State.Running}}"};
  for (auto& name : names) {
    if (name.empty() || name.front() == '-') co_return problem::unprocessable("name", "invalid container name");
    request.argv.push_back(std::move(name));
  }
  request.timeout = opts.timeout;
  request.max_output = std::size_t{64} * 1024;
  auto outcome = co_await process::run_process(std::move(request));
  if (!outcome) co_return outcome.error();
  if (outcome->timed_out) {
    problem p = problem::unavailable("podman cannot tell which containers run");
    p.internal = "podman container inspect timed out";
    co_return p;
  }
  // Exit 125 with the found ones still printed when some container does not exist.
  std::istringstream lines(outcome->out);
  std::string name;
  std::string state;
  while (lines >> name >> state) {
    if (state == "true") running.insert(name);
  }
  co_return running;
}

boost::asio::awaitable<std::optional<container_usage>> usage_of(options opts, std::vector<std::string> names) {
  auto running = co_await running_containers(opts, names);
  if (!running || running->empty()) co_return std::nullopt;
  process::spawn_request request;
  request.argv = {opts.program, "stats", "--no-stream", "--format",
                  "{{.ContainerStats.MemUsage}} {{.ContainerStats.CPUNano}}"};
  request.argv.insert(request.argv.end(), running->begin(), running->end());
  request.timeout = opts.timeout;
  request.max_output = std::size_t{64} * 1024;
  auto outcome = co_await process::run_process(std::move(request));
  if (!outcome || !outcome->ok()) co_return std::nullopt;
  container_usage total;
  std::istringstream lines(outcome->out);
  std::uint64_t memory = 0;
  std::uint64_t cpu = 0;
  bool any = false;
  while (lines >> memory >> cpu) {
    total.memory_bytes += memory;
    total.cpu_nanoseconds += cpu;
    any = true;
  }
  if (!any) co_return std::nullopt;
  co_return total;
}

std::vector<std::string> vm_host_missing() {
  std::vector<std::string> missing;
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
  } else {
    int error = errno;
    missing.push_back(error == ENOENT
                          ? "KVM: /dev/kvm does not exist (no kvm module, or virtualisation is off)"
                          : "KVM: /dev/kvm cannot be opened (" + std::generic_category().message(error) + ")");
  }
  if (!process::find_program("qemu-system-x86_64")) {
    missing.emplace_back("qemu-system-x86_64 (Debian package qemu-system-x86) is not installed");
  }
  return missing;
}

}  // namespace sc::podman
