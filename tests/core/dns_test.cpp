// The local zone's rules (core/dns.hpp): every record type's values, names, TTL bounds, and a zone
// text that no input can inject into.
#include "core/dns.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sc::dns {
namespace {

std::string value_of(record_type type, std::string_view text) {
  auto v = canonical_value(type, text);
  return v ? *v : "ERROR " + std::to_string(v.error().status);
}

TEST(dns_types, parse_case_insensitively_and_refuse_others) {
  EXPECT_EQ(*parse_record_type("A"), record_type::a);
  EXPECT_EQ(*parse_record_type("aaaa"), record_type::aaaa);
  EXPECT_EQ(*parse_record_type("Cname"), record_type::cname);
  EXPECT_EQ(*parse_record_type("srv"), record_type::srv);
  for (auto bad : {"", "NS", "SOA", "ANY", "A ", "AAAAA", "TXT\n"}) {
    auto t = parse_record_type(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().status, 422);
    EXPECT_EQ(t.error().errors.at(0).field, "type");
  }
}

TEST(dns_values, a_and_aaaa_are_addresses_in_canonical_form) {
  EXPECT_EQ(value_of(record_type::a, "10.0.0.5"), "10.0.0.5");
  for (auto bad : {"", "10.0.0", "10.0.0.256", "10.0.0.5 ", " 10.0.0.5", "fd00::1", "10.0.0.5\n", "0x0a.0.0.1",
                   "10.0.0.5;x", "1.2.3.4.5"})
    EXPECT_EQ(value_of(record_type::a, bad), "ERROR 422") << bad;
  EXPECT_EQ(value_of(record_type::aaaa, "FD00:0:0::0005"), "fd00::5");
  // Found by fuzz_dns_records: "::1:1" is written back as "::0.1.0.1", which the rules refuse, so
  // the record vanished from the zone. IPv4-compatible and -mapped forms are refused up front.
  EXPECT_EQ(value_of(record_type::aaaa, "::1:1"), "ERROR 422");
  EXPECT_EQ(value_of(record_type::aaaa, "::ffff:a00:1"), "ERROR 422");
  EXPECT_EQ(value_of(record_type::aaaa, "::1"), "::1");
  const std::string colons(60, ':');
  for (std::string_view bad : {std::string_view(""), std::string_view("10.0.0.5"), std::string_view("::ffff:10.0.0.5"),
                               std::string_view("fd00:::1"), std::string_view("fd00::g"), std::string_view(colons)})
    EXPECT_EQ(value_of(record_type::aaaa, bad), "ERROR 422") << bad;
}

TEST(dns_values, cname_and_ptr_are_absolute_names) {
  EXPECT_EQ(value_of(record_type::cname, "Web.Default.home"), "web.default.home.");
  EXPECT_EQ(value_of(record_type::ptr, "host.example.com."), "host.example.com.");
  for (auto bad : {"", ".", "a..b", "-a.b", "a-.b", "a b", "a;b", "a\"b", "$ORIGIN", "a\nb", "a/b", "a@b", "*.a"})
    EXPECT_EQ(value_of(record_type::cname, bad), "ERROR 422") << bad;
  EXPECT_EQ(value_of(record_type::cname, std::string(64, 'a') + ".com"), "ERROR 422");
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcd.";
  long_name += "com";  // 253
  EXPECT_EQ(value_of(record_type::cname, long_name), long_name + ".");
  EXPECT_EQ(value_of(record_type::cname, "x" + long_name), "ERROR 422");
}

TEST(dns_values, mx_and_srv_have_bounded_numbers_and_a_target) {
  EXPECT_EQ(value_of(record_type::mx, "10 mail.example.com"), "10 mail.example.com.");
  EXPECT_EQ(value_of(record_type::mx, "  0\tMAIL.example.com. "), "0 mail.example.com.");
  for (auto bad : {"mail.example.com", "10", "65536 mail.example.com", "-1 mail.example.com", "10 mail example",
                   "1e1 mail.example.com", "10 mail.example.com\n@ IN A 1.2.3.4"})
    EXPECT_EQ(value_of(record_type::mx, bad), "ERROR 422") << bad;
  EXPECT_EQ(value_of(record_type::srv, "10 5 5060 sip.example.com"), "10 5 5060 sip.example.com.");
  EXPECT_EQ(value_of(record_type::srv, "0 0 0 ."), "0 0 0 .");
  for (auto bad : {"10 5 5060", "10 5 70000 sip.example.com", "a b c d", "10 5 5060 sip example.com"})
    EXPECT_EQ(value_of(record_type::srv, bad), "ERROR 422") << bad;
}

TEST(dns_values, txt_refuses_control_characters_and_oversize) {
  EXPECT_EQ(value_of(record_type::txt, "v=spf1 -all"), "v=spf1 -all");
  EXPECT_EQ(value_of(record_type::txt, "say \"hi\"; $ORIGIN evil."), "say \"hi\"; $ORIGIN evil.");
  EXPECT_EQ(value_of(record_type::txt, "caf\xc3\xa9"), "caf\xc3\xa9");
  for (const auto& bad : {std::string(), std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3),
                          std::string("\x7f"), std::string(max_txt_length + 1, 'x')})
    EXPECT_EQ(value_of(record_type::txt, bad), "ERROR 422");
  EXPECT_EQ(value_of(record_type::txt, std::string(max_txt_length, 'x')).size(), max_txt_length);
}

TEST(dns_txt, quoting_escapes_and_splits) {
  EXPECT_EQ(quote_txt("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quote_txt("caf\xc3\xa9"), R"("caf\195\169")");
  EXPECT_EQ(quote_txt(";$ORIGIN x."), R"(";$ORIGIN x.")");
  std::string quoted = quote_txt(std::string(300, 'x'));
  EXPECT_EQ(quoted, "\"" + std::string(255, 'x') + "\" \"" + std::string(45, 'x') + "\"");
}

TEST(dns_names, owners_are_relative_labels) {
  EXPECT_EQ(*relative_owner("printer", "home"), "printer");
  EXPECT_EQ(*relative_owner("Printer.HOME.", "home"), "printer");
  EXPECT_EQ(*relative_owner("printer.home", "home"), "printer");
  EXPECT_EQ(*relative_owner("home", "home"), "@");
  EXPECT_EQ(*relative_owner("@", "home"), "@");
  EXPECT_EQ(*relative_owner("", "home"), "@");
  EXPECT_EQ(*relative_owner("_sip._tcp", "home"), "_sip._tcp");
  EXPECT_EQ(*relative_owner("web.default", "home"), "web.default");
  for (auto bad : {"*", "*.x", "a..b", ".a", "a b", "a\nb", "a;b", "$ORIGIN", "a\\b", "a(b", "-a", "a-", "\xc3\xa9"}) {
    auto owner = relative_owner(bad, "home");
    ASSERT_FALSE(owner) << bad;
    EXPECT_EQ(owner.error().status, 422);
    EXPECT_EQ(owner.error().errors.at(0).field, "name");
  }
  EXPECT_FALSE(relative_owner(std::string(64, 'a'), "home"));
  EXPECT_TRUE(relative_owner(std::string(63, 'a'), "home"));
  std::string long_name;
  for (int i = 0; i < 49; ++i) long_name += "abcd.";
  long_name += "abcde";  // 250 bytes: fits alone, not with ".home"
  EXPECT_FALSE(relative_owner(long_name, "home"));
  EXPECT_FALSE(relative_owner(std::string(10'000, 'a'), "home"));
}

TEST(dns_ttl, bounds) {
  EXPECT_EQ(*check_ttl(0), default_ttl);
  EXPECT_EQ(*check_ttl(min_ttl), min_ttl);
  EXPECT_EQ(*check_ttl(max_ttl), max_ttl);
  for (std::int64_t bad : {std::int64_t{-1}, std::int64_t{1}, std::int64_t{min_ttl - 1}, std::int64_t{max_ttl + 1},
                           std::int64_t{1} << 40}) {
    auto t = check_ttl(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().errors.at(0).field, "ttl");
  }
}

TEST(dns_records, make_record_and_coexistence) {
  auto r = make_record("Printer.home", "a", "10.0.0.9", 0, "home");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "printer");
  EXPECT_EQ(r->ttl, default_ttl);
  EXPECT_EQ(make_record("ns", "A", "10.0.0.1", 0, "home").error().status, 409);
  std::vector<record> zone{*r};
  EXPECT_EQ(check_coexistence(zone, *r).error().status, 409);
  auto second = make_record("printer", "A", "10.0.0.10", 0, "home");
  EXPECT_TRUE(check_coexistence(zone, *second));
  auto alias = make_record("printer", "CNAME", "other.home", 0, "home");
  EXPECT_EQ(check_coexistence(zone, *alias).error().status, 409);
  auto apex = make_record("@", "CNAME", "other.home", 0, "home");
  EXPECT_EQ(check_coexistence({}, *apex).error().status, 409);
}

TEST(dns_packages, owner_names_and_service_keys) {
  EXPECT_EQ(*package_owner("Gitea", "default"), "gitea.default");
  EXPECT_FALSE(package_owner("my.app", "default"));
  EXPECT_FALSE(package_owner("app", "re po"));
  EXPECT_FALSE(package_owner("", "default"));
  EXPECT_EQ(*canonical_service_key("Default/Gitea", "excluded"), "default/gitea");
  EXPECT_FALSE(canonical_service_key("gitea", "excluded"));
  EXPECT_FALSE(canonical_service_key("a/b/c", "excluded"));
}

TEST(dns_lists, networks_and_allowlist_entries) {
  EXPECT_EQ(*canonical_network("192.0.2.0/24", "entry"), "192.0.2.0/24");
  EXPECT_EQ(*canonical_network("192.0.2.7", "entry"), "192.0.2.7");
  EXPECT_EQ(*canonical_network("2001:DB8::/32", "entry"), "2001:db8::/32");
  for (auto bad : {"192.0.2.1/24", "192.0.2.0/33", "192.0.2.0/", "/24", "x/24", "2001:db8::/129", "192.0.2.0/024x"})
    EXPECT_FALSE(canonical_network(bad, "entry")) << bad;
  EXPECT_EQ(*canonical_allowlist_entry("Mail.Example.com"), "mail.example.com");
  EXPECT_FALSE(canonical_allowlist_entry("mail example"));
  auto zones = canonical_blocklist_zones({"zen.spamhaus.org", "ZEN.spamhaus.org."});
  ASSERT_TRUE(zones);
  EXPECT_EQ(zones->size(), 1u);
  EXPECT_FALSE(canonical_blocklist_zones(std::vector<std::string>(33, "a.org")));
}

TEST(dns_zone, renders_every_type_and_nothing_else) {
  zone z{"home", 42, "192.168.1.2", {}};
  for (auto [name, type, value] : std::initializer_list<std::tuple<const char*, const char*, const char*>>{
           {"a4", "A", "10.0.0.4"},
           {"a6", "AAAA", "fd00::6"},
           {"alias", "CNAME", "a4.home"},
           {"@", "MX", "10 mail.home"},
           {"@", "TXT", "v=spf1 -all \"quoted\""},
           {"_sip._tcp", "SRV", "10 5 5060 a4.home"},
           {"rev", "PTR", "a4.home"}}) {
    auto r = make_record(name, type, value, 0, "home");
    ASSERT_TRUE(r) << name << " " << r.error().detail;
    z.records.push_back(*r);
  }
  std::string text = render_zone(z);
  EXPECT_NE(text.find("$ORIGIN home.\n"), std::string::npos);
  EXPECT_NE(text.find("@ 3600 IN SOA ns.home. hostmaster.home. 42 "), std::string::npos);
  EXPECT_NE(text.find("ns 3600 IN A 192.168.1.2\n"), std::string::npos);
  EXPECT_NE(text.find("a4 300 IN A 10.0.0.4\n"), std::string::npos);
  EXPECT_NE(text.find("a6 300 IN AAAA fd00::6\n"), std::string::npos);
  EXPECT_NE(text.find("alias 300 IN CNAME a4.home.\n"), std::string::npos);
  EXPECT_NE(text.find("@ 300 IN MX 10 mail.home.\n"), std::string::npos);
  EXPECT_NE(text.find("@ 300 IN TXT \"v=spf1 -all \\\"quoted\\\"\"\n"), std::string::npos);
  EXPECT_NE(text.find("_sip._tcp 300 IN SRV 10 5 5060 a4.home.\n"), std::string::npos);
  EXPECT_NE(text.find("rev 300 IN PTR a4.home.\n"), std::string::npos);
}

// Rows that are not what the rules make (a bug, a hand-edited database) never reach the text.
// Found by fuzz_dns_records: an owner that ends in the TLD's label ("pri.home.home." gives "pri.home")
// was folded a second time while rendering and left out of the zone.
TEST(dns_zone, an_owner_ending_in_the_tld_label_is_rendered_as_is) {
  auto r = make_record("pri.home.home.", "AAAA", "F1::1", 0, "home");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "pri.home");
  std::string text = render_zone(zone{"home", 1, "192.0.2.1", {*r}});
  EXPECT_NE(text.find("\npri.home 300 IN AAAA f1::1\n"), std::string::npos) << text;
}

TEST(dns_zone, non_canonical_rows_are_left_out_so_nothing_injects) {
  zone z{"home", 1, "192.168.1.2", {}};
  z.records.push_back({"evil\n$ORIGIN attacker.", record_type::a, "10.0.0.1", 300});
  z.records.push_back({"ok", record_type::a, "10.0.0.1\n@ IN NS attacker.", 300});
  z.records.push_back({"ok", record_type::cname, "x.y. ; comment", 300});
  z.records.push_back({"ok", record_type::a, "010.0.0.1", 300});
  z.records.push_back({"Upper", record_type::a, "10.0.0.1", 300});
  z.records.push_back({"ok", record_type::a, "10.0.0.1", 5});
  z.records.push_back({"ns", record_type::a, "10.9.9.9", 300});
  z.records.push_back({"t", record_type::txt, "line\nbreak", 300});
  z.records.push_back({"t", record_type::txt, "\";$INCLUDE /etc/shadow", 300});
  std::string text = render_zone(z);
  EXPECT_EQ(text.find("attacker"), std::string::npos) << text;
  EXPECT_EQ(text.find("comment"), std::string::npos) << text;
  EXPECT_EQ(text.find("Upper"), std::string::npos) << text;
  EXPECT_EQ(text.find("10.9.9.9"), std::string::npos) << text;
  EXPECT_EQ(text.find("break"), std::string::npos) << text;
  EXPECT_NE(text.find("t 300 IN TXT \"\\\";$INCLUDE /etc/shadow\"\n"), std::string::npos) << text;
  // Every line is a comment, a directive of ours, or "<owner> <ttl> IN <TYPE> …".
  std::size_t lines = 0;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    at = end + 1;
    ++lines;
    if (line.starts_with("; Generated") || line == "$ORIGIN home." || line == "$TTL 300") continue;
    EXPECT_NE(line.find(" IN "), std::string::npos) << line;
    EXPECT_NE(line.front(), '$') << line;
  }
  EXPECT_EQ(lines, 7u) << text;  // header 3, SOA, NS, ns A, the one good TXT
}

}  // namespace
}  // namespace sc::dns
