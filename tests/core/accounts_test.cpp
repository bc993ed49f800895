#include "core/accounts.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace sc::accounts {
namespace {

new_account valid_request() {
  new_account r;
  r.username = "alice";
  r.password = "correct-horse";
  r.email = "alice@example.com";
  r.phone = "+1 (555) 123-4567";
  r.real_name = "Alice Smith";
  return r;
}

std::vector<std::string> fields_of(const problem& p) {
  std::vector<std::string> out;
  for (const auto& e : p.errors) out.push_back(e.field);
  return out;
}

TEST(accounts, username_allowed_set) {
  for (std::string_view good : {"a", "alice", "Alice.Smith", "bob_2", "x-y", "0day"})
    EXPECT_FALSE(username_error(good)) << good;
  for (std::string_view bad : {"", ".hidden", "-opt", "_x", "a b", "a/b", "a@b", "tab\tname", "ü", "(local root)"}) {
    EXPECT_TRUE(username_error(bad)) << bad;
  }
  EXPECT_FALSE(username_error(std::string(64, 'a')));
  EXPECT_TRUE(username_error(std::string(65, 'a')));
}

TEST(accounts, password_rules) {
  EXPECT_EQ(password_error("short"), "password must be at least 8 characters");
  EXPECT_EQ(password_error("has space in it"), "password may only contain printable ASCII characters (no spaces)");
  EXPECT_TRUE(password_error("caf\xc3\xa9-latte"));
  EXPECT_FALSE(password_error("12345678"));
  EXPECT_TRUE(password_error(std::string(1025, 'x')));
}

TEST(accounts, contact_rules) {
  EXPECT_FALSE(email_error("a@b.co"));
  for (std::string_view bad : {"", "  ", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@b.", "a@.b"})
    EXPECT_TRUE(email_error(bad)) << bad;
  EXPECT_FALSE(phone_error("555-1234"));
  EXPECT_FALSE(phone_error("+44 (0) 20.7946.0000"));
  for (std::string_view bad : {"", "call me", "+", "()-", "12a"}) EXPECT_TRUE(phone_error(bad)) << bad;
  EXPECT_TRUE(real_name_error("   ", true));
  EXPECT_FALSE(real_name_error("", false));
  EXPECT_TRUE(real_name_error("bad\x01name", false));
}

TEST(accounts, create_collects_every_field_error) {
  new_account r;
  r.username = "bad name";
  r.password = "short";
  r.email = "nope";
  r.phone = "x";
  r.grants = {"root"};
  r.networks = {"Bad Net"};
  auto prepared = prepare_new_account(r, false);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().status, 422);
  EXPECT_EQ(fields_of(prepared.error()), (std::vector<std::string>{"username", "password", "email", "phone",
                                                                   "real_name", "grants[0]", "networks[0]"}));
}

TEST(accounts, first_account_is_always_admin) {
  auto prepared = prepare_new_account(valid_request(), true);
  ASSERT_TRUE(prepared);
  EXPECT_TRUE(prepared->admin);
  auto later = prepare_new_account(valid_request(), false);
  ASSERT_TRUE(later);
  EXPECT_FALSE(later->admin);
  EXPECT_EQ(later->networks, std::vector<std::string>{"home"});
}

TEST(accounts, grant_scope_rules) {
  auto r = valid_request();
  r.grants = {"wireguard", "gfeh", "wireguard"};
  auto prepared = prepare_new_account(r, false);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(fields_of(prepared.error()), std::vector<std::string>{"networks"});
  r.networks = {"lan", "iot", "lan"};
  prepared = prepare_new_account(r, false);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->grants, (std::vector<std::string>{"gfeh", "wireguard"}));
  EXPECT_EQ(prepared->networks, (std::vector<std::string>{"iot", "lan"}));
  r.admin = true;
  EXPECT_FALSE(prepare_new_account(r, false));
}

TEST(accounts, changes_are_validated_against_the_resulting_row) {
  account current;
  current.username = "bob";
  current.networks = {"home"};
  account_changes c;
  c.grants = std::vector<std::string>{"gfeh"};
  EXPECT_TRUE(prepare_changes(c, current));
  c.networks = std::vector<std::string>{};
  auto refused = prepare_changes(c, current);
  ASSERT_FALSE(refused);
  EXPECT_EQ(fields_of(refused.error()), std::vector<std::string>{"fields.networks"});
  account_changes p;
  p.password = "short";
  p.email = "bad";
  EXPECT_EQ(fields_of(prepare_changes(p, current).error()),
            (std::vector<std::string>{"fields.password", "fields.email"}));
  account_changes empty_name;
  empty_name.real_name = "";
  EXPECT_TRUE(prepare_changes(empty_name, current));
}

TEST(accounts, json_has_the_exact_field_order_and_no_hash) {
  account a;
  a.username = "alice";
  a.password_hash = "$argon2id$secret";
  a.email = "a@b.com";
  a.phone = "555-1234";
  a.real_name = "Alice Smith";
  a.networks = {"home"};
  a.created_at = "2025-05-01T12:00:00Z";
  a.updated_at = "2025-05-01T12:00:00Z";
  std::string written;
  json_writer writer(written);
  write_json(writer, a);
  EXPECT_EQ(written, R"({"username":"alice","email":"a@b.com","phone":"555-1234","real_name":"Alice Smith",)"
                     R"("admin":false,"disabled":false,"grants":[],"networks":["home"],)"
                     R"("created_at":"2025-05-01T12:00:00Z","updated_at":"2025-05-01T12:00:00Z"})");
}

TEST(accounts, list_never_searches_or_sorts_by_the_hash) {
  std::vector<account> all(2);
  all[0].username = "b";
  all[0].password_hash = "$argon2id$zzz";
  all[1].username = "a";
  all[1].password_hash = "$argon2id$aaa";
  list_query q;
  q.search = "argon2id";
  EXPECT_EQ(paginate(all, q, list_fields()).counts.total_count, 0u);
  q.search.clear();
  q.sort_by = "password_hash";
  auto page = paginate(all, q, list_fields());
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[0]->username, "b");  // unchanged order: not sortable
  q.sort_by = "username";
  EXPECT_EQ(paginate(all, q, list_fields()).entries[0]->username, "a");
}

}  // namespace
}  // namespace sc::accounts

namespace sc::accounts {
namespace {

TEST(restricted_accounts, allow_list_is_fail_closed_and_per_grant) {
  std::vector<std::string> wireguard = {"wireguard"};
  EXPECT_TRUE(restricted_route_allowed("GET", "/account/me", wireguard));
  EXPECT_TRUE(restricted_route_allowed("GET", "/status/ping", wireguard));
  EXPECT_TRUE(restricted_route_allowed("POST", "/networks/peers/add", wireguard));
  EXPECT_FALSE(restricted_route_allowed("POST", "/gfeh/grants/add", wireguard));
  EXPECT_FALSE(restricted_route_allowed("GET", "/account", wireguard));
  EXPECT_FALSE(restricted_route_allowed("GET", "/account/sessions", wireguard));
  EXPECT_FALSE(restricted_route_allowed("POST", "/account/me", wireguard));
  EXPECT_TRUE(restricted_route_allowed("GET", "/gfeh", {"gfeh"}));
}

}  // namespace
}  // namespace sc::accounts
