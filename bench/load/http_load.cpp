// http_load: a keep-alive HTTP/1.1 load generator for TCP or a Unix socket (wrk has no Unix
// sockets). N connections on one thread, each sending the next GET as soon as the previous reply
// arrives, for a fixed duration. Prints requests/s and latency percentiles.
//
//   http_load (--tcp HOST:PORT | --unix PATH) [--path /status/ping] [--connections 10] [--seconds 5]
//             [--header "Authorization: Bearer …"] [--host NAME] [--tls SNI --cacert FILE]
// --tls speaks HTTPS (one handshake per connection, then keep-alive), sending SNI and verifying
// the chain against --cacert and the name (the ingress bench: bench/ingress.sh).
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "adapters/asio/completion.hpp"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using clock_type = std::chrono::steady_clock;
using generic = asio::generic::stream_protocol;

struct options {
  std::string tcp, unix_path, path = "/status/ping", header, host = "localhost", tls_name, cacert;
  int connections = 10;
  double seconds = 5;
};

struct totals {
  std::vector<double> latencies_us;
  long errors = 0;
};

// Requests on one connection until the deadline. True when the server ended the connection after a
// complete answer (no keep-alive: busybox httpd, the floor of the ingress bench): connect again.
template <typename Stream>
asio::awaitable<bool> exchanges(const options& o, Stream& socket, clock_type::time_point until, totals& t) {
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, o.path, 11};
  request.set(bhttp::field::host, o.host);
  if (!o.header.empty()) {
    auto colon = o.header.find(':');
    request.set(o.header.substr(0, colon), o.header.substr(colon + 2));
  }
  boost::beast::flat_buffer buffer;
  while (clock_type::now() < until) {
    auto started = clock_type::now();
    auto [write_ec, w] = co_await bhttp::async_write(socket, request, sc::io_result);
    bhttp::response<bhttp::string_body> response;
    auto [read_ec, r] = co_await bhttp::async_read(socket, buffer, response, sc::io_result);
    if (write_ec || read_ec || response.result_int() != 200) {
      ++t.errors;
      co_return false;
    }
    t.latencies_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - started).count());
    if (!response.keep_alive()) co_return true;
  }
  co_return false;
}

asio::awaitable<void> client(const options& o, asio::ssl::context* tls, generic::endpoint endpoint,
                             clock_type::time_point until, totals& t) {
  bool again = true;
  while (again && clock_type::now() < until) {
    generic::socket socket(co_await asio::this_coro::executor);
    auto [ec] = co_await socket.async_connect(endpoint, sc::io_result);
    if (ec) {
      ++t.errors;
      co_return;
    }
    if (tls == nullptr) {
      again = co_await exchanges(o, socket, until, t);
      continue;
    }
    asio::ssl::stream<generic::socket&> secure(socket, *tls);
    SSL_set_tlsext_host_name(secure.native_handle(), o.tls_name.c_str());
    secure.set_verify_callback(asio::ssl::host_name_verification(o.tls_name));
    auto [handshake_ec] = co_await secure.async_handshake(asio::ssl::stream_base::client, sc::io_result);
    if (handshake_ec) {
      std::fprintf(stderr, "TLS handshake: %s\n", handshake_ec.message().c_str());
      ++t.errors;
      co_return;
    }
    again = co_await exchanges(o, secure, until, t);
  }
}

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--tcp")
      o.tcp = value;
    else if (flag == "--unix")
      o.unix_path = value;
    else if (flag == "--path")
      o.path = value;
    else if (flag == "--connections")
      o.connections = std::stoi(value);
    else if (flag == "--seconds")
      o.seconds = std::stod(value);
    else if (flag == "--header")
      o.header = value;
    else if (flag == "--host")
      o.host = value;
    else if (flag == "--tls")
      o.tls_name = value;
    else if (flag == "--cacert")
      o.cacert = value;
  }
  generic::endpoint endpoint;
  if (!o.unix_path.empty()) {
    endpoint = generic::endpoint(asio::local::stream_protocol::endpoint(o.unix_path));
  } else if (!o.tcp.empty()) {
    auto colon = o.tcp.rfind(':');
    endpoint =
        generic::endpoint(asio::ip::tcp::endpoint(asio::ip::make_address(o.tcp.substr(0, colon)),
                                                  static_cast<unsigned short>(std::stoi(o.tcp.substr(colon + 1)))));
  } else {
    std::fputs("usage: http_load (--tcp HOST:PORT | --unix PATH) [--path P] [--connections N] [--seconds S]\n", stderr);
    return 2;
  }
  asio::io_context io(1);
  std::optional<asio::ssl::context> tls;
  if (!o.tls_name.empty()) {
    tls.emplace(asio::ssl::context::tls_client);
    tls->set_verify_mode(asio::ssl::verify_peer);
    if (!o.cacert.empty()) tls->load_verify_file(o.cacert);
  }
  totals t;
  auto started = clock_type::now();
  auto until = started + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
  for (int c = 0; c < o.connections; ++c)
    asio::co_spawn(io, client(o, tls ? &*tls : nullptr, endpoint, until, t), asio::detached);
  io.run();
  double elapsed = std::chrono::duration<double>(clock_type::now() - started).count();
  auto& l = t.latencies_us;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) {
    return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<std::size_t>(p * static_cast<double>(l.size())))];
  };
  std::printf("requests=%zu errors=%ld rps=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f\n", l.size(), t.errors,
              static_cast<double>(l.size()) / elapsed, pct(0.50), pct(0.99), l.empty() ? 0.0 : l.back());
  return t.errors == 0 ? 0 : 1;
}
