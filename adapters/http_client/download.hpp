#pragma once
// The controller's outbound HTTP client for URLs a client names: fetches one (a VM image) into a
// file, through the SSRF guard of core/vm_images.hpp. (Its sibling, exchange.hpp, talks only to
// servers the controller itself runs on loopback, at addresses from its own configuration.)
//
// Beast's client over Asio (and OpenSSL for https), not libcurl: the server already runs Beast and
// OpenSSL on its one loop, so the download is one more coroutine there, cancelled like every
// other operation, with no second event loop or thread and no new library; and each dialled
// address is in our hands (resolve, check, connect to exactly those endpoints), which libcurl
// offers only through callbacks around its own resolver.
//
// Every hop (the URL and each redirect, at most `max_redirects`) is parsed by core, resolved once,
// and every address the name resolves to must pass `vm_images::check_dial` (one refused address
// refuses the hop: a name that resolves to loopback among others is not a public server); the
// socket then connects only to those checked endpoints, so DNS rebinding between check and connect
// is impossible. A redirect from https to http is refused. https verifies the peer's chain
// against the system's CAs and its name.
//
// Contract: awaited on the loop's executor (it completes there); `files` is that loop's ring.
// Writes the 200 body to `fd` from offset 0 and nothing else to it. No deadline of its own: the
// caller races it with a timer (`op || timer`); cancellation closes the socket and completes with
// problem::unavailable or the I/O error. Errors: 422 (naming `url`) for a refused URL, address or
// redirect, or a host that does not resolve; 413 when the body exceeds `max_bytes` (announced or
// counted); 502 when the server fails (a status other than 200 after redirects, a TLS failure, a
// body cut short before its announced length or last chunk); 500 when the file cannot be written.
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "adapters/file_io/file_ring.hpp"
#include "core/problem.hpp"
#include "core/vm_images.hpp"

namespace sc::http_client {

struct download_options {
  std::uint64_t max_bytes = 0;  // 0: no limit
  std::size_t max_redirects = 5;
  // Test-only exceptions to the guard (empty in production).
  std::vector<vm_images::allowed_endpoint> allowed;
  // Called on the loop after each chunk is written: bytes so far, and the announced length.
  std::function<void(std::uint64_t written, std::optional<std::uint64_t> total)> on_progress;
};

struct download_report {
  std::uint64_t bytes = 0;
  std::string final_url;  // after redirects
};

boost::asio::awaitable<result<download_report>> download(vm_images::fetch_target url, int fd, file_io::file_ring& files,
                                                         download_options options);

}  // namespace sc::http_client
