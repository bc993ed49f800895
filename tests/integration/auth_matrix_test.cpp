// The authorization matrix: every route of build_routes(), called by an anonymous client, an
// ordinary account, an administrator and root on the Unix socket, against the real binary.
//
// `expected_levels` below is the reviewed list of every route and its auth level. Adding a route
// (or changing a level) without updating it fails `table_matches_the_route_table`, so a new
// endpoint cannot slip in unreviewed. The calls send "{}" to POST routes: handlers must refuse
// that (400/422) or be harmless with it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <map>
#include <set>
#include <string>

#include "server/router.hpp"
#include "tests/support/contract.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

using server::auth_level;

struct expectation {
  std::string_view method;
  std::string_view path;
  auth_level level;
};

// Reviewed: the auth level of every route (behavior-core.md §9, DESIGN.md local privilege).
constexpr expectation expected_levels[] = {
    {"GET", "/health", auth_level::public_access},
    {"GET", "/ready", auth_level::public_access},
    {"GET", "/metrics", auth_level::admin_or_metrics},
    {"GET", "/openapi.json", auth_level::public_access},
    {"GET", "/tls/ca.crt", auth_level::public_access},
    {"GET", "/status/ping", auth_level::public_access},
    // accounts and sessions
    {"POST", "/account/authenticate", auth_level::public_access},
    {"POST", "/account/create", auth_level::bootstrap_or_admin},
    {"POST", "/account", auth_level::authenticated},
    {"GET", "/account", auth_level::authenticated},
    {"POST", "/account/update", auth_level::authenticated},
    {"GET", "/account/me", auth_level::authenticated},
    {"GET", "/account/sessions", auth_level::authenticated},
    {"POST", "/account/session/revoke", auth_level::authenticated},
    {"POST", "/account/disable", auth_level::admin},
    {"POST", "/account/enable", auth_level::admin},
    // settings, locales, audit
    {"GET", "/settings", auth_level::admin},
    {"POST", "/settings/get", auth_level::admin},
    {"POST", "/settings/set", auth_level::admin},
    {"GET", "/locales", auth_level::authenticated},
    {"POST", "/audit/log", auth_level::admin},
    // package repositories and read-only package endpoints (issue 6)
    {"GET", "/repository", auth_level::authenticated},
    {"POST", "/repository/add", auth_level::admin},
    {"POST", "/repository/remove", auth_level::admin},
    {"POST", "/repository/move", auth_level::admin},
    {"POST", "/repository/refresh", auth_level::admin},
    {"GET", "/packages", auth_level::authenticated},
    {"GET", "/packages/by-repo", auth_level::authenticated},
    {"GET", "/packages/featured", auth_level::authenticated},
    {"GET", "/packages/timezones", auth_level::authenticated},
    {"POST", "/packages/versions", auth_level::authenticated},
    {"POST", "/packages/children", auth_level::authenticated},
    {"POST", "/packages/manifest", auth_level::authenticated},
    {"POST", "/packages/questions", auth_level::admin},
    {"POST", "/packages/questions/identity", auth_level::admin},
    {"POST", "/packages/install-preview", auth_level::admin},
    // the package lifecycle (behavior-ops.md §1.5)
    {"POST", "/packages/install", auth_level::admin},
    {"POST", "/packages/uninstall", auth_level::admin},
    {"POST", "/packages/disable", auth_level::admin},
    {"POST", "/packages/enable", auth_level::admin},
    {"POST", "/packages/rebuild-git", auth_level::admin},
    {"POST", "/packages/purge-volumes", auth_level::admin},
    {"POST", "/packages/purge-uninstalled-volumes", auth_level::admin},
    {"POST", "/packages/uninstalled-volumes", auth_level::authenticated},
    {"GET", "/packages/installed", auth_level::authenticated},
    {"POST", "/packages/installed/info", auth_level::authenticated},
    {"POST", "/packages/responses", auth_level::authenticated},
    {"POST", "/packages/last-responses", auth_level::authenticated},
    {"POST", "/packages/clear-last-responses", auth_level::admin},
    {"GET", "/packages/upgrades", auth_level::authenticated},
    {"POST", "/packages/upgrades/dismiss", auth_level::admin},
    {"POST", "/packages/rollback", auth_level::admin},
    {"POST", "/packages/snapshots", auth_level::authenticated},
    {"POST", "/packages/snapshots/remove", auth_level::admin},
    // storage and archives (behavior-ops.md §1.5)
    {"POST", "/storage", auth_level::authenticated},
    {"POST", "/storage/create", auth_level::authenticated},
    {"POST", "/storage/modify", auth_level::authenticated},
    {"POST", "/storage/remove", auth_level::authenticated},
    {"POST", "/storage/package-volumes", auth_level::authenticated},
    {"POST", "/storage/remove-package-volume", auth_level::admin},
    {"POST", "/storage/upload-archive", auth_level::admin},
    {"POST", "/storage/download-archive", auth_level::admin},
    // the VM image cache (townos-api-reference "VM Images": list authenticated, changes admin)
    {"GET", "/vm-images", auth_level::authenticated},
    {"POST", "/vm-images/upload", auth_level::admin},
    {"POST", "/vm-images/delete", auth_level::admin},
    // static pages (townos-api-reference "Pages"; behavior-core.md route table: list A, changes AD)
    {"GET", "/pages", auth_level::authenticated},
    {"POST", "/pages/create", auth_level::admin},
    {"POST", "/pages/upload", auth_level::admin},
    {"POST", "/pages/update", auth_level::admin},
    {"POST", "/pages/remove", auth_level::admin},
    {"POST", "/pages/rebuild", auth_level::admin},
    // systemd units and the journal (behavior-ops.md §1.5)
    {"GET", "/systemd/units", auth_level::authenticated},
    {"POST", "/systemd/status", auth_level::admin},
    {"GET", "/systemd/logs/tail", auth_level::authenticated},
    {"GET", "/systemd/logs", auth_level::authenticated},

    {"GET", "/system-services", auth_level::authenticated},
    {"POST", "/system-services/status", auth_level::admin},
    {"POST", "/system-services/refresh", auth_level::admin},
    {"GET", "/monitoring/status", auth_level::authenticated},
    {"GET", "/monitoring/grafana/{path}", auth_level::public_access},
    {"POST", "/monitoring/grafana/{path}", auth_level::public_access},
    {"GET", "/dns/status", auth_level::authenticated},
    {"GET", "/dns/records", auth_level::authenticated},
    {"POST", "/dns/records/add", auth_level::admin},
    {"POST", "/dns/records/remove", auth_level::admin},
    {"GET", "/dns/tld", auth_level::authenticated},
    {"POST", "/dns/tld", auth_level::admin},
    {"POST", "/dns/setup", auth_level::admin},
    {"GET", "/dns/services", auth_level::authenticated},
    {"POST", "/dns/services/set", auth_level::admin},
    {"GET", "/dns/rbl", auth_level::authenticated},
    {"POST", "/dns/rbl", auth_level::admin},
    {"GET", "/dns/dnsbl", auth_level::authenticated},
    {"POST", "/dns/dnsbl", auth_level::admin},
    {"GET", "/dns/rbl/local", auth_level::authenticated},
    {"POST", "/dns/rbl/local/add", auth_level::admin},
    {"POST", "/dns/rbl/local/remove", auth_level::admin},
    {"GET", "/dns/dnsbl/allowlist", auth_level::authenticated},
    {"POST", "/dns/dnsbl/allowlist/add", auth_level::admin},
    {"POST", "/dns/dnsbl/allowlist/remove", auth_level::admin},
};

std::string key_of(std::string_view method, std::string_view path) {
  return std::string(method) + " " + std::string(path);
}

TEST(auth_matrix, table_matches_the_route_table) {
  std::map<std::string, auth_level> expected;
  for (const auto& e : expected_levels) {
    EXPECT_TRUE(expected.emplace(key_of(e.method, e.path), e.level).second) << "listed twice: " << e.path;
  }
  std::set<std::string> seen;
  for (const auto& r : server::build_routes()) {
    std::string key = key_of(boost::beast::http::to_string(r.method), r.path);
    seen.insert(key);
    auto it = expected.find(key);
    if (it == expected.end()) {
      ADD_FAILURE() << "route " << key << " (" << server::to_string(r.auth)
                    << ") has no expectation in tests/integration/auth_matrix_test.cpp";
      continue;
    }
    EXPECT_EQ(server::to_string(it->second), server::to_string(r.auth)) << key;
  }
  for (const auto& [key, level] : expected) EXPECT_TRUE(seen.contains(key)) << "no such route any more: " << key;
}

// Sends one request and returns the status code only: enough for streaming routes too.
int status_of(raw_connection connection, const std::string& method, std::string_view path,
              const std::map<std::string, std::string>& headers) {
  if (!connection.connected()) return -1;
  std::string body = method == "POST" ? "{}" : "";
  if (!connection.send(format_request(method, std::string(path), body, headers))) return -1;
  std::string head;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (head.find("\r\n") == std::string::npos && std::chrono::steady_clock::now() < until) {
    std::string more = connection.read_some(std::chrono::milliseconds(500));
    head += more;
  }
  if (!head.starts_with("HTTP/1.1 ") || head.size() < 12) return -1;
  return std::stoi(head.substr(9, 3));
}

class auth_matrix_server : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new server_process(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static int tcp(const std::string& method, std::string_view path, const std::string& token = {}) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return declared(method, path, status_of(raw_connection::tcp(server_->port()), method, path, headers));
  }
  static int unix_root(const std::string& method, std::string_view path) {
    return declared(method, path, status_of(raw_connection::unix_socket(server_->socket_path()), method, path, {}));
  }
  // Issue 17: every status the matrix sees is one the document declares for the operation.
  static int declared(const std::string& method, std::string_view path, int status) {
    if (status > 0) {
      http_reply reply;
      reply.status = status;
      check_contract(method, path, reply, [] {
        auto connection = raw_connection::tcp(server_->port());
        connection.send(format_request("GET", "/openapi.json", "", {}));
        return connection.read_reply().value_or(http_reply{});
      });
    }
    return status;
  }
  static std::string login(const std::string& username, const std::string& password) {
    auto reply = request(server_->port(), "POST", "/account/authenticate",
                         R"({"username":")" + username + R"(","password":")" + password + R"("})");
    EXPECT_EQ(reply.status, 200) << reply.body;
    if (reply.status != 200) return {};
    return std::string(boost::json::parse(reply.body).at("token").as_string());
  }
  // Data members end in _ (STYLE.md §10); .clang-tidy gives the suffix to non-static ones only.
  // NOLINTNEXTLINE(readability-identifier-naming)
  static server_process* server_;
};
server_process* auth_matrix_server::server_ = nullptr;

bool denied(int status) {
  return status == 401 || status == 403;
}

TEST_F(auth_matrix_server, every_route_for_every_caller) {
  ASSERT_TRUE(server_->started());
  ASSERT_EQ(::geteuid(), 0u) << "root on the Unix socket is one of the callers";
  const auto routes = server::build_routes();

  // While no administrator exists, bootstrap routes are open to anyone.
  for (const auto& r : routes) {
    if (r.auth != auth_level::bootstrap_or_admin) continue;
    int status = tcp(std::string(boost::beast::http::to_string(r.method)), r.path);
    EXPECT_FALSE(denied(status)) << r.path << " before bootstrap: " << status;
  }

  auto admin = request(server_->port(), "POST", "/account/create",
                       R"({"username":"root-admin","password":"matrix-pass-1","email":"r@example.com",)"
                       R"("phone":"555 0199","real_name":"Matrix Admin","admin":true})");
  ASSERT_EQ(admin.status, 200) << admin.body;
  std::string admin_token = login("root-admin", "matrix-pass-1");
  auto user = request(server_->port(), "POST", "/account/create",
                      R"({"username":"plain","password":"matrix-pass-2","email":"p@example.com",)"
                      R"("phone":"555 0198","real_name":"Plain User","admin":false})",
                      {{"Authorization", "Bearer " + admin_token}});
  ASSERT_EQ(user.status, 200) << user.body;
  std::string user_token = login("plain", "matrix-pass-2");
  ASSERT_FALSE(admin_token.empty());
  ASSERT_FALSE(user_token.empty());

  for (const auto& r : routes) {
    const std::string method(boost::beast::http::to_string(r.method));
    const std::string where = method + " " + std::string(r.path) + " (" + std::string(server::to_string(r.auth)) + ")";
    int anonymous = tcp(method, r.path);
    int forged = tcp(method, r.path, "not-a-real-token");
    int ordinary = tcp(method, r.path, user_token);
    int administrator = tcp(method, r.path, admin_token);
    int root = unix_root(method, r.path);
    for (int s : {anonymous, forged, ordinary, administrator, root}) EXPECT_GT(s, 0) << where << ": no reply";
    EXPECT_FALSE(denied(root)) << where << ": root on the Unix socket got " << root;

    switch (r.auth) {
      case auth_level::public_access:
        EXPECT_FALSE(denied(anonymous)) << where << ": anonymous got " << anonymous;
        EXPECT_FALSE(denied(ordinary)) << where << ": ordinary account got " << ordinary;
        EXPECT_FALSE(denied(administrator)) << where << ": admin got " << administrator;
        break;
      case auth_level::authenticated:
        EXPECT_EQ(anonymous, 401) << where;
        EXPECT_EQ(forged, 401) << where;
        EXPECT_FALSE(denied(ordinary)) << where << ": ordinary account got " << ordinary;
        EXPECT_FALSE(denied(administrator)) << where << ": admin got " << administrator;
        break;
      case auth_level::admin:
      case auth_level::admin_or_metrics:  // the metrics credential: tests/integration/monitoring_test.cpp
      case auth_level::bootstrap_or_admin:
        EXPECT_EQ(anonymous, 401) << where;
        EXPECT_EQ(forged, 401) << where;
        EXPECT_EQ(ordinary, 403) << where;
        EXPECT_FALSE(denied(administrator)) << where << ": admin got " << administrator;
        break;
      case auth_level::local_only:
        EXPECT_EQ(anonymous, 403) << where;
        EXPECT_EQ(ordinary, 403) << where;
        EXPECT_EQ(administrator, 403) << where;
        break;
    }
  }
}

// Deliberate (DESIGN.md): a loopback TCP caller without a token is not local. --trust-loopback
// opts into the original's localhost behaviour, which its client relies on: units, logs, the
// audit log and system services without a token.
TEST_F(auth_matrix_server, trust_loopback_serves_the_originals_localhost_routes_without_a_token) {
  ASSERT_TRUE(server_->started());
  server_process trusting({"--trust-loopback"});
  ASSERT_TRUE(trusting.started());
  struct probe {
    std::string method;
    std::string path;
  };
  const std::vector<probe> local_routes = {
      {"GET", "/systemd/units"}, {"GET", "/systemd/logs/tail?limit=5"}, {"GET", "/systemd/logs?limit=1"},
      {"POST", "/audit/log"},    {"GET", "/system-services"},
  };
  for (const auto& [method, path] : local_routes) {
    int plain = status_of(raw_connection::tcp(server_->port()), method, path, {});
    int trusted = status_of(raw_connection::tcp(trusting.port()), method, path, {});
    EXPECT_EQ(plain, 401) << method << " " << path << " without --trust-loopback";
    EXPECT_EQ(trusted, 200) << method << " " << path << " with --trust-loopback";
  }
}

}  // namespace
}  // namespace sc::test
