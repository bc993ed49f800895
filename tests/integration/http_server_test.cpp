// The real binary on 127.0.0.1:0 and a Unix socket, against the sandbox host: routing, problem
// details, limits, keep-alive and pipelining, local privilege, readiness, graceful shutdown.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "tests/support/contract.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

boost::json::value body_json(const http_reply& reply) {
  return boost::json::parse(reply.body);
}

void expect_problem(const http_reply& reply, int status) {
  EXPECT_EQ(reply.status, status) << reply.body;
  EXPECT_EQ(reply.header("content-type"), "application/problem+json");
  auto body = body_json(reply);
  EXPECT_EQ(body.at("status").as_int64(), status);
  EXPECT_EQ(body.at("type").as_string(), "about:blank#" + std::to_string(status));
  EXPECT_TRUE(body.as_object().contains("title"));
  EXPECT_TRUE(body.as_object().contains("detail"));
}

// Waits until the server has read everything sent on `connection` so far: the server's end of it
// (local port `server_port`, remote port ours) has an empty receive queue in /proc/net/tcp.
bool wait_until_server_read(const raw_connection& connection, unsigned short server_port) {
  sockaddr_in ours{};
  socklen_t length = sizeof ours;
  if (::getsockname(connection.fd(), reinterpret_cast<sockaddr*>(&ours), &length) != 0) return false;
  const unsigned our_port = ntohs(ours.sin_port);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream table("/proc/net/tcp");
    std::string line;
    std::getline(table, line);  // the column names
    while (std::getline(table, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues;
      fields >> slot >> local >> remote >> state >> queues;
      const auto port_of = [](const std::string& address) {
        return std::stoul(address.substr(address.find(':') + 1), nullptr, 16);
      };
      if (port_of(local) == server_port && port_of(remote) == our_port &&
          std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16) == 0) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

class http_server : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new server_process(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  // Data members end in _ (STYLE.md §10); .clang-tidy gives the suffix to non-static ones only.
  // NOLINTNEXTLINE(readability-identifier-naming)
  static server_process* server_;
  unsigned short port() const { return server_->port(); }
};
server_process* http_server::server_ = nullptr;

TEST_F(http_server, health_reports_uptime) {
  ASSERT_TRUE(server_->started());
  auto reply = request(port(), "GET", "/health");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("content-type"), "application/json");
  auto body = body_json(reply);
  EXPECT_EQ(body.at("status").as_string(), "ok");
  EXPECT_GE(body.at("uptime_seconds").to_number<double>(), 0.0);
  EXPECT_EQ(reply.body.back(), '\n');
}

TEST_F(http_server, anonymous_ping_is_minimal) {
  auto reply = request(port(), "GET", "/status/ping");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("cache-control"), "no-store");
  auto body = body_json(reply).as_object();
  EXPECT_EQ(body.at("status").as_string(), "ok");
  EXPECT_TRUE(body.at("needs_setup").as_bool());
  EXPECT_EQ(body.at("boot_id").as_string().size(), 36u);
}

TEST_F(http_server, unknown_route_is_404_problem) {
  expect_problem(request(port(), "GET", "/no/such/route"), 404);
}

TEST_F(http_server, wrong_method_is_405_with_allow) {
  auto reply = request(port(), "POST", "/health", "{}");
  expect_problem(reply, 405);
  EXPECT_EQ(reply.header("allow"), "GET, HEAD");
}

TEST_F(http_server, head_has_headers_and_no_body) {
  auto connection = raw_connection::tcp(port());
  ASSERT_TRUE(connection.send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = connection.read_reply(std::chrono::seconds(10), true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_NE(head->header("content-length"), "0");
  // The HEAD reply carried no body: the next bytes are the GET's status line.
  auto get = connection.read_reply();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(body_json(*get).at("status").as_string(), "ok");
}

TEST_F(http_server, keep_alive_and_pipelining) {
  auto connection = raw_connection::tcp(port());
  std::string pipelined;
  for (int i = 0; i < 5; ++i) pipelined += format_request("GET", "/health", "", {}, true);
  pipelined += format_request("GET", "/nope", "", {}, true);
  ASSERT_TRUE(connection.send(pipelined));
  for (int i = 0; i < 5; ++i) {
    auto reply = connection.read_reply();
    ASSERT_TRUE(reply) << "reply " << i;
    EXPECT_EQ(reply->status, 200);
  }
  auto last = connection.read_reply();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 404);
  // Still open for more.
  ASSERT_TRUE(connection.send(format_request("GET", "/health", "", {}, true)));
  auto again = connection.read_reply();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(http_server, malformed_requests_get_400_and_close) {
  for (const std::string& garbage : {std::string("NONSENSE\r\n\r\n"), std::string("GET /health HTTP/9.9\r\n\r\n"),
                                     std::string("GET /health HTTP/1.1\r\nBad Header\r\n\r\n"),
                                     std::string("GET /health HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
                                     std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n"}) {
    auto connection = raw_connection::tcp(port());
    ASSERT_TRUE(connection.send(garbage));
    auto reply = connection.read_reply();
    ASSERT_TRUE(reply) << garbage;
    expect_problem(*reply, 400);
    EXPECT_TRUE(connection.closed_by_peer(std::chrono::seconds(5)));
  }
}

TEST_F(http_server, bad_target_gets_400) {
  auto connection = raw_connection::tcp(port());
  ASSERT_TRUE(connection.send("GET http://[bad/ HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto reply = connection.read_reply();
  ASSERT_TRUE(reply);
  expect_problem(*reply, 400);
}

TEST_F(http_server, oversized_header_gets_431) {
  auto connection = raw_connection::tcp(port());
  std::string request =
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(std::size_t{64} * 1024, 'a') + "\r\n\r\n";
  connection.send(request);
  auto reply = connection.read_reply();
  ASSERT_TRUE(reply);
  expect_problem(*reply, 431);
}

TEST_F(http_server, oversized_body_gets_413_without_reading_it) {
  auto connection = raw_connection::tcp(port());
  // Announce 10 MiB but send only the header: the server must answer from the header alone.
  ASSERT_TRUE(connection.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n"));
  auto reply = connection.read_reply();
  ASSERT_TRUE(reply);
  expect_problem(*reply, 413);
  EXPECT_TRUE(connection.closed_by_peer(std::chrono::seconds(5)));
}

TEST_F(http_server, oversized_chunked_body_gets_413) {
  auto connection = raw_connection::tcp(port());
  std::string chunk(std::size_t{256} * 1024, 'x');
  std::string request = "POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) request += "40000\r\n" + chunk + "\r\n";
  request += "0\r\n\r\n";
  connection.send(request);
  auto reply = connection.read_reply();
  ASSERT_TRUE(reply);
  expect_problem(*reply, 413);
}

// Beast 1.81 asserts (an abort in this sanitizer build, any client could crash the server) when
// the last chunk of a chunked body reaches its parser in pieces: "0\r\n", then "\r", then "\n".
// The connection frames a chunked body itself before Beast parses it whole
// (server/request_framing.hpp). Each piece is sent once the server has read the one before.
TEST_F(http_server, a_chunked_body_whose_last_chunk_arrives_in_pieces_is_answered) {
  const std::string head = "POST /account/authenticate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& first : {head + "0\r\n", head + "2\r\n{}\r\n0\r\n"}) {
    auto connection = raw_connection::tcp(port());
    for (const std::string& piece : {first, std::string("\r"), std::string("\n")}) {
      ASSERT_TRUE(connection.send(piece));
      ASSERT_TRUE(wait_until_server_read(connection, port()));
    }
    auto reply = connection.read_reply();
    ASSERT_TRUE(reply) << "no answer to " << first;
    expect_problem(*reply, 400);  // an empty body, then one without the fields: the body was read whole
  }
  EXPECT_EQ(request(port(), "GET", "/health").status, 200);
}

TEST_F(http_server, malformed_chunked_framing_gets_400) {
  const std::string head = "POST /account/authenticate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::string_view body : {"zz\r\n", "2\r\n{}XX", "2\n{}\r\n0\r\n\r\n", "0\r\n\rX"}) {
    auto connection = raw_connection::tcp(port());
    ASSERT_TRUE(connection.send(head + std::string(body)));
    auto reply = connection.read_reply();
    ASSERT_TRUE(reply) << body;
    expect_problem(*reply, 400);
  }
}

TEST_F(http_server, metrics_need_privilege_over_tcp) {
  auto reply = request(port(), "GET", "/metrics");
  expect_problem(reply, 401);
  EXPECT_EQ(body_json(reply).at("detail").as_string(), "missing authorization token");
  auto bad_token = request(port(), "GET", "/metrics", "", {{"Authorization", "Bearer nope"}});
  expect_problem(bad_token, 401);
  EXPECT_EQ(body_json(bad_token).at("detail").as_string(), "invalid session");
}

TEST_F(http_server, root_on_the_unix_socket_is_local_admin) {
  request(port(), "GET", "/health");
  request(port(), "GET", "/no/such/route");
  auto reply = request_unix(server_->socket_path(), "GET", "/metrics");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(reply.body.find("townos_http_requests_total{method=\"GET\",route=\"/health\",status=\"2xx\"}"),
            std::string::npos);
  EXPECT_NE(reply.body.find("route=\"unmatched\",status=\"4xx\""), std::string::npos);
  EXPECT_NE(reply.body.find("townos_http_request_duration_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(reply.body.find("townos_http_open_connections "), std::string::npos);
  EXPECT_NE(reply.body.find("townos_child_processes "), std::string::npos);
  EXPECT_NE(reply.body.find("townos_sse_subscribers "), std::string::npos);
}

TEST_F(http_server, openapi_lists_every_route_with_its_auth_level) {
  auto reply = request(port(), "GET", "/openapi.json");
  ASSERT_EQ(reply.status, 200);
  auto paths = body_json(reply).at("paths").as_object();
  EXPECT_EQ(paths.at("/metrics").at("get").at("x-auth-level").as_string(), "admin-or-metrics");
  EXPECT_EQ(paths.at("/health").at("get").at("x-auth-level").as_string(), "public");
  // A prefix route declares the rest of its path as a parameter.
  const auto& proxy = paths.at("/monitoring/grafana/{path}").at("get");
  EXPECT_EQ(proxy.at("parameters").at(0).at("name").as_string(), "path");
  EXPECT_EQ(proxy.at("parameters").at(0).at("in").as_string(), "path");
  EXPECT_EQ(proxy.at("operationId").as_string(), "getMonitoringGrafanaPath");
}

// Issue 15: devices fetch the local CA before they trust anything here, so it is public, and it is
// the certificate the controller keeps in its state directory (created at the first start).
TEST_F(http_server, the_local_ca_certificate_is_public_pem) {
  auto reply = request(port(), "GET", "/tls/ca.crt");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(reply.body.starts_with("-----BEGIN CERTIFICATE-----\n")) << reply.body;
  EXPECT_TRUE(reply.body.ends_with("-----END CERTIFICATE-----\n"));
  EXPECT_EQ(reply.headers["content-type"], "application/x-x509-ca-cert");
  std::ifstream stored(std::filesystem::path(server_->state_dir()) / "tls" / "ca.crt");
  std::stringstream text;
  text << stored.rdbuf();
  EXPECT_EQ(text.str(), reply.body);
  auto paths = body_json(request(port(), "GET", "/openapi.json")).at("paths").as_object();
  EXPECT_EQ(paths.at("/tls/ca.crt").at("get").at("x-auth-level").as_string(), "public");
}

// Issue 17: the contract check every reply goes through (tests/support/contract) does fail on drift:
// a member the schema lacks, a missing one, a wrong type, an undeclared status or stream event.
TEST_F(http_server, the_contract_check_finds_a_reply_that_drifted_from_the_document) {
  auto fetch = [this] { return request(port(), "GET", "/openapi.json"); };
  auto health = request(port(), "GET", "/health");
  ASSERT_EQ(health.status, 200);
  EXPECT_TRUE(contract_differences("GET", "/health", health, fetch).empty());
  auto drifted = [&](std::string body, int status = 200) {
    http_reply reply = health;
    reply.status = status;
    reply.body = std::move(body);
    auto found = contract_differences("GET", "/health", reply, fetch);
    return found.empty() ? std::string() : found.front();
  };
  EXPECT_NE(drifted(R"({"status":"ok","uptime_seconds":1,"extra":true})").find("body.extra is not declared"),
            std::string::npos);
  EXPECT_NE(drifted(R"({"status":"ok"})").find("lacks the required member uptime_seconds"), std::string::npos);
  EXPECT_NE(drifted(R"({"status":"ok","uptime_seconds":"1"})").find("body.uptime_seconds is string"),
            std::string::npos);
  EXPECT_NE(drifted(R"({"status":"fine","uptime_seconds":1})").find("is not one of"), std::string::npos);
  EXPECT_NE(drifted("{}", 409).find("the status is not declared"), std::string::npos);
  EXPECT_NE(event_differences("GET", "/systemd/logs", "", R"({"MESSAGE":1})", fetch).size(), 0u);
  EXPECT_NE(event_differences("GET", "/systemd/logs", "surprise", "{}", fetch).size(), 0u);
}

// Issue 17: the document passes Redocly CLI's recommended rules with no error (tools/deps installs
// the CLI from tools/openapi/package-lock.json; its absence fails here, never skips).
TEST_F(http_server, openapi_document_lints_clean_with_redocly) {
  const char* source = std::getenv("SC_SOURCE_DIR");  // NOLINT(concurrency-mt-unsafe): read-only
  ASSERT_NE(source, nullptr);
  const std::string redocly = std::string(source) + "/tools/openapi/node_modules/.bin/redocly";
  ASSERT_EQ(::access(redocly.c_str(), X_OK), 0) << redocly << " is missing: run tools/deps";
  auto reply = request(port(), "GET", "/openapi.json");
  ASSERT_EQ(reply.status, 200);
  const std::string dir = make_temp_dir("sc-openapi");
  const std::string document = dir + "/openapi.json";
  std::ofstream(document) << reply.body;
  std::string report = shell("'" + redocly + "' lint --format=summary '" + document + "' 2>&1; echo exit=$?");
  std::filesystem::remove_all(dir);
  EXPECT_NE(report.find("exit=0"), std::string::npos) << report;
  EXPECT_EQ(report.find("error "), std::string::npos) << report;
}

TEST_F(http_server, ready_checks_database_and_btrfs) {
  auto reply = request(port(), "GET", "/ready");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto checks = body_json(reply).at("checks").as_object();
  EXPECT_EQ(checks.at("database").as_string(), "ok");
  EXPECT_EQ(checks.at("btrfs").as_string(), "ok");
  EXPECT_EQ(checks.at("dbus").as_string(), "ok");
  EXPECT_EQ(checks.at("programs").as_string(), "ok");
}

TEST(http_server_limits, ready_is_503_naming_the_missing_programs) {
  // An empty PATH hides every program the daemon looks up by name; absolute ones stay.
  server_process server({}, true, {"PATH=/nonexistent"});
  ASSERT_TRUE(server.started());
  auto reply = request(server.port(), "GET", "/ready");
  expect_problem(reply, 503);
  auto body = body_json(reply);
  std::string detail(body.at("detail").as_string());
  EXPECT_NE(detail.find("git (Debian package git)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("podman (Debian package podman)"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("btrfs-progs"), std::string::npos) << "the daemon runs no btrfs program: " << detail;
  EXPECT_EQ(detail.find("netavark"), std::string::npos) << "an absolute path does not depend on PATH: " << detail;
  EXPECT_EQ(detail.find("database"), std::string::npos) << detail;
}

TEST(http_server_limits, ready_is_503_naming_what_is_down) {
  server_process server({"--btrfs-root", "/tmp"}, false);
  ASSERT_TRUE(server.started());
  auto reply = request(server.port(), "GET", "/ready");
  expect_problem(reply, 503);
  EXPECT_NE(body_json(reply).at("detail").as_string().find("btrfs"), std::string::npos);
}

TEST(http_server_limits, ready_is_503_when_dbus_is_unreachable) {
  server_process server({"--bus", "unix:path=/nonexistent/bus"});
  ASSERT_TRUE(server.started());
  EXPECT_EQ(request(server.port(), "GET", "/health").status, 200) << "the server serves without D-Bus";
  auto reply = request(server.port(), "GET", "/ready");
  expect_problem(reply, 503);
  EXPECT_NE(body_json(reply).at("detail").as_string().find("dbus"), std::string::npos);
}

TEST(http_server_limits, slow_headers_are_cut_off) {
  server_process server({"--header-timeout", "300"});
  ASSERT_TRUE(server.started());
  auto connection = raw_connection::tcp(server.port());
  ASSERT_TRUE(connection.send("GET /health HTTP/1.1\r\nHost: x\r\n"));  // never finishes the header
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(connection.closed_by_peer(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  // The server is unharmed.
  EXPECT_EQ(request(server.port(), "GET", "/health").status, 200);
}

TEST(http_server_limits, idle_keep_alive_connections_are_closed) {
  server_process server({"--idle-timeout", "300"});
  ASSERT_TRUE(server.started());
  auto connection = raw_connection::tcp(server.port());
  EXPECT_TRUE(connection.closed_by_peer(std::chrono::seconds(5)));
}

TEST(http_server_limits, connections_over_the_limit_get_503) {
  server_process server({"--max-connections", "2"});
  ASSERT_TRUE(server.started());
  auto first = raw_connection::tcp(server.port());
  auto second = raw_connection::tcp(server.port());
  // Make sure both are accepted and counted before the third arrives.
  ASSERT_TRUE(first.send(format_request("GET", "/health", "", {}, true)));
  ASSERT_TRUE(first.read_reply());
  ASSERT_TRUE(second.send(format_request("GET", "/health", "", {}, true)));
  ASSERT_TRUE(second.read_reply());
  auto third = raw_connection::tcp(server.port());
  auto reply = third.read_reply(std::chrono::seconds(5));
  ASSERT_TRUE(reply);
  expect_problem(*reply, 503);
  EXPECT_EQ(reply->header("retry-after"), "1");
}

TEST(http_server_limits, sigterm_closes_idle_connections_and_exits_zero) {
  server_process server;
  ASSERT_TRUE(server.started());
  auto idle = raw_connection::tcp(server.port());
  ASSERT_TRUE(idle.send(format_request("GET", "/health", "", {}, true)));
  ASSERT_TRUE(idle.read_reply());
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  EXPECT_TRUE(idle.closed_by_peer(std::chrono::seconds(1)));
  EXPECT_NE(server.log().find("stopped"), std::string::npos);
}

TEST(http_server_limits, repeated_sigterm_still_exits_zero) {
  server_process server({"--shutdown-grace", "2000"});
  ASSERT_TRUE(server.started());
  auto busy = raw_connection::tcp(server.port());
  ASSERT_TRUE(busy.send("GET /health HTTP/1.1\r\nHost: x\r\n"));  // keeps the stop waiting
  ::kill(server.pid(), SIGTERM);
  ASSERT_TRUE(server.wait_for_log("stopping"));
  ::kill(server.pid(), SIGTERM);
  ASSERT_TRUE(server.wait_for_log("again: already stopping"));
  ASSERT_TRUE(busy.send("\r\n"));
  ASSERT_TRUE(busy.read_reply(std::chrono::seconds(5)));
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
}

TEST(http_server_limits, sigterm_lets_an_in_flight_request_finish) {
  server_process server({"--shutdown-grace", "5000"});
  ASSERT_TRUE(server.started());
  auto busy = raw_connection::tcp(server.port());
  // Half a request: the connection is mid-request when SIGTERM arrives.
  ASSERT_TRUE(busy.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
  ::kill(server.pid(), SIGTERM);
  // Finish the request only once the server has begun stopping.
  ASSERT_TRUE(server.wait_for_log("stopping"));
  ASSERT_TRUE(busy.send("\r\n"));
  auto reply = busy.read_reply(std::chrono::seconds(5));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->header("connection"), "close");
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace sc::test
