#include "core/audit.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace sc::audit {
namespace {

boost::json::value detail_of(std::string_view body) {
  return boost::json::parse(redact_detail(body));
}

TEST(audit, mutating_requests_are_audited_reads_are_not) {
  EXPECT_TRUE(is_audited("POST", "/account/create"));
  EXPECT_TRUE(is_audited("POST", "/account/authenticate"));
  EXPECT_TRUE(is_audited("POST", "/settings/set"));
  EXPECT_TRUE(is_audited("POST", "/account/session/revoke"));
  EXPECT_TRUE(is_audited("DELETE", "/anything/mutating"));
  EXPECT_FALSE(is_audited("GET", "/settings"));
  EXPECT_FALSE(is_audited("GET", "/account/create"));
  EXPECT_FALSE(is_audited("HEAD", "/account/create"));
  EXPECT_FALSE(is_audited("OPTIONS", "/account/create"));
}

TEST(audit, read_only_posts_are_excluded) {
  for (auto path : {"/account", "/settings/get", "/audit/log", "/account/sessions", "/account/me", "/status/ping",
                    "/storage", "/packages/versions", "/packages/manifest", "/metrics", "/locales"}) {
    EXPECT_FALSE(is_audited("POST", path)) << path;
  }
}

TEST(audit, action_names_follow_the_spec) {
  EXPECT_EQ(action_for("/account/create"), "create account");
  EXPECT_EQ(action_for("/account/update"), "update account");
  EXPECT_EQ(action_for("/account/disable"), "disable account");
  EXPECT_EQ(action_for("/account/enable"), "enable account");
  EXPECT_EQ(action_for("/account/authenticate"), "authenticate");
  EXPECT_EQ(action_for("/account/session/revoke"), "revoke session");
  EXPECT_EQ(action_for("/settings/set"), "update setting");
  EXPECT_EQ(action_for("/system-services/status"), "set system service status");
  EXPECT_EQ(action_for("/system-services/refresh"), "refresh system services");
  EXPECT_EQ(action_for("/packages/install"), "install package");
  EXPECT_EQ(action_for("/vm-images/upload"), "upload vm image");
  EXPECT_EQ(action_for("/pages/upload"), "upload page archive");
  EXPECT_EQ(action_for("/pages/remove"), "remove page");
  EXPECT_EQ(action_for("/no/such"), "");
}

TEST(audit, passwords_are_left_out_keys_sorted) {
  EXPECT_EQ(redact_detail(R"({"username":"alice","password":"hunter22","admin":false})"),
            R"({"admin":false,"username":"alice"})");
}

TEST(audit, escaped_and_duplicate_secret_keys_are_left_out_too) {
  // "pass\u0077ord" is "password" once decoded; a repeated key must not let either copy through.
  std::string d = redact_detail(R"({"pass\u0077ord":"hunter22","user":"u","TOKEN":"t1","token":"t2","token":"t3",)"
                                R"("password":"p1","password":"p2","\u0053ECRET":"s"})");
  EXPECT_EQ(d, R"({"user":"u"})");
  for (auto secret : {"hunter22", "t1", "t2", "t3", "p1", "p2", "\"s\""})
    EXPECT_EQ(d.find(secret), std::string::npos) << secret;
}

TEST(audit, credentials_are_left_out_at_any_depth_and_in_arrays) {
  auto d = detail_of(
      R"({"smtp_password":"a","registration_secret":"b","token":"c","api_key":"d","apikey":"e","private_key":"f",)"
      R"("access_token":"g","passphrase":"h","PASSWORD":"i","Refresh_Token":"j","auth":"k","basic_auth":"l",)"
      R"("nested":{"deeper":{"password":"m"}},"list":[{"secret":"n"},[{"token":"o"}]],"public_key":"pub",)"
      R"("key":"plain","repo":"r","name":"n1","version":"1","grants":["wireguard"],"networks":["lan"],)"
      R"("trailing_":"visible","oauth":"visible"})");
  for (auto key : {"smtp_password", "registration_secret", "token", "api_key", "apikey", "private_key", "access_token",
                   "passphrase", "PASSWORD", "Refresh_Token", "auth", "basic_auth"}) {
    EXPECT_FALSE(d.as_object().contains(key)) << key;
  }
  EXPECT_TRUE(d.at("nested").at("deeper").as_object().empty());
  EXPECT_TRUE(d.at("list").at(0).as_object().empty());
  EXPECT_TRUE(d.at("list").at(1).at(0).as_object().empty());
  EXPECT_EQ(d.at("public_key").as_string(), "pub");
  EXPECT_EQ(d.at("key").as_string(), "plain");
  EXPECT_EQ(d.at("repo").as_string(), "r");
  EXPECT_EQ(d.at("grants").at(0).as_string(), "wireguard");
  EXPECT_EQ(d.at("networks").at(0).as_string(), "lan");
  EXPECT_EQ(d.at("trailing_").as_string(), "visible");
  EXPECT_EQ(d.at("oauth").as_string(), "visible");
}

TEST(audit, install_responses_are_left_out_whole) {
  auto d = detail_of(R"({"repo":"main","name":"nextcloud","responses":{"admin_user":"bob","db":"x"}})");
  EXPECT_FALSE(d.as_object().contains("responses"));
  EXPECT_EQ(d.at("name").as_string(), "nextcloud");
}

TEST(audit, secrets_inside_free_text_values_are_redacted) {
  auto d = detail_of(R"({"note":"use token=abc123 please"})");
  EXPECT_EQ(d.at("note").as_string(), "use token=[REDACTED] please");
}

TEST(audit, update_keeps_grants_visible_but_leaves_out_the_password) {
  auto d = detail_of(R"({"username":"bob","fields":{"password":"newpass1","grants":["gfeh"],"networks":["n"]}})");
  EXPECT_FALSE(d.at("fields").as_object().contains("password"));
  EXPECT_EQ(d.at("fields").at("grants").at(0).as_string(), "gfeh");
}

TEST(audit, non_object_bodies_give_an_empty_detail) {
  for (auto body : {"", "not json", "[1,2]", "null", "42", "\"password\"", "{\"a\":"}) {
    EXPECT_EQ(redact_detail(body), "") << body;
  }
}

TEST(audit, overlong_detail_is_cut) {
  std::string body = R"({"name":")" + std::string(100'000, 'x') + R"("})";
  std::string d = redact_detail(body);
  EXPECT_LE(d.size(), max_detail_bytes + 3);
  EXPECT_TRUE(d.ends_with("…"));
}

TEST(audit, error_text_is_echo_formatted_and_redacted) {
  EXPECT_EQ(format_error(401, "invalid credentials"), "code=401, message=invalid credentials");
  EXPECT_EQ(format_error(422, "password=abc is weak"), "code=422, message=password=[REDACTED] is weak");
}

TEST(audit, query_normalisation) {
  auto q = normalize_query(0, 0, 0, "", "", "", "");
  EXPECT_EQ(q.limit, 50u);
  EXPECT_EQ(q.sort_by, "id");
  EXPECT_FALSE(q.ascending);
  EXPECT_EQ(normalize_query(0, 0, 1000, "", "", "", "").limit, 200u);
  EXPECT_EQ(normalize_query(0, 0, -3, "", "", "", "").limit, 50u);
  EXPECT_EQ(normalize_query(0, 0, 7, "", "", "", "").limit, 7u);
  EXPECT_EQ(normalize_query(-5, -5, 1, "", "", "", "").before_id, 0);
  EXPECT_EQ(normalize_query(-5, -5, 1, "", "", "", "").offset, 0u);
  EXPECT_EQ(normalize_query(0, 0, 1, "", "created_at", "ASC", "").sort_by, "created_at");
  EXPECT_TRUE(normalize_query(0, 0, 1, "", "created_at", "ASC", "").ascending);
  EXPECT_EQ(normalize_query(0, 0, 1, "", "id; DROP TABLE audit_log", "asc", "").sort_by, "id");
  EXPECT_EQ(normalize_query(0, 0, 1, "", "password_hash", "desc", "").sort_by, "id");
  EXPECT_FALSE(normalize_query(0, 0, 1, "", "id", "sideways", "").ascending);
}

}  // namespace
}  // namespace sc::audit
