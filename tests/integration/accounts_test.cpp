// Accounts, sessions and authorization against the real binary (behavior-core.md §5.1, §5.4, §5.5,
// DESIGN.md's status codes), plus the authorization matrix over the whole route table.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;

json::value parsed(const http_reply& r) {
  return json::parse(r.body);
}

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::string account_body(const std::string& username, const std::string& password, bool admin = false) {
  json::object o{{"username", username},
                 {"password", password},
                 {"email", username + "@example.com"},
                 {"phone", "555-1234"},
                 {"real_name", "Real " + username},
                 {"admin", admin}};
  return json::serialize(o);
}

std::string login(unsigned short port, const std::string& username, const std::string& password) {
  auto r = request(port, "POST", "/account/authenticate",
                   json::serialize(json::object{{"username", username}, {"password", password}}));
  if (r.status != 200) return {};
  return std::string(parsed(r).at("token").as_string());
}

void expect_problem(const http_reply& r, int status, const std::string& field = {}) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json") << r.body;
  if (field.empty()) return;
  bool named = false;
  auto body = parsed(r).as_object();
  if (auto* errors = body.if_contains("errors")) {
    for (const auto& e : errors->as_array()) named = named || e.at("field").as_string() == field;
  }
  EXPECT_TRUE(named) << "no error names " << field << ": " << r.body;
}

TEST(accounts_flow, bootstrap_login_roles_sessions_and_disable) {
  server_process server;
  ASSERT_TRUE(server.started());
  const auto port = server.port();

  // Bootstrap: public create while no enabled admin exists; bad input never reaches 500.
  EXPECT_TRUE(parsed(request(port, "GET", "/status/ping")).at("needs_setup").as_bool());
  expect_problem(request(port, "POST", "/account/create", "{not json"), 400);
  expect_problem(request(port, "POST", "/account/create", ""), 400);
  expect_problem(request(port, "POST", "/account/create", R"({"username":"alice"})"), 400, "password");
  expect_problem(request(port, "POST", "/account/create",
                         R"({"username":5,"password":"x","email":"e","phone":"p","real_name":"r"})"),
                 422, "username");
  expect_problem(request(port, "POST", "/account/create", account_body("al ice", "correct-horse")), 422, "username");
  expect_problem(request(port, "POST", "/account/create", account_body("alice", "short")), 422, "password");
  expect_problem(request(port, "POST", "/account/create", account_body(std::string(300, 'a'), "correct-horse")), 422,
                 "username");
  expect_problem(
      request(port, "POST", "/account/create",
              R"({"username":"a\u0007b","password":"correct-horse","email":"a@b.co","phone":"5","real_name":"r"})"),
      422, "username");

  auto created = request(port, "POST", "/account/create", account_body("alice", "correct-horse", false));
  ASSERT_EQ(created.status, 200) << created.body;
  auto alice_json = parsed(created).as_object();
  EXPECT_TRUE(alice_json.at("admin").as_bool());  // the first account is always an administrator
  EXPECT_FALSE(alice_json.contains("password_hash"));
  std::vector<std::string> keys;
  for (const auto& kv : alice_json) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"username", "email", "phone", "real_name", "admin", "disabled", "grants",
                                            "networks", "created_at", "updated_at"}));
  EXPECT_FALSE(parsed(request(port, "GET", "/status/ping")).as_object().contains("needs_setup"));
  expect_problem(request(port, "POST", "/account/create", account_body("mallory", "correct-horse")), 401);

  // Login: wrong password and unknown user look the same; tokens are 64 hex characters.
  auto wrong = request(port, "POST", "/account/authenticate", R"({"username":"alice","password":"wrong-password"})");
  expect_problem(wrong, 401);
  auto unknown = request(port, "POST", "/account/authenticate", R"({"username":"nobody","password":"wrong-password"})");
  expect_problem(unknown, 401);
  EXPECT_EQ(parsed(wrong).at("detail"), parsed(unknown).at("detail"));
  std::string admin_token = login(port, "alice", "correct-horse");
  ASSERT_EQ(admin_token.size(), 64u);
  EXPECT_EQ(parsed(request(port, "GET", "/account/me", "", bearer(admin_token))).at("username").as_string(), "alice");
  expect_problem(request(port, "GET", "/account/me", "", {{"Authorization", "bearer " + admin_token}}), 401);
  expect_problem(request(port, "GET", "/account/me", "", bearer(std::string(64, 'f'))), 401);

  // The dashboard for a session.
  auto ping = parsed(request(port, "GET", "/status/ping", "", bearer(admin_token))).as_object();
  EXPECT_EQ(ping.at("username").as_string(), "alice");
  EXPECT_EQ(ping.at("accounts").as_int64(), 1);
  EXPECT_EQ(ping.at("admins").as_int64(), 1);
  EXPECT_EQ(ping.at("locale").as_string(), "en-US");
  // Units, volumes and disk usage come from the sandbox's real systemd and btrfs, which other
  // tests use at the same time: their shape is fixed here, their counts in the storage tests.
  EXPECT_GE(ping.at("units").at("total").as_int64(), ping.at("units").at("failed").as_int64());
  EXPECT_GT(ping.at("disk_usage").at("total").to_number<std::uint64_t>(), 0u);
  EXPECT_GE(ping.at("disk_usage").at("total").to_number<std::uint64_t>(),
            ping.at("disk_usage").at("available").to_number<std::uint64_t>());
  for (const char* k : {"filesystems", "repositories", "packages", "installed", "recent_errors", "installed_volumes",
                        "uninstalled_volumes", "upgrades_available", "timezone_offset", "proton_enabled"}) {
    EXPECT_TRUE(ping.contains(k)) << k;
  }

  // An admin creates an ordinary account; duplicates conflict.
  ASSERT_EQ(request(port, "POST", "/account/create", account_body("bob", "bob-password"), bearer(admin_token)).status,
            200);
  expect_problem(request(port, "POST", "/account/create", account_body("bob", "bob-password"), bearer(admin_token)),
                 409);
  std::string bob_token = login(port, "bob", "bob-password");
  ASSERT_FALSE(bob_token.empty());

  // GET /account serves cached serialisations: fill the cache now, so the checks below prove that
  // updates, creates and disables reach the list.
  auto account_in_list = [&](const std::string& username) {
    auto listed = parsed(request(port, "GET", "/account", "", bearer(admin_token)));
    for (const auto& entry : listed.at("entries").as_array()) {
      if (entry.at("username").as_string() == username) return entry.as_object();
    }
    return json::object{};
  };
  EXPECT_EQ(account_in_list("bob").at("email").as_string(), "bob@example.com");

  // Non-admins change only themselves, never `admin`, never grants/networks.
  expect_problem(request(port, "POST", "/account/create", account_body("carol", "carol-password"), bearer(bob_token)),
                 403);
  expect_problem(request(port, "POST", "/account/update", R"({"username":"alice","fields":{"email":"x@y.zz"}})",
                         bearer(bob_token)),
                 403);
  expect_problem(
      request(port, "POST", "/account/update", R"({"username":"bob","fields":{"admin":true}})", bearer(bob_token)),
      403);
  expect_problem(
      request(port, "POST", "/account/update", R"({"username":"bob","fields":{"admin":false}})", bearer(admin_token)),
      403);
  expect_problem(request(port, "POST", "/account/update", R"({"username":"bob","fields":{"networks":["lan"]}})",
                         bearer(bob_token)),
                 403);
  expect_problem(
      request(port, "POST", "/account/update", R"({"username":"bob","fields":{"email":"bad"}})", bearer(bob_token)),
      422, "fields.email");
  auto self_update = request(port, "POST", "/account/update",
                             R"({"username":"bob","fields":{"email":"bob@new.example"}})", bearer(bob_token));
  ASSERT_EQ(self_update.status, 200) << self_update.body;
  EXPECT_EQ(parsed(self_update).at("email").as_string(), "bob@new.example");
  EXPECT_EQ(account_in_list("bob").at("email").as_string(), "bob@new.example");
  expect_problem(request(port, "POST", "/account/update", R"({"username":"zed","fields":{}})", bearer(admin_token)),
                 404);

  // Reading and listing; search never matches the password hash.
  EXPECT_EQ(parsed(request(port, "POST", "/account", R"({"username":"alice"})", bearer(bob_token)))
                .at("username")
                .as_string(),
            "alice");
  expect_problem(request(port, "POST", "/account", R"({"username":"zed"})", bearer(bob_token)), 404);
  auto list =
      parsed(request(port, "GET", "/account?sort_by=username&sort_order=desc", "", bearer(bob_token))).as_object();
  EXPECT_EQ(list.at("total_count").as_int64(), 2);
  EXPECT_EQ(list.at("entries").as_array()[0].at("username").as_string(), "bob");
  EXPECT_EQ(
      parsed(request(port, "GET", "/account?search=argon2id", "", bearer(bob_token))).at("total_count").as_int64(), 0);

  // Sessions: users revoke only their own, admins any; a revoked token dies at once.
  auto bob_sessions = parsed(request(port, "GET", "/account/sessions", "", bearer(bob_token))).as_array();
  ASSERT_EQ(bob_sessions.size(), 1u);
  std::string bob_session = std::string(bob_sessions[0].at("id").as_string());
  EXPECT_FALSE(bob_sessions[0].as_object().contains("token_sha256"));
  auto alice_sessions = parsed(request(port, "GET", "/account/sessions", "", bearer(admin_token))).as_array();
  std::string alice_session = std::string(alice_sessions[0].at("id").as_string());
  expect_problem(request(port, "POST", "/account/session/revoke",
                         json::serialize(json::object{{"session_id", alice_session}}), bearer(bob_token)),
                 403);
  expect_problem(request(port, "POST", "/account/session/revoke", R"({"session_id":"nope"})", bearer(admin_token)),
                 404);
  EXPECT_EQ(request(port, "POST", "/account/session/revoke", json::serialize(json::object{{"session_id", bob_session}}),
                    bearer(admin_token))
                .status,
            200);
  expect_problem(request(port, "GET", "/account/me", "", bearer(bob_token)), 401);

  // Disable kills sessions at once; enable does not revive them.
  bob_token = login(port, "bob", "bob-password");
  ASSERT_FALSE(bob_token.empty());
  expect_problem(request(port, "POST", "/account/disable", R"({"username":"alice"})", bearer(bob_token)), 403);
  ASSERT_EQ(request(port, "POST", "/account/disable", R"({"username":"bob"})", bearer(admin_token)).status, 200);
  EXPECT_TRUE(account_in_list("bob").at("disabled").as_bool());
  expect_problem(request(port, "GET", "/account/me", "", bearer(bob_token)), 401);
  EXPECT_TRUE(login(port, "bob", "bob-password").empty());
  ASSERT_EQ(request(port, "POST", "/account/enable", R"({"username":"bob"})", bearer(admin_token)).status, 200);
  expect_problem(request(port, "GET", "/account/me", "", bearer(bob_token)), 401);
  EXPECT_FALSE(login(port, "bob", "bob-password").empty());
  expect_problem(request(port, "POST", "/account/disable", R"({"username":"zed"})", bearer(admin_token)), 404);

  // Disabling the last enabled admin reopens bootstrap.
  // (done by the local root peer on the Unix socket: privilege from peer credentials, no token).
  ASSERT_EQ(request_unix(server.socket_path(), "POST", "/account/disable", R"({"username":"alice"})").status, 200);
  EXPECT_TRUE(parsed(request(port, "GET", "/status/ping")).at("needs_setup").as_bool());
  expect_problem(request(port, "GET", "/account/me", "", bearer(admin_token)), 401);
}

TEST(accounts_flow, grant_holders_are_fenced_to_their_allow_list) {
  server_process server;
  ASSERT_TRUE(server.started());
  const auto port = server.port();
  ASSERT_EQ(request(port, "POST", "/account/create", account_body("alice", "correct-horse", true)).status, 200);
  std::string admin_token = login(port, "alice", "correct-horse");
  auto created = request(port, "POST", "/account/create",
                         R"({"username":"wg","password":"wg-password","email":"w@g.io","phone":"555-0199",)"
                         R"("real_name":"Peer","grants":["wireguard"],"networks":["home"]})",
                         bearer(admin_token));
  ASSERT_EQ(created.status, 200) << created.body;
  std::string token = login(port, "wg", "wg-password");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(request(port, "GET", "/account/me", "", bearer(token)).status, 200);
  EXPECT_EQ(request(port, "GET", "/status/ping", "", bearer(token)).status, 200);
  // An ordinary user may list accounts; a grant holder may not (fail closed, behavior-core §2.5).
  auto listed = request(port, "GET", "/account", "", bearer(token));
  EXPECT_EQ(listed.status, 403);
  EXPECT_NE(listed.body.find("network enrollment"), std::string::npos);
  EXPECT_EQ(request(port, "GET", "/account/sessions", "", bearer(token)).status, 403);
  EXPECT_EQ(request(port, "GET", "/locales", "", bearer(token)).status, 403);
}

TEST(accounts_flow, sessions_survive_a_restart) {
  auto dir = std::filesystem::temp_directory_path() / ("sc-accounts-restart-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string db = (dir / "system.db").string();
  std::string token;
  {
    server_process first({"--db", db});
    ASSERT_TRUE(first.started());
    ASSERT_EQ(request(first.port(), "POST", "/account/create", account_body("alice", "correct-horse", true)).status,
              200);
    token = login(first.port(), "alice", "correct-horse");
    ASSERT_FALSE(token.empty());
  }
  {
    server_process second({"--db", db});
    ASSERT_TRUE(second.started());
    auto me = request(second.port(), "GET", "/account/me", "", bearer(token));
    EXPECT_EQ(me.status, 200) << me.body;
    // Only the digest is stored: the token itself appears nowhere in the database file.
    std::ifstream file(db, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(token), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST(accounts_flow, repeated_login_failures_are_throttled_with_retry_after) {
  server_process server;
  ASSERT_TRUE(server.started());
  ASSERT_EQ(request(server.port(), "POST", "/account/create", account_body("alice", "correct-horse", true)).status,
            200);
  int status = 0;
  int failures = 0;
  http_reply last;
  while (failures < 20) {
    last =
        request(server.port(), "POST", "/account/authenticate", R"({"username":"alice","password":"wrong-password"})");
    status = last.status;
    if (status != 401) break;
    ++failures;
  }
  EXPECT_EQ(failures, 10);
  expect_problem(last, 429);
  EXPECT_FALSE(last.header("retry-after").empty());
  // Even the right password waits until the window has passed.
  EXPECT_EQ(
      request(server.port(), "POST", "/account/authenticate", R"({"username":"alice","password":"correct-horse"})")
          .status,
      429);
}

}  // namespace
}  // namespace sc::test
