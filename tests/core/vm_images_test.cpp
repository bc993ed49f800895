// The VM image download rules (core/vm_images.hpp): the SSRF guard over addresses, the URL parse
// that refuses numeric host forms a resolver would reinterpret, names and the qemu-img verdict.
#include "core/vm_images.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sc::vm_images {
namespace {

bool refused(std::string_view literal) {
  auto address = parse_ip_literal(literal);
  EXPECT_TRUE(address.has_value()) << literal;
  return !address || refusal_reason(*address).has_value();
}

TEST(VmImagesGuard, RefusesEveryNonPublicAddress) {
  for (std::string_view text : {"127.0.0.1",
                                "127.255.255.254",
                                "0.0.0.0",
                                "10.0.0.1",
                                "10.255.255.255",
                                "172.16.0.1",
                                "172.31.255.255",
                                "192.168.1.1",
                                "169.254.169.254",
                                "100.64.0.1",
                                "100.127.255.255",
                                "224.0.0.1",
                                "239.255.255.250",
                                "240.0.0.1",
                                "255.255.255.255",
                                "192.0.2.1",
                                "198.18.0.1",
                                "::",
                                "::1",
                                "[::1]",
                                "fe80::1",
                                "febf::1",
                                "fc00::1",
                                "fd12:3456::1",
                                "ff02::1",
                                "::ffff:127.0.0.1",
                                "::ffff:10.1.2.3",
                                "::ffff:169.254.169.254",
                                "::127.0.0.1",
                                "64:ff9b::7f00:1",
                                "64:ff9b::a9fe:a9fe",
                                "2002:7f00:1::",
                                "2002:a00:1::",
                                "2001:db8::1",
                                "fec0::1",
                                "100::1"}) {
    EXPECT_TRUE(refused(text)) << text;
  }
}

TEST(VmImagesGuard, LetsPublicAddressesThrough) {
  for (std::string_view text : {"1.1.1.1", "8.8.8.8", "93.184.216.34", "172.15.255.255", "172.32.0.1", "100.63.255.255",
                                "100.128.0.1", "169.253.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
                                "2002:808:808::", "2a00:1450:4001::1"}) {
    EXPECT_FALSE(refused(text)) << text;
  }
}

TEST(VmImagesGuard, LiteralsAreStrict) {
  for (std::string_view text : {"2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1", "127.0.0.01", "127.0.0.1.",
                                "1.2.3.256", "", "::g", "[::1", "127.0.0.1:80"}) {
    EXPECT_FALSE(parse_ip_literal(text).has_value()) << text;
  }
  EXPECT_EQ(parse_ip_literal("[::ffff:127.0.0.1]")->to_string(), "::ffff:127.0.0.1");
}

TEST(VmImagesGuard, AllowListAdmitsOnlyTheExactAddressAndPort) {
  auto entry = parse_allowed_endpoint("127.0.0.1:8080");
  ASSERT_TRUE(entry);
  std::vector<allowed_endpoint> allowed{*entry};
  auto loopback = *parse_ip_literal("127.0.0.1");
  EXPECT_TRUE(check_dial(loopback, 8080, allowed));
  EXPECT_FALSE(check_dial(loopback, 8081, allowed));
  EXPECT_FALSE(check_dial(*parse_ip_literal("127.0.0.2"), 8080, allowed));
  EXPECT_FALSE(check_dial(loopback, 8080, {}));
  auto refusal = check_dial(*parse_ip_literal("169.254.169.254"), 80, allowed);
  ASSERT_FALSE(refusal);
  EXPECT_EQ(refusal.error().status, 422);
  EXPECT_NE(refusal.error().detail.find("link-local"), std::string::npos);

  auto any_port = parse_allowed_endpoint("[::1]");
  ASSERT_TRUE(any_port);
  EXPECT_FALSE(any_port->port);
  EXPECT_EQ(parse_allowed_endpoint("[::1]:443")->port, 443);
  for (std::string_view bad : {"localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "[::1]x", "[::1]:"}) {
    EXPECT_FALSE(parse_allowed_endpoint(bad)) << bad;
  }
}

TEST(VmImagesUrl, ParsesWhatItDials) {
  auto t = parse_fetch_url("https://Images.Example.org/debian/12/disk.qcow2?x=1#frag");
  ASSERT_TRUE(t) << t.error().detail;
  EXPECT_TRUE(t->https);
  EXPECT_EQ(t->host, "images.example.org");
  EXPECT_EQ(t->port, 443);
  EXPECT_EQ(t->target, "/debian/12/disk.qcow2?x=1");
  EXPECT_EQ(t->host_header, "images.example.org");
  EXPECT_EQ(t->filename, "disk.qcow2");
  EXPECT_FALSE(t->literal);

  auto v6 = parse_fetch_url("http://[2606:4700::1111]:8080/a.img");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "2606:4700::1111");
  EXPECT_EQ(v6->host_header, "[2606:4700::1111]:8080");
  ASSERT_TRUE(v6->literal);
  EXPECT_TRUE(v6->literal->v6);
  EXPECT_EQ(parse_fetch_url("http://example.org")->target, "/");
}

TEST(VmImagesUrl, RefusesSchemesCredentialsAndNumericForms) {
  for (std::string_view url :
       {"ftp://example.org/a", "file:///etc/passwd", "gopher://x/", "http://user:pw@example.org/a",
        "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.0.0.1/", "http://0x7f000001/", "http://127.1/",
        "http://017700000001/", "http://1.2.3.4.5/", "http://example.org:0/", "http://example.org:99999/",
        "http://ex%61mple.org/", "http:///a", "http://[::1/", "not a url", "", "http://exa mple.org/"}) {
    auto t = parse_fetch_url(url);
    EXPECT_FALSE(t) << url;
    if (!t) {
      EXPECT_EQ(t.error().status, 422) << url;
    }
  }
  // A canonical loopback literal parses (the guard refuses it when dialling).
  auto loopback = parse_fetch_url("http://127.0.0.1/");
  ASSERT_TRUE(loopback);
  ASSERT_TRUE(loopback->literal);
  EXPECT_TRUE(refusal_reason(*loopback->literal));
}

TEST(VmImagesUrl, ResolvesRedirects) {
  auto base = *parse_fetch_url("http://example.org:8080/dir/a.qcow2");
  EXPECT_EQ(resolve_redirect(base, "b.qcow2")->text, "http://example.org:8080/dir/b.qcow2");
  EXPECT_EQ(resolve_redirect(base, "/c")->text, "http://example.org:8080/c");
  auto elsewhere = resolve_redirect(base, "http://169.254.169.254/latest/meta-data/");
  ASSERT_TRUE(elsewhere);
  EXPECT_TRUE(refusal_reason(*elsewhere->literal));
  EXPECT_FALSE(resolve_redirect(base, "file:///etc/shadow"));
  EXPECT_FALSE(resolve_redirect(base, "http://2130706433/"));
  EXPECT_FALSE(resolve_redirect(base, ""));
}

TEST(VmImagesNames, ReducedToASafeBasename) {
  EXPECT_EQ(*image_name("", "debian-12.qcow2"), "debian-12.raw");
  EXPECT_EQ(*image_name("../../etc/passwd", "x"), "passwd.raw");
  EXPECT_EQ(*image_name("my.disk.img", "x"), "my.disk.raw");
  EXPECT_EQ(*image_name("plain", ""), "plain.raw");
  EXPECT_EQ(*image_name("a.raw", ""), "a.raw");
  for (std::string_view bad : {std::string_view(".hidden"), std::string_view("-opt"), std::string_view("a b"),
                               std::string_view("nbd:host"), std::string_view("a\nb"), std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(image_name(bad, "x")) << bad;
  }
  EXPECT_FALSE(image_name("", ""));
  EXPECT_FALSE(image_name(std::string(300, 'a'), ""));
  EXPECT_EQ(*existing_image_name("/x/../debian.raw"), "debian.raw");
  EXPECT_FALSE(existing_image_name(".."));
  EXPECT_EQ(*existing_image_name("a/"), "a");
  EXPECT_TRUE(is_listed_image("debian.raw"));
  EXPECT_FALSE(is_listed_image("debian.raw.download"));
  EXPECT_FALSE(is_listed_image("debian.raw.converting"));
}

TEST(VmImagesInfo, AcceptsPlainImagesOnly) {
  auto qcow2 = check_image_info(
      R"({"virtual-size":1048576,"filename":"a","format":"qcow2","format-specific":{"type":"qcow2","data":{"corrupt":false}}})",
      0);
  ASSERT_TRUE(qcow2);
  EXPECT_EQ(qcow2->format, "qcow2");
  EXPECT_EQ(qcow2->virtual_size, 1048576u);
  EXPECT_TRUE(check_image_info(R"({"virtual-size":1024,"format":"raw"})", 2048));
  EXPECT_EQ(check_image_info(R"({"virtual-size":4096,"format":"raw"})", 2048).error().status, 413);
  EXPECT_FALSE(check_image_info(R"({"virtual-size":1,"format":"qcow2","backing-filename":"/etc/shadow"})", 0));
  EXPECT_FALSE(check_image_info(
      R"({"virtual-size":1,"format":"qcow2","format-specific":{"data":{"data-file":"/dev/sda"}}})", 0));
  EXPECT_FALSE(
      check_image_info(R"({"virtual-size":1,"format":"qcow2","format-specific":{"data":{"corrupt":true}}})", 0));
  EXPECT_FALSE(check_image_info(R"({"virtual-size":1,"format":"nbd"})", 0));
  EXPECT_FALSE(check_image_info(R"({"virtual-size":-1,"format":"raw"})", 0));
  EXPECT_FALSE(check_image_info("not json", 0));
}

}  // namespace
}  // namespace sc::vm_images
