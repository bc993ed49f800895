#pragma once
// The facts preflight asks of the host before an install (core/packages/preflight.hpp): is an
// image present in podman's local store, is a host port free. podman runs through the one spawn
// helper (adapters/process/spawn.hpp) with an explicit argv and a timeout; port probes are a bind
// on this process's own socket, released at once.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace sc::podman {

struct options {
  std::string program = "podman";  // a bare name is looked up in PATH's absolute directories
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

// True when `image` (a normalised reference) is in the local store: `podman image exists`, exit 0
// present, 1 absent. Anything else (podman missing, storage broken, timeout) is a 503 problem that
// carries podman's own message in `internal`. Awaited on the loop thread.
boost::asio::awaitable<result<bool>> image_exists(options opts, std::string image);

// Of `images`, those not in the local store (the first failing probe's problem otherwise).
boost::asio::awaitable<result<std::set<std::string>>> missing_images(options opts, std::vector<std::string> images);

// Of `ports`, the TCP ports something listens on (or holds) now, on any IPv4 or IPv6 address:
// a bind with SO_REUSEADDR fails with EADDRINUSE. Cheap and synchronous (two syscalls per port).
std::set<int> tcp_ports_in_use(const std::vector<int>& ports);

// Of the containers `names`, those running now, in one `podman container inspect` (a container
// that does not exist is not running). A podman that cannot answer at all is a 503 problem.
boost::asio::awaitable<result<std::set<std::string>>> running_containers(options opts, std::vector<std::string> names);

// What the running containers among `names` use now (`podman stats --no-stream`): memory in
// bytes and CPU time in nanoseconds, summed. Containers that do not run count nothing; nullopt when
// none of them runs or podman cannot say.
struct container_usage {
  std::uint64_t memory_bytes = 0;
  std::uint64_t cpu_nanoseconds = 0;
};
boost::asio::awaitable<std::optional<container_usage>> usage_of(options opts, std::vector<std::string> names);

// Copies `directory` (absolute, validated by the caller) out of `image` into `destination` (an
// existing empty directory the caller owns): `podman create` (the image pulled when missing), `podman
// cp <id>:<directory>/. <destination>`, then `podman rm` of the container whatever happened. The
// copied tree keeps the image's symlinks: the caller sweeps it. 422 when the image or the directory
// is not there (podman's message in `detail`), 504 after `opts.timeout` per command. Cancellation
// kills the running command; the container is still removed.
boost::asio::awaitable<result<void>> copy_from_image(options opts, std::string image, std::string directory,
                                                     std::string destination);

// What a VM package needs (behavior-ops.md §7.5) that this host lacks, each as a sentence naming
// it: /dev/kvm usable read-write, and qemu-system-x86_64. Empty when both are there.
std::vector<std::string> vm_host_missing();

}  // namespace sc::podman
