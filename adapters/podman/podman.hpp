#pragma once
// The facts preflight asks of the host before an install (core/packages/preflight.hpp): is an
// image present in podman's local store, is a host port free. podman runs through the one spawn
// helper (adapters/process/spawn.hpp) with an explicit argv and a timeout; port probes are a bind
// on this process's own socket, released at once.

#include <boost/asio/awaitable.hpp>
#include <chrono>
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

}  // namespace sc::podman
