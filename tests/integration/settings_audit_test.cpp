// Settings, locales, the audit log and CORS against the real binary (behavior-core.md §2.6, §5.6,
// §5.7, §5.9, §7): an admin and an ordinary account are created through the public API first.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;

json::value body_json(const http_reply& reply) {
  return json::parse(reply.body);
}

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

void expect_problem(const http_reply& reply, int status, const std::string& field = {}) {
  EXPECT_EQ(reply.status, status) << reply.body;
  EXPECT_EQ(reply.header("content-type"), "application/problem+json") << reply.body;
  if (reply.header("content-type") != "application/problem+json") return;
  auto body = body_json(reply);
  EXPECT_EQ(body.at("status").as_int64(), status);
  if (field.empty()) return;
  ASSERT_TRUE(body.as_object().contains("errors")) << reply.body;
  bool named = false;
  for (const auto& e : body.at("errors").as_array()) named = named || e.at("field").as_string() == field;
  EXPECT_TRUE(named) << "no error names " << field << ": " << reply.body;
}

// A GET with a chosen Host header (the shared client always sends "Host: localhost").
http_reply get_with_host(unsigned short port, const std::string& target, const std::string& host,
                         const std::string& origin) {
  auto connection = raw_connection::tcp(port);
  EXPECT_TRUE(connection.send("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + origin +
                              "\r\nConnection: close\r\n\r\n"));
  auto reply = connection.read_reply();
  EXPECT_TRUE(reply);
  return reply ? *reply : http_reply{};
}

class settings_audit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new server_process();
    ASSERT_TRUE(server_->started());
    auto created = request(server_->port(), "POST", "/account/create",
                           R"({"username":"admin","password":"correct-horse","email":"a@example.com",)"
                           R"("phone":"555 0100","real_name":"Ada Admin","admin":true})");
    ASSERT_EQ(created.status, 200) << created.body;
    admin_token_ = login("admin", "correct-horse");
    auto bob = request(server_->port(), "POST", "/account/create",
                       R"({"username":"bob","password":"battery-staple","email":"b@example.com",)"
                       R"("phone":"555 0101","real_name":"Bob User","admin":false})",
                       bearer(admin_token_));
    ASSERT_EQ(bob.status, 200) << bob.body;
    user_token_ = login("bob", "battery-staple");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::string login(const std::string& username, const std::string& password) {
    auto reply = request(server_->port(), "POST", "/account/authenticate",
                         R"({"username":")" + username + R"(","password":")" + password + R"("})");
    EXPECT_EQ(reply.status, 200) << reply.body;
    if (reply.status != 200) return {};
    return std::string(body_json(reply).at("token").as_string());
  }
  unsigned short port() const { return server_->port(); }
  http_reply as_admin(const std::string& method, const std::string& target, const std::string& body = {}) {
    return request(port(), method, target, body, bearer(admin_token_));
  }
  // The newest audit entries (admin view).
  json::array newest_audit(int limit = 20, const std::string& extra = {}) {
    auto reply = as_admin("POST", "/audit/log", R"({"limit":)" + std::to_string(limit) + extra + "}");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return body_json(reply).at("entries").as_array();
  }

  // Data members end in _ (STYLE.md §10); .clang-tidy gives the suffix to non-static ones only.
  // NOLINTBEGIN(readability-identifier-naming)
  static server_process* server_;
  static std::string admin_token_;
  static std::string user_token_;
  // NOLINTEND(readability-identifier-naming)
};
server_process* settings_audit::server_ = nullptr;
std::string settings_audit::admin_token_;
std::string settings_audit::user_token_;

// --- settings ------------------------------------------------------------------------------------

TEST_F(settings_audit, defaults_are_served) {
  auto reply = as_admin("GET", "/settings");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = body_json(reply).as_object();
  EXPECT_EQ(body.at("default_quota").as_string(), "53687091200");
  EXPECT_EQ(body.at("max_archive_size").as_string(), "1073741824");
  EXPECT_EQ(body.at("archive_unpack_timeout").as_string(), "600");
  EXPECT_EQ(body.at("proton_image").as_string(), "quay.io/town/proton:latest");
  EXPECT_TRUE(body.contains("locale"));
  EXPECT_TRUE(body.contains("dns_tld"));
}

TEST_F(settings_audit, get_one_and_unknown_is_404) {
  auto reply = as_admin("POST", "/settings/get", R"({"key":"max_archive_size"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body, "{\"key\":\"max_archive_size\",\"value\":\"1073741824\"}\n");
  auto missing = as_admin("POST", "/settings/get", R"({"key":"nope"})");
  expect_problem(missing, 404);
  EXPECT_EQ(body_json(missing).at("detail").as_string(), "setting \"nope\" not found");
}

TEST_F(settings_audit, set_stores_canonical_values) {
  auto set = as_admin("POST", "/settings/set", R"({"key":"default_quota","value":"100GiB"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_TRUE(set.body.empty());
  auto get = as_admin("POST", "/settings/get", R"({"key":"default_quota"})");
  EXPECT_EQ(body_json(get).at("value").as_string(), "107374182400");
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"ui.theme","value":"dark"})").status, 200);
  EXPECT_EQ(body_json(as_admin("GET", "/settings")).at("ui.theme").as_string(), "dark");
}

TEST_F(settings_audit, invalid_input_is_4xx_naming_the_field) {
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"no such","value":"1"})"), 422, "key");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"../etc","value":"1"})"), 422, "key");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"archive_unpack_timeout","value":"-1"})"), 422, "value");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"archive_unpack_timeout","value":"99999999"})"), 422,
                 "value");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"locale","value":"xx-XX"})"), 422, "value");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"dns_tld","value":"a.b"})"), 422, "value");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"proton_image","value":"img\u0000x"})"), 422, "value");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"default_quota","value":5})"), 422, "value");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"default_quota"})"), 400, "value");
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"bad\u0001key","value":"x"})"), 422, "key");
  expect_problem(as_admin("POST", "/settings/set", "{\"key\":"), 400);
  expect_problem(as_admin("POST", "/settings/set", ""), 400);
  expect_problem(as_admin("POST", "/settings/set", "[]"), 400);
  expect_problem(as_admin("POST", "/settings/set", R"({"key":")" + std::string(5000, 'k') + R"(","value":"x"})"), 422,
                 "key");
  expect_problem(as_admin("POST", "/settings/get", R"({})"), 400, "key");
  // Nothing was stored by the refused requests.
  EXPECT_EQ(body_json(as_admin("POST", "/settings/get", R"({"key":"archive_unpack_timeout"})")).at("value"), "600");
}

// The original client's own tests: any key is kept (the dashboard stores `motd`), and byte
// settings take 0 and small values.
TEST_F(settings_audit, open_keys_and_small_byte_values_are_stored_as_the_original_does) {
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"motd","value":"Welcome home\nBe nice"})").status, 200);
  EXPECT_EQ(body_json(as_admin("POST", "/settings/get", R"({"key":"motd"})")).at("value").as_string(),
            "Welcome home\nBe nice");
  EXPECT_EQ(body_json(as_admin("GET", "/settings")).at("motd").as_string(), "Welcome home\nBe nice");
  for (const char* value : {"0", "999"}) {
    ASSERT_EQ(
        as_admin("POST", "/settings/set", std::string(R"({"key":"default_quota","value":")") + value + "\"}").status,
        200)
        << value;
    EXPECT_EQ(body_json(as_admin("POST", "/settings/get", R"({"key":"default_quota"})")).at("value").as_string(),
              value);
  }
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"max_archive_size","value":"0"})").status, 200);
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"motd","value":")" + std::string(65'537, 'x') + R"("})"),
                 422, "value");

  // At most 1000 keys: fill up to the bound, then a new key is refused and an existing one still
  // changes.
  std::size_t stored = body_json(as_admin("GET", "/settings")).as_object().size();
  for (std::size_t i = stored; i < 1000; ++i) {
    ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"fill.)" + std::to_string(i) + R"(","value":"x"})").status,
              200)
        << i;
  }
  EXPECT_EQ(body_json(as_admin("GET", "/settings")).as_object().size(), 1000u);
  expect_problem(as_admin("POST", "/settings/set", R"({"key":"one.too.many","value":"x"})"), 422, "key");
  EXPECT_EQ(as_admin("POST", "/settings/set", R"({"key":"motd","value":"changed"})").status, 200);
  expect_problem(as_admin("POST", "/settings/get", R"({"key":"one.too.many"})"), 404);
}

TEST_F(settings_audit, settings_are_admin_only) {
  expect_problem(request(port(), "GET", "/settings"), 401);
  expect_problem(request(port(), "GET", "/settings", {}, bearer(user_token_)), 403);
  expect_problem(request(port(), "POST", "/settings/set", R"({"key":"locale","value":"de-DE"})", bearer(user_token_)),
                 403);
  expect_problem(request(port(), "POST", "/settings/get", R"({"key":"locale"})", bearer("not-a-token")), 401);
}

TEST_F(settings_audit, locales_follow_the_locale_setting) {
  expect_problem(request(port(), "GET", "/locales"), 401);
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"locale","value":"de-DE"})").status, 200);
  auto reply = request(port(), "GET", "/locales", {}, bearer(user_token_));
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = body_json(reply).as_object();
  EXPECT_EQ(body.at("current").as_string(), "de-DE");
  EXPECT_EQ(body.at("populated").as_array().at(0).as_string(), "en-US");
  EXPECT_EQ(body.at("populated").as_array().size(), 48u);
  EXPECT_EQ(body.at("common_languages").as_array().size(), 21u);
  auto first = body.at("common_languages").as_array().at(0).as_object();
  EXPECT_EQ(first.at("code").as_string(), "ar-SA");
  EXPECT_EQ(first.at("english_name").as_string(), "Arabic");
  EXPECT_FALSE(first.at("native_name").as_string().empty());
  EXPECT_GE(body.at("extended_locales").as_array().size(), 80u);
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"locale","value":"en-US"})").status, 200);
}

// --- audit ---------------------------------------------------------------------------------------

TEST_F(settings_audit, authentication_attempts_are_audited_without_their_secrets) {
  auto failed = request(port(), "POST", "/account/authenticate", R"({"username":"bob","password":"wrong-password"})");
  EXPECT_EQ(failed.status, 401);
  auto entries = newest_audit(1);
  ASSERT_EQ(entries.size(), 1u);
  auto e = entries[0].as_object();
  EXPECT_EQ(e.at("action").as_string(), "authenticate");
  EXPECT_EQ(e.at("path").as_string(), "/account/authenticate");
  EXPECT_EQ(e.at("account").as_string(), "");
  EXPECT_FALSE(e.at("success").as_bool());
  EXPECT_TRUE(e.at("error").as_string().starts_with("code=401, message=")) << e.at("error");
  EXPECT_EQ(e.at("detail").as_string(), R"({"username":"bob"})");  // the password key is left out
  EXPECT_EQ(std::string(e.at("detail").as_string()).find("wrong-password"), std::string::npos);
  EXPECT_EQ(e.at("created_at").as_string().size(), 20u);
  EXPECT_TRUE(e.at("id").is_int64());
}

TEST_F(settings_audit, mutations_are_audited_reads_are_not) {
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"ui.audit_probe","value":"1"})").status, 200);
  auto before = newest_audit(1);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].at("action").as_string(), "update setting");
  EXPECT_EQ(before[0].at("account").as_string(), "admin");
  EXPECT_TRUE(before[0].at("success").as_bool());
  EXPECT_EQ(before[0].at("detail").as_string(), R"({"key":"ui.audit_probe","value":"1"})");
  // Reads, the audit log itself and preflights add nothing.
  as_admin("GET", "/settings");
  as_admin("POST", "/settings/get", R"({"key":"locale"})");
  as_admin("GET", "/account/me");
  as_admin("GET", "/account/sessions");
  request(port(), "GET", "/status/ping");
  request(port(), "OPTIONS", "/settings/set", {}, {{"Origin", "http://localhost"}});
  newest_audit(1);
  auto after = newest_audit(1);
  EXPECT_EQ(after[0].at("id").as_int64(), before[0].at("id").as_int64());
}

TEST_F(settings_audit, refused_requests_are_audited_as_failures) {
  expect_problem(request(port(), "POST", "/settings/set", R"({"key":"locale","value":"de-DE","token":"t0ps3cret"})",
                         bearer(user_token_)),
                 403);
  auto e = newest_audit(1).at(0).as_object();
  EXPECT_EQ(e.at("path").as_string(), "/settings/set");
  EXPECT_EQ(e.at("account").as_string(), "bob");
  EXPECT_FALSE(e.at("success").as_bool());
  EXPECT_EQ(e.at("error").as_string(), "code=403, message=admin access required");
  EXPECT_EQ(std::string(e.at("detail").as_string()).find("t0ps3cret"), std::string::npos);
}

TEST_F(settings_audit, keyset_pages_do_not_overlap) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        as_admin("POST", "/settings/set", R"({"key":"ui.page_probe","value":")" + std::to_string(i) + R"("})").status,
        200);
  }
  auto first = as_admin("POST", "/audit/log", R"({"limit":2})");
  ASSERT_EQ(first.status, 200);
  auto page1 = body_json(first).as_object();
  EXPECT_TRUE(page1.at("has_more").as_bool());
  auto entries1 = page1.at("entries").as_array();
  ASSERT_EQ(entries1.size(), 2u);
  EXPECT_GT(entries1[0].at("id").as_int64(), entries1[1].at("id").as_int64());
  std::int64_t last = entries1[1].at("id").as_int64();
  auto second = body_json(as_admin("POST", "/audit/log", R"({"limit":2,"before_id":)" + std::to_string(last) + "}"));
  auto entries2 = second.at("entries").as_array();
  ASSERT_EQ(entries2.size(), 2u);
  EXPECT_LT(entries2[0].at("id").as_int64(), last);
  EXPECT_EQ(second.at("total_pages").as_int64(), (second.at("total_count").as_int64() + 1) / 2);
}

TEST_F(settings_audit, audit_filters_and_limits) {
  // Its own entries: ctest runs every test in a fresh process (and so a fresh server).
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"ui.page_probe","value":"filters"})").status, 200);
  ASSERT_EQ(request(port(), "POST", "/settings/set", R"({"key":"locale","value":"en-US"})", bearer(user_token_)).status,
            403);  // refused, and audited under bob's name
  auto bob_only = as_admin("POST", "/audit/log", R"({"account":"bob","limit":200})");
  ASSERT_EQ(bob_only.status, 200);
  auto bob_entries = body_json(bob_only);  // named: a temporary would die before the loop body
  EXPECT_FALSE(bob_entries.at("entries").as_array().empty());
  for (const auto& e : bob_entries.at("entries").as_array()) EXPECT_EQ(e.at("account").as_string(), "bob");
  auto searched = as_admin("POST", "/audit/log", R"({"search":"UI.PAGE_PROBE"})");
  ASSERT_EQ(searched.status, 200);
  auto searched_entries = body_json(searched);
  EXPECT_FALSE(searched_entries.at("entries").as_array().empty());
  for (const auto& e : searched_entries.at("entries").as_array()) {
    EXPECT_NE(std::string(e.at("detail").as_string()).find("ui.page_probe"), std::string::npos);
  }
  auto ascending = body_json(as_admin("POST", "/audit/log", R"({"sort_by":"id","sort_order":"ASC","limit":2})"));
  auto asc = ascending.at("entries").as_array();
  ASSERT_EQ(asc.size(), 2u);
  EXPECT_LT(asc[0].at("id").as_int64(), asc[1].at("id").as_int64());
  EXPECT_EQ(as_admin("POST", "/audit/log", R"({"limit":100000})").status, 200);
  EXPECT_EQ(as_admin("POST", "/audit/log", "").status, 200);  // empty body: no filters (original: 500 EOF)
  expect_problem(as_admin("POST", "/audit/log", R"({"limit":"ten"})"), 422, "limit");
  expect_problem(as_admin("POST", "/audit/log", R"({"before_id":-1})"), 422, "before_id");
  expect_problem(as_admin("POST", "/audit/log", R"({"search":"a\u0007b"})"), 422, "search");
  expect_problem(as_admin("POST", "/audit/log", "{oops"), 400);
}

TEST_F(settings_audit, audit_log_is_local_or_admin) {
  expect_problem(request(port(), "POST", "/audit/log", "{}"), 401);
  expect_problem(request(port(), "POST", "/audit/log", "{}", bearer(user_token_)), 403);
  // Root on the Unix socket needs no token (peer credentials; the tests run as root).
  ASSERT_EQ(::geteuid(), 0u) << "the integration suite runs as root (SO_PEERCRED uid 0)";
  auto local = request_unix(server_->socket_path(), "POST", "/audit/log", "{}");
  EXPECT_EQ(local.status, 200) << local.body;
}

TEST_F(settings_audit, local_root_mutations_are_attributed) {
  ASSERT_EQ(::geteuid(), 0u) << "the integration suite runs as root (SO_PEERCRED uid 0)";
  auto set = request_unix(server_->socket_path(), "POST", "/settings/set", R"({"key":"ui.local_probe","value":"1"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(newest_audit(1).at(0).at("account").as_string(), "(local root)");
}

// --- CORS ----------------------------------------------------------------------------------------

TEST_F(settings_audit, preflight_for_allowed_origin) {
  auto reply = request(port(), "OPTIONS", "/settings/set", {},
                       {{"Origin", "http://localhost:5173"},
                        {"Access-Control-Request-Method", "POST"},
                        {"Access-Control-Request-Private-Network", "true"}});
  EXPECT_EQ(reply.status, 204);
  EXPECT_TRUE(reply.body.empty());
  EXPECT_EQ(reply.header("access-control-allow-origin"), "http://localhost:5173");
  EXPECT_EQ(reply.header("access-control-allow-credentials"), "true");
  EXPECT_EQ(reply.header("access-control-allow-methods"), "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS");
  EXPECT_EQ(reply.header("access-control-allow-headers"), "Content-Type,Authorization,Accept");
  EXPECT_EQ(reply.header("access-control-max-age"), "3600");
  EXPECT_EQ(reply.header("access-control-allow-private-network"), "true");
  EXPECT_NE(reply.header("vary").find("Origin"), std::string::npos);
  EXPECT_NE(reply.header("vary").find("Access-Control-Request-Method"), std::string::npos);
}

TEST_F(settings_audit, preflight_for_foreign_origin_has_no_cors_headers) {
  auto reply = request(port(), "OPTIONS", "/no/such/route", {},
                       {{"Origin", "http://evil.example"}, {"Access-Control-Request-Private-Network", "true"}});
  EXPECT_EQ(reply.status, 204);
  EXPECT_EQ(reply.header("access-control-allow-origin"), "");
  EXPECT_EQ(reply.header("access-control-allow-private-network"), "");
  EXPECT_EQ(reply.header("access-control-allow-methods"), "");
}

TEST_F(settings_audit, simple_requests_get_cors_headers_only_for_allowed_origins) {
  auto allowed = request(port(), "GET", "/health", {}, {{"Origin", "http://localhost"}});
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.header("access-control-allow-origin"), "http://localhost");
  EXPECT_EQ(allowed.header("access-control-allow-credentials"), "true");
  EXPECT_EQ(allowed.header("access-control-expose-headers"), "Content-Type");
  EXPECT_EQ(allowed.header("vary"), "Origin");

  // DNS rebinding: Origin and Host agree on a name that is not ours.
  auto rebound = get_with_host(port(), "/health", "box.evil.example:5309", "http://box.evil.example");
  EXPECT_EQ(rebound.status, 200);  // executed, but the browser may not read it
  EXPECT_EQ(rebound.header("access-control-allow-origin"), "");
  EXPECT_EQ(rebound.header("vary"), "Origin");

  // The box's own IP literal on another port.
  auto literal = get_with_host(port(), "/health", "127.0.0.1:" + std::to_string(port()), "http://127.0.0.1:8080");
  EXPECT_EQ(literal.header("access-control-allow-origin"), "http://127.0.0.1:8080");

  auto errors_too = request(port(), "GET", "/settings", {}, {{"Origin", "http://localhost"}});
  EXPECT_EQ(errors_too.status, 401);
  EXPECT_EQ(errors_too.header("access-control-allow-origin"), "http://localhost");
  EXPECT_EQ(errors_too.header("vary"), "Origin");
  EXPECT_EQ(request(port(), "GET", "/health").header("vary"), "Origin");
}

TEST_F(settings_audit, dns_tld_setting_feeds_the_allowed_hosts) {
  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
  std::string host = name;
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string origin = "http://" + host + ".zzlan";
  auto before = request(port(), "GET", "/health", {}, {{"Origin", origin}});
  EXPECT_EQ(before.header("access-control-allow-origin"), "");
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"dns_tld","value":"ZZLAN"})").status, 200);
  auto after = request(port(), "GET", "/health", {}, {{"Origin", origin}});
  EXPECT_EQ(after.header("access-control-allow-origin"), origin);
  EXPECT_EQ(request(port(), "GET", "/health", {}, {{"Origin", "http://" + host + ".local"}})
                .header("access-control-allow-origin"),
            "http://" + host + ".local");
  ASSERT_EQ(as_admin("POST", "/settings/set", R"({"key":"dns_tld","value":"home"})").status, 200);
  EXPECT_EQ(request(port(), "GET", "/health", {}, {{"Origin", origin}}).header("access-control-allow-origin"), "");
}

}  // namespace
}  // namespace sc::test
