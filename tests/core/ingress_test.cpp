// The ingress's pure parts: the ingress network's addresses, listen addresses, and Caddy's
// configuration.
#include "core/ingress.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace sc::ingress {
namespace {

TEST(ingress_subnet, takes_an_ipv4_network_with_a_sane_prefix_only) {
  auto s = parse_subnet("10.89.255.0/24");
  ASSERT_TRUE(s);
  EXPECT_EQ(to_string(*s), "10.89.255.0/24");
  EXPECT_TRUE(parse_subnet("172.30.0.0/16"));
  for (const char* bad : {"", "10.89.255.0", "10.89.255.1/24", "10.89.255.0/8", "10.89.255.0/30", "10.89.255.0/x",
                          "10.89.255.0/24 ", "010.89.255.0/24", "0x0a.89.255.0/24", "fd00::/64", "10.89.255/24",
                          "10.89.255.0/-24", "10.89.255.0/+24", "300.1.1.0/24"}) {
    EXPECT_FALSE(parse_subnet(bad)) << bad;
  }
}

TEST(ingress_subnet, gives_the_lowest_free_host_keeping_an_address_still_free) {
  auto s = *parse_subnet("10.89.255.0/24");
  std::set<std::string, std::less<>> used;
  EXPECT_EQ(*allocate_address(s, used), "10.89.255.2") << ".0 is the network and .1 podman's gateway";
  used = {"10.89.255.2", "10.89.255.3"};
  EXPECT_EQ(*allocate_address(s, used), "10.89.255.4");
  EXPECT_EQ(*allocate_address(s, used, "10.89.255.40"), "10.89.255.40") << "an upgrade keeps its address";
  EXPECT_EQ(*allocate_address(s, used, "10.89.255.3"), "10.89.255.4") << "taken by another package";
  EXPECT_EQ(*allocate_address(s, used, "10.89.254.40"), "10.89.255.4") << "outside the subnet";
  EXPECT_EQ(*allocate_address(s, used, "10.89.255.255"), "10.89.255.4") << "the broadcast address";
  EXPECT_FALSE(assignable(s, "10.89.255.1"));
  EXPECT_FALSE(assignable(s, "10.89.255.0"));
  EXPECT_TRUE(assignable(s, "10.89.255.254"));
  EXPECT_FALSE(assignable(s, "10.89.255.0254"));

  auto small = *parse_subnet("10.0.0.0/28");  // 16 addresses: hosts .2 to .14
  std::set<std::string, std::less<>> all;
  for (int i = 0; i < 13; ++i) {
    auto a = allocate_address(small, all);
    ASSERT_TRUE(a);
    all.insert(*a);
  }
  EXPECT_TRUE(all.contains("10.0.0.14"));
  auto full = allocate_address(small, all);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().status, 503);
}

TEST(ingress_listen, takes_an_address_and_port_or_a_port_alone) {
  auto every = parse_listen(":443");
  ASSERT_TRUE(every);
  EXPECT_EQ(every->host, "");
  EXPECT_EQ(every->port, 443);
  EXPECT_EQ(every->text(), ":443");
  auto local = parse_listen("127.0.0.1:8443");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->text(), "127.0.0.1:8443");
  auto v6 = parse_listen("[::1]:8443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->text(), "[::1]:8443");
  for (const char* bad : {"", "443", ":0", ":65536", "localhost:443", "::1:443", "[127.0.0.1]:443", "1.2.3.4:x",
                          "1.2.3.4: 443", "[::1]:", "unix//x:1"}) {
    EXPECT_FALSE(parse_listen(bad)) << bad;
  }
}

TEST(caddy_config, serves_static_sites_from_their_root_after_the_package_routes) {
  proxy_config c;
  c.admin_socket = "/state/ingress/run/admin.sock";
  c.storage_directory = "/state/ingress/data";
  c.https = *parse_listen("127.0.0.1:8443");
  c.http = *parse_listen("127.0.0.1:8080");
  c.routes = {{"web.main.home", "10.89.255.2:8080", "/c/web.crt", "/c/web.key"}};
  c.sites = {{"blog.example.org", "/state/pages-webroot/blog", "/c/blog.crt", "/c/blog.key"}};
  auto doc = boost::json::parse(render_caddy_config(c)).as_object();
  const auto& routes = doc.at("apps").at("http").at("servers").at("ingress").at("routes").as_array();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[1].at("match").at(0).at("host").at(0).as_string(), "blog.example.org");
  EXPECT_EQ(routes[1].at("handle").at(0).at("handler").as_string(), "file_server");
  EXPECT_EQ(routes[1].at("handle").at(0).at("root").as_string(), "/state/pages-webroot/blog");
  EXPECT_EQ(routes[2].at("handle").at(0).at("status_code").as_int64(), 404);
  const auto& files = doc.at("apps").at("tls").at("certificates").at("load_files").as_array();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[1].at("certificate").as_string(), "/c/blog.crt");
}

TEST(caddy_config, routes_each_host_to_its_upstream_with_its_leaf_and_redirects_http) {
  proxy_config c;
  c.admin_socket = "/state/ingress/run/admin.sock";
  c.storage_directory = "/state/ingress/data";
  c.https = *parse_listen("127.0.0.1:8443");
  c.http = *parse_listen("127.0.0.1:8080");
  c.routes = {{"web.main.home", "10.89.255.2:8080", "/c/web.crt", "/c/web.key"},
              {"gitea.default.home", "10.89.255.3:3000", "/c/gitea.crt", "/c/gitea.key"}};
  auto doc = boost::json::parse(render_caddy_config(c)).as_object();
  EXPECT_EQ(doc.at("admin").at("listen").as_string(), "unix//state/ingress/run/admin.sock");
  EXPECT_EQ(doc.at("admin").at("config").at("persist").as_bool(), false);
  const auto& servers = doc.at("apps").at("http").at("servers").as_object();
  const auto& https = servers.at("ingress").as_object();
  EXPECT_EQ(https.at("listen").as_array().at(0).as_string(), "127.0.0.1:8443");
  EXPECT_TRUE(https.at("automatic_https").at("disable").as_bool());
  const auto& routes = https.at("routes").as_array();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].at("match").at(0).at("host").at(0).as_string(), "web.main.home");
  EXPECT_EQ(routes[0].at("handle").at(0).at("upstreams").at(0).at("dial").as_string(), "10.89.255.2:8080");
  EXPECT_EQ(routes[1].at("handle").at(0).at("upstreams").at(0).at("dial").as_string(), "10.89.255.3:3000");
  EXPECT_FALSE(routes[2].as_object().contains("match")) << "the fallback takes every other host";
  EXPECT_EQ(routes[2].at("handle").at(0).at("status_code").as_int64(), 404);
  const auto& files = doc.at("apps").at("tls").at("certificates").at("load_files").as_array();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[1].at("certificate").as_string(), "/c/gitea.crt");
  EXPECT_EQ(files[1].at("key").as_string(), "/c/gitea.key");
  const auto& redirect = servers.at("redirect").at("routes").at(0).at("handle").at(0);
  EXPECT_EQ(redirect.at("status_code").as_int64(), 308);
  EXPECT_EQ(redirect.at("headers").at("Location").at(0).as_string(),
            "https://{http.request.host}:8443{http.request.uri}");

  c.https = *parse_listen(":443");
  c.routes.clear();
  auto standard = boost::json::parse(render_caddy_config(c)).as_object();
  EXPECT_EQ(standard.at("apps")
                .at("http")
                .at("servers")
                .at("redirect")
                .at("routes")
                .at(0)
                .at("handle")
                .at(0)
                .at("headers")
                .at("Location")
                .at(0)
                .as_string(),
            "https://{http.request.host}{http.request.uri}")
      << "no port on the standard one";
  EXPECT_FALSE(standard.at("apps").as_object().contains("tls")) << "no site, no certificate";
}

}  // namespace
}  // namespace sc::ingress
