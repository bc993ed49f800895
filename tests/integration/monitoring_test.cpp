// Monitoring (issue 15) against the real binary: Prometheus and the node exporter from Debian, run
// by the controller's own units in the sandbox host's user manager on unprivileged loopback ports.
// Prometheus scrapes both targets (the controller's /metrics with the metrics credential);
// /monitoring/status agrees; a query goes through the public /monitoring/grafana/ proxy, and
// paths that try to step elsewhere are refused.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class monitoring_api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The units live in the sandbox's one user manager: take turns with the other suites there.
    lock_fd_ = take_sandbox_turn();
    ASSERT_GE(lock_fd_, 0);
    work_ = make_temp_dir("sc-monitoring");
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    prometheus_port_ = unused_port(SOCK_STREAM);
    exporter_port_ = unused_port(SOCK_STREAM);
    ASSERT_GT(prometheus_port_, 0);
    ASSERT_GT(exporter_port_, 0);
    ASSERT_NE(prometheus_port_, exporter_port_);
    server_ = new server_process(
        {"--state-dir", (work_ / "state").string()}, true,
        {"SC_SYSTEM_SERVICES=node-exporter,prometheus",
         "SC_PROMETHEUS_LISTEN=127.0.0.1:" + std::to_string(prometheus_port_),
         "SC_NODE_EXPORTER_LISTEN=127.0.0.1:" + std::to_string(exporter_port_), "SC_DEFAULT_REPOSITORY="});
    ASSERT_TRUE(server_->started()) << server_->log();
    // ctest runs each test in its own process: every one starts from a Prometheus that is up.
    ASSERT_TRUE(eventually(60s, [] {
      auto reply = call("GET", "/monitoring/status");
      return reply.status == 200 && json::parse(reply.body).as_object().at("prometheus").as_bool();
    })) << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    shell(
        "for u in town-os-system--prometheus.service town-os-system--node-exporter.service; do "
        "systemctl --user stop $u; systemctl --user disable $u; rm -f " +
        unit_dir_ + "/$u; done; systemctl --user daemon-reload; systemctl --user reset-failed");
    // Prometheus's data lives in the sandbox's btrfs: the subvolume goes with the suite.
    shell("btrfs subvolume delete '" + sandbox_env("SC_BTRFS_ROOT") + "/monitoring' >/dev/null 2>&1");
    std::error_code ec;
    fs::remove_all(work_, ec);
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
  }

  static http_reply call(const std::string& method, const std::string& target, const std::string& body = {}) {
    return try_request_unix(server_->socket_path(), method, target, body, 30s);
  }
  // Anonymous, over TCP: the proxy is public.
  static http_reply anonymous(const std::string& method, const std::string& target, const std::string& body = {},
                              const std::map<std::string, std::string>& headers = {}) {
    auto connection = raw_connection::tcp(server_->port());
    if (!connection.connected()) return {};
    if (!connection.send(format_request(method, target, body, headers))) return {};
    auto reply = connection.read_reply(30s);
    return reply ? *reply : http_reply{};
  }
  static json::object status() {
    auto reply = call("GET", "/monitoring/status");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? json::parse(reply.body).as_object() : json::object{};
  }

  // NOLINTBEGIN(readability-identifier-naming)
  inline static server_process* server_ = nullptr;
  inline static int lock_fd_ = -1;
  inline static int prometheus_port_ = 0;
  inline static int exporter_port_ = 0;
  inline static std::string unit_dir_;
  inline static fs::path work_;
  // NOLINTEND(readability-identifier-naming)
};

TEST_F(monitoring_api, prometheus_scrapes_both_targets_and_the_status_agrees) {
  // Prometheus scrapes every 15 s: both targets are up within a few intervals.
  json::object s;
  ASSERT_TRUE(eventually(90s,
                         [&] {
                           s = status();
                           const auto* down = s.if_contains("down_jobs");
                           const auto* rows = s.if_contains("scrape_targets");
                           if (down == nullptr || rows == nullptr || !down->as_array().empty() ||
                               rows->as_array().size() != 2)
                             return false;
                           for (const auto& row : rows->as_array()) {
                             if (row.at("health").as_string() != "up") return false;
                           }
                           return true;
                         }))
      << json::serialize(s) << "\n"
      << server_->log();
  EXPECT_EQ(s.at("backend").as_string(), "uplot");
  EXPECT_TRUE(s.at("prometheus").as_bool());
  EXPECT_TRUE(s.at("node_exporter").as_bool());
  EXPECT_TRUE(s.at("monitoring_ui").as_bool());
  EXPECT_TRUE(s.at("disk_devices").is_array());
  std::set<std::string> jobs;
  for (const auto& row : s.at("scrape_targets").as_array()) jobs.insert(std::string(row.at("job").as_string()));
  EXPECT_EQ(jobs, (std::set<std::string>{"node", "systemcontroller"}));

  // Prometheus's own `up` query, through the public proxy, agrees: both are 1.
  auto up = anonymous("GET", "/monitoring/grafana/api/v1/query?query=up");
  ASSERT_EQ(up.status, 200) << up.body;
  // Only this server's targets count: the sandbox's btrfs may keep series of an earlier controller
  // (another run's ports) within Prometheus's five-minute lookback.
  const std::set<std::string> own = {"127.0.0.1:" + std::to_string(exporter_port_),
                                     "127.0.0.1:" + std::to_string(server_->port())};
  std::set<std::string> up_instances;
  const auto answer = json::parse(up.body);
  for (const auto& series : answer.at("data").at("result").as_array()) {
    std::string instance(series.at("metric").at("instance").as_string());
    if (!own.contains(instance)) continue;
    up_instances.insert(instance);
    EXPECT_EQ(series.at("value").at(1).as_string(), "1") << up.body;
  }
  EXPECT_EQ(up_instances, own) << up.body;
  // A POSTed query (what the UI sends) works too.
  auto posted =
      anonymous("POST", "/monitoring/grafana/api/v1/query",
                "query=up%7Bjob%3D%22node%22%2Cinstance%3D%22127.0.0.1%3A" + std::to_string(exporter_port_) + "%22%7D",
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(json::parse(posted.body).at("data").at("result").as_array().size(), 1u) << posted.body;
  // The UI's pages link below the prefix.
  auto root = anonymous("GET", "/monitoring/grafana/");
  EXPECT_EQ(root.status, 302) << root.body;
  EXPECT_TRUE(root.header("location").starts_with("/monitoring/grafana/")) << root.header("location");
}

TEST_F(monitoring_api, the_metrics_credential_opens_metrics_and_nothing_else) {
  const std::string token = read_text(work_ / "state" / "monitoring" / "metrics.token");
  ASSERT_EQ(token.size(), 64u);
  EXPECT_EQ(fs::status(work_ / "state" / "monitoring" / "metrics.token").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const std::map<std::string, std::string> bearer{{"Authorization", "Bearer " + token}};
  auto metrics = anonymous("GET", "/metrics", "", bearer);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("townos_"), std::string::npos);
  EXPECT_EQ(anonymous("GET", "/settings", "", bearer).status, 401);
  EXPECT_EQ(anonymous("GET", "/monitoring/status", "", bearer).status, 401);
  EXPECT_EQ(anonymous("GET", "/metrics", "", {{"Authorization", "Bearer " + token.substr(0, 63) + "0"}}).status, 401);
  EXPECT_EQ(anonymous("GET", "/metrics").status, 401);
}

TEST_F(monitoring_api, proxy_paths_that_try_to_escape_are_refused) {
  for (const char* path :
       {"/monitoring/grafana/../metrics", "/monitoring/grafana/%2e%2e/metrics", "/monitoring/grafana/api/..%2fv1",
        "/monitoring/grafana/a%2f..%2f..%2fmetrics", "/monitoring/grafana/a%5c..", "/monitoring/grafana/a%00"}) {
    auto reply = anonymous("GET", path);
    EXPECT_EQ(reply.status, 400) << path << ": " << reply.body;
    EXPECT_EQ(reply.header("content-type"), "application/problem+json") << path;
  }
  // Prometheus's admin and lifecycle endpoints are off: nothing through the proxy changes it.
  EXPECT_NE(anonymous("POST", "/monitoring/grafana/-/quit").status, 200);
  EXPECT_NE(anonymous("POST", "/monitoring/grafana/api/v1/admin/tsdb/snapshot").status, 200);
  EXPECT_EQ(status().at("prometheus").as_bool(), true);
}

TEST(monitoring_disabled, status_says_disabled_and_the_proxy_answers_503) {
  server_process plain;
  ASSERT_TRUE(plain.started());
  auto connection = raw_connection::unix_socket(plain.socket_path());
  ASSERT_TRUE(connection.send(format_request("GET", "/monitoring/status", "", {})));
  auto reply = connection.read_reply(10s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(json::serialize(json::parse(reply->body)), R"({"status":"disabled"})");
  auto proxied = request(plain.port(), "GET", "/monitoring/grafana/graph", "");
  EXPECT_EQ(proxied.status, 503) << proxied.body;
  EXPECT_NE(proxied.body.find("monitoring is not configured"), std::string::npos);
}

}  // namespace
}  // namespace sc::test
