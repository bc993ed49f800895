#include "core/settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace sc::settings {
namespace {

std::string accepted(std::string_view key, std::string_view value) {
  auto r = validate(key, value);
  EXPECT_TRUE(r) << key << "=" << value << ": " << (r ? "" : r.error().detail);
  return r ? *r : std::string();
}

void refused(std::string_view key, std::string_view value, std::string_view field = "value") {
  auto r = validate(key, value);
  ASSERT_FALSE(r) << key << "=" << value << " was accepted as " << *r;
  EXPECT_EQ(r.error().status, 422);
  ASSERT_EQ(r.error().errors.size(), 1u);
  EXPECT_EQ(r.error().errors[0].field, field);
}

TEST(settings, defaults_match_the_reference) {
  EXPECT_EQ(default_of("default_quota"), "53687091200");
  EXPECT_EQ(default_of("max_archive_size"), "1073741824");
  EXPECT_EQ(default_of("archive_unpack_timeout"), "600");
  EXPECT_EQ(default_of("locale"), "en-US");
  EXPECT_EQ(default_of("proton_image"), "quay.io/town/proton:latest");
  EXPECT_EQ(default_of("dns_tld"), "home");
  EXPECT_FALSE(default_of("monitoring_backend"));
}

TEST(settings, every_default_passes_its_own_validator) {
  for (const auto& d : defaults()) EXPECT_EQ(accepted(d.key, d.value), d.value) << d.key;
}

TEST(settings, audit_retention_keys_are_bounded_integers) {
  EXPECT_EQ(default_of("audit_retention_days"), "90");
  EXPECT_EQ(default_of("audit_max_rows"), "1000000");
  EXPECT_EQ(accepted("audit_retention_days", "1"), "1");
  EXPECT_EQ(accepted("audit_retention_days", "36500"), "36500");
  refused("audit_retention_days", "0");
  refused("audit_retention_days", "36501");
  refused("audit_retention_days", "-1");
  refused("audit_retention_days", "90d");
  EXPECT_EQ(default_of("package_start_timeout"), "120");
  EXPECT_EQ(accepted("package_start_timeout", "5"), "5");
  refused("package_start_timeout", "4");
  refused("package_start_timeout", "3601");
  EXPECT_EQ(default_of("package_keep_snapshots"), "1");
  EXPECT_EQ(default_of("vm_image_max_size"), "68719476736");
  EXPECT_EQ(accepted("vm_image_max_size", "0"), "0");
  EXPECT_EQ(accepted("vm_image_max_size", "10GiB"), "10737418240");
  refused("vm_image_max_size", "2EiB");
  refused("vm_image_max_size", "-1");
  EXPECT_EQ(accepted("package_keep_snapshots", "0"), "0");
  refused("package_keep_snapshots", "101");
  refused("package_keep_snapshots", "-1");
  EXPECT_EQ(accepted("audit_max_rows", "1000"), "1000");
  refused("audit_max_rows", "999");
  refused("audit_max_rows", "1000000001");
  refused("audit_max_rows", "1e6");
}

TEST(settings, byte_keys_take_integers_and_human_sizes) {
  EXPECT_EQ(accepted("default_quota", "107374182400"), "107374182400");
  EXPECT_EQ(accepted("default_quota", "500GB"), "500000000000");
  EXPECT_EQ(accepted("default_quota", "10 MiB"), "10485760");
  EXPECT_EQ(accepted("max_archive_size", "1.5GiB"), "1610612736");
  EXPECT_EQ(accepted("gfeh_partition_quota", "0"), "0");
  EXPECT_EQ(accepted("password_hash_memory", "0"), "0");
  EXPECT_EQ(accepted("password_hash_memory", "256MiB"), "268435456");
  // As the original: 0 and small values (0 is no quota / no upload limit).
  EXPECT_EQ(accepted("default_quota", "0"), "0");
  EXPECT_EQ(accepted("default_quota", "999"), "999");
  EXPECT_EQ(accepted("max_archive_size", "0"), "0");
  EXPECT_EQ(accepted("max_archive_size", "1"), "1");
}

TEST(settings, byte_keys_refuse_junk_negative_and_huge) {
  refused("default_quota", "");
  refused("default_quota", "abc");
  refused("default_quota", "-5");
  refused("default_quota", "12XB");
  refused("default_quota", "1.2.3");
  refused("default_quota", "99999999999999999999999");
  refused("max_archive_size", "2EiB");
  refused("password_hash_memory", "4MiB");  // 0, or room for a real hash
  refused("password_hash_memory", "2TiB");
}

TEST(settings, second_keys_are_positive_integers_within_bounds) {
  EXPECT_EQ(accepted("archive_unpack_timeout", "120"), "120");
  refused("archive_unpack_timeout", "0");
  refused("archive_unpack_timeout", "86401");
  refused("archive_unpack_timeout", "10s");
  refused("archive_unpack_timeout", " 10");
  refused("archive_unpack_timeout", "1e3");
  EXPECT_EQ(accepted("peer_ttl", "3600"), "3600");
  refused("peer_ttl", "59");
  EXPECT_EQ(accepted("session_lifetime", "86400"), "86400");
  refused("session_lifetime", "59");
  refused("session_lifetime", "0");
  refused("session_lifetime", "31536001");
  EXPECT_EQ(accepted("repository_refresh_interval", "600"), "600");
  refused("repository_refresh_interval", "59");
  refused("repository_refresh_interval", "soon");
}

TEST(settings, locale_comes_from_the_supported_list) {
  EXPECT_EQ(accepted("locale", "de-DE"), "de-DE");
  EXPECT_EQ(accepted("locale", "zu-ZA"), "zu-ZA");
  refused("locale", "xx-XX");
  refused("locale", "de-de");
  refused("locale", "");
}

TEST(settings, dns_tld_is_one_label) {
  EXPECT_EQ(accepted("dns_tld", "lan"), "lan");
  EXPECT_EQ(accepted("dns_tld", "Home"), "home");
  EXPECT_EQ(accepted("dns_tld", "my-net2"), "my-net2");
  refused("dns_tld", "");
  refused("dns_tld", "a.b");
  refused("dns_tld", "-lan");
  refused("dns_tld", "lan-");
  refused("dns_tld", "123");
  refused("dns_tld", "la n");
  refused("dns_tld", std::string(64, 'a'));
  EXPECT_TRUE(is_valid_tld(std::string(63, 'a')));
}

TEST(settings, proton_image_has_no_whitespace_or_control_characters) {
  EXPECT_EQ(accepted("proton_image", "registry.local/proton:9"), "registry.local/proton:9");
  refused("proton_image", "");
  refused("proton_image", "image\nExecStart=/bin/sh");
  refused("proton_image", "two words");
  refused("proton_image", std::string(513, 'a'));
}

TEST(settings, enumerations_and_booleans) {
  EXPECT_EQ(accepted("dns_resolution_mode", "forward"), "forward");
  refused("dns_resolution_mode", "magic");
  EXPECT_EQ(accepted("dns_local_forwarders", "TRUE"), "true");
  EXPECT_EQ(accepted("dns_local_forwarders", " 0 "), "false");
  refused("dns_local_forwarders", "yes");
  EXPECT_EQ(accepted("auto_update_enabled", "false"), "0");
  refused("auto_update_enabled", "2");
  EXPECT_EQ(accepted("monitoring_backend", "grafana"), "grafana");
  refused("monitoring_backend", "kibana");
}

TEST(settings, keys_outside_the_pattern_are_refused_naming_the_key) {
  refused("ui.the me", "dark", "key");
  refused(".hidden", "x", "key");
  refused("-flag", "x", "key");
  refused("a/b", "x", "key");
  refused("a=b", "x", "key");
  refused("caf\xc3\xa9", "x", "key");
  refused("", "x", "key");
  refused(std::string(129, 'a'), "x", "key");
  refused("bad\nkey", "x", "key");
}

TEST(settings, other_keys_are_stored_verbatim_as_the_original_does) {
  EXPECT_EQ(accepted("motd", "Welcome home\nBe nice"), "Welcome home\nBe nice");
  EXPECT_EQ(accepted("no_such_setting", "1"), "1");
  EXPECT_EQ(accepted("UI.Theme", "dark"), "dark");
  EXPECT_EQ(accepted("dashboard:layout.v2", ""), "");
  EXPECT_EQ(accepted(std::string(128, 'k'), "x"), "x");
  EXPECT_TRUE(is_valid_key("motd"));
  EXPECT_FALSE(is_known_key("motd"));
  EXPECT_EQ(accepted("motd", std::string(65'536, 'x')).size(), 65'536u);
  refused("motd", std::string(65'537, 'x'));
  refused("motd", "bell\x07");
  // Known keys keep their strict validation.
  refused("dns_tld", "not a label");
}

TEST(settings, unknown_key_detail_never_echoes_control_characters) {
  auto r = validate("bad\x01key", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail.find('\x01'), std::string::npos);
}

TEST(settings, ui_keys_are_open_keys) {
  EXPECT_EQ(accepted("ui.theme", "dark"), "dark");
  EXPECT_EQ(accepted("ui.dashboard.layout_v2", "{\"cols\":3}"), "{\"cols\":3}");
  EXPECT_EQ(accepted("ui.theme", "line\nbreak"), "line\nbreak");
  refused("ui.theme", "a\x01");
}

TEST(settings, free_text_keys_allow_newlines_but_not_other_controls) {
  EXPECT_TRUE(validate("dns_rbl_config", "a\nb\tc"));
  refused("dns_rbl_config", std::string("a\0b", 3));
}

TEST(settings, byte_size_parser) {
  EXPECT_EQ(parse_byte_size("42"), 42u);
  EXPECT_EQ(parse_byte_size("42b"), 42u);
  EXPECT_EQ(parse_byte_size("1k"), 1000u);
  EXPECT_EQ(parse_byte_size("1KiB"), 1024u);
  EXPECT_EQ(parse_byte_size("2 tb"), 2'000'000'000'000u);
  EXPECT_EQ(parse_byte_size("0.5Ki"), 512u);
  EXPECT_FALSE(parse_byte_size(""));
  EXPECT_FALSE(parse_byte_size("KB"));
  EXPECT_FALSE(parse_byte_size(".5KB"));
  EXPECT_FALSE(parse_byte_size("5.KB"));
  EXPECT_FALSE(parse_byte_size("9223372036854775808"));
  EXPECT_FALSE(parse_byte_size("16EiB"));
}

TEST(settings, locale_lists_are_consistent) {
  auto populated = populated_locales();
  ASSERT_EQ(populated.size(), 48u);
  EXPECT_EQ(populated[0], "en-US");
  EXPECT_TRUE(std::is_sorted(populated.begin() + 1, populated.end()));
  EXPECT_EQ(common_languages().size(), 21u);
  EXPECT_GE(extended_locales().size(), 80u);
  EXPECT_EQ(extended_locales().front().code, "af-ZA");
  EXPECT_EQ(extended_locales().back().code, "zu-ZA");
  std::set<std::string_view> seen;
  for (const auto& l : extended_locales()) {
    EXPECT_FALSE(l.code.empty());
    EXPECT_FALSE(l.native_name.empty());
    EXPECT_TRUE(seen.insert(l.code).second) << "duplicate " << l.code;
  }
  for (const auto& l : common_languages()) {
    EXPECT_NE(std::find(populated.begin(), populated.end(), l.code), populated.end()) << l.code;
  }
}

}  // namespace
}  // namespace sc::settings
