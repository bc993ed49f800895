// The origin predicate of behavior-core.md §2.6 and the guarantees of §10 (controller_cors_test).
#include "core/cors.hpp"

#include <gtest/gtest.h>

namespace sc::cors {
namespace {

const std::vector<std::string> configured = {"Dashboard.Example.Net"};
const std::vector<std::string> allowed = allowed_hosts(configured, "townos", "home");

TEST(cors, allowed_hosts_are_built_from_hostname_and_tld) {
  std::vector<std::string> expected = {"dashboard.example.net", "localhost", "townos", "townos.local", "townos.home"};
  EXPECT_EQ(allowed, expected);
  EXPECT_EQ(allowed_hosts({}, "", "home"), std::vector<std::string>{"localhost"});
  EXPECT_EQ(allowed_hosts({}, "Box", ""), (std::vector<std::string>{"localhost", "box", "box.local"}));
}

TEST(cors, dns_rebinding_name_is_rejected) {
  EXPECT_FALSE(origin_allowed("http://box.evil.example", "box.evil.example:5309", allowed));
  EXPECT_FALSE(origin_allowed("http://box.evil.example", "box.evil.example", allowed));
}

TEST(cors, own_ip_literal_on_another_port_is_allowed) {
  EXPECT_TRUE(origin_allowed("http://192.168.1.10", "192.168.1.10:5309", allowed));
  EXPECT_TRUE(origin_allowed("http://[::1]:8080", "[::1]:5309", allowed));
  EXPECT_TRUE(origin_allowed("http://[fe80::1]", "[fe80::1]:5309", allowed));
}

TEST(cors, configured_and_derived_hosts_are_allowed_from_anywhere) {
  EXPECT_TRUE(origin_allowed("https://dashboard.example.net", "10.0.0.1:5309", allowed));
  EXPECT_TRUE(origin_allowed("http://TOWNOS.home:80", "whatever", allowed));
  EXPECT_TRUE(origin_allowed("http://townos.local", "", allowed));
  EXPECT_TRUE(origin_allowed("http://localhost:5173", "localhost:5309", allowed));
}

TEST(cors, unrelated_origin_against_ip_host_is_rejected) {
  EXPECT_FALSE(origin_allowed("http://attacker.example", "192.168.1.10:5309", allowed));
  EXPECT_FALSE(origin_allowed("http://192.168.1.11", "192.168.1.10:5309", allowed));
}

TEST(cors, empty_and_malformed_origins_are_rejected) {
  for (auto origin : {"", "null", "://", "http://", "http://:80", "example.com", "1http://x", "http://a b"}) {
    EXPECT_FALSE(origin_allowed(origin, "example.com", allowed)) << origin;
  }
}

TEST(cors, no_suffix_matching) {
  EXPECT_FALSE(origin_allowed("http://townos.evil.test", "townos.evil.test", allowed));
  EXPECT_FALSE(origin_allowed("http://eviltownos", "eviltownos", allowed));
  EXPECT_FALSE(origin_allowed("http://townos.home.evil", "townos.home.evil", allowed));
}

TEST(cors, userinfo_does_not_smuggle_a_host) {
  EXPECT_FALSE(origin_allowed("http://localhost@evil.example", "evil.example", allowed));
  EXPECT_EQ(origin_host("http://localhost@evil.example"), "evil.example");
}

TEST(cors, debug_allows_any_non_empty_origin) {
  EXPECT_TRUE(origin_allowed("http://anything.example", "x", allowed, true));
  EXPECT_FALSE(origin_allowed("", "x", allowed, true));
}

TEST(cors, host_is_self_only_for_ip_literals_and_exact_names) {
  EXPECT_TRUE(is_ip_literal("::1"));
  EXPECT_TRUE(is_ip_literal("[::1]"));
  EXPECT_TRUE(is_ip_literal("127.0.0.1"));
  EXPECT_FALSE(is_ip_literal("townos.evil.test"));
  EXPECT_FALSE(is_ip_literal("1.2.3"));
  EXPECT_FALSE(is_ip_literal(""));
  EXPECT_EQ(host_header_host("::1"), "::1");
  EXPECT_EQ(host_header_host("[::1]:5309"), "::1");
  EXPECT_EQ(host_header_host("Box.Local:5309"), "box.local");
  EXPECT_TRUE(origin_allowed("http://[::1]", "::1", allowed));
}

}  // namespace
}  // namespace sc::cors
