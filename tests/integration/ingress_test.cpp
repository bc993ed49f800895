// The HTTPS ingress (issue 15) against the real binary: Caddy run by the controller's own unit
// town-os-system--ingress in the sandbox host's user manager, on unprivileged loopback ports. A
// busybox web app whose `http` port goes through the ingress is reached with curl over TLS at its
// name, its certificate chain verified against the CA from GET /tls/ca.crt; uninstalling removes
// the route.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <filesystem>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* ingress_unit = "town-os-system--ingress.service";

class ingress_api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Caddy's unit and the package units live in the sandbox's one user manager: take turns with
    // the lifecycle and DNS tests.
    lock_fd_ = take_sandbox_turn();
    ASSERT_GE(lock_fd_, 0);
    repo_ = "ing" + std::to_string(::getpid());
    work_ = make_temp_dir("sc-ingress");
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    https_port_ = unused_port(SOCK_STREAM);
    http_port_ = unused_port(SOCK_STREAM);
    ASSERT_GT(https_port_, 0);
    ASSERT_GT(http_port_, 0);
    ASSERT_NE(https_port_, http_port_);
    const std::string image = sandbox_env("SC_PODMAN_IMAGE");
    // The web app supplies http on a port named `http`: no host port, only the ingress.
    write_text(work_ / "repo" / "packages" / "site" / "1.0.yaml",
               "description: ingress web app\nimage: " + image + "\nentrypoint: [sh, -c]\n" + R"(
supplies: [http]
command: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
network:
  internal:
    http: "8080"
volumes:
  www: {mountpoint: /www}
templates:
  index: {volume: www, path: index.html, content: "served through the ingress\n"}
)");
    ASSERT_TRUE(commit_all(work_ / "repo"));
    server_ =
        new server_process({"--state-dir", (work_ / "state").string()}, true,
                           {"SC_SYSTEM_SERVICES=ingress", "SC_INGRESS_HTTPS=127.0.0.1:" + std::to_string(https_port_),
                            "SC_INGRESS_HTTP=127.0.0.1:" + std::to_string(http_port_), "SC_DEFAULT_REPOSITORY="});
    ASSERT_TRUE(server_->started()) << server_->log();
    auto quota = call("POST", "/settings/set", R"({"key":"default_quota","value":"67108864"})");
    ASSERT_EQ(quota.status, 200) << quota.body;
    auto added = call("POST", "/repository/add",
                      R"({"name":")" + repo_ + R"(","url":"file://)" + (work_ / "repo").string() + "\"}", 60s);
    ASSERT_EQ(added.status, 200) << added.body;
    auto ca = call("GET", "/tls/ca.crt");
    ASSERT_EQ(ca.status, 200) << ca.body;
    ca_file_ = (work_ / "ca.crt").string();
    write_text(ca_file_, ca.body);
    // The controller writes, enables and starts the unit at start; Caddy then listens.
    ASSERT_TRUE(
        eventually(30s, [] { return status_code("http://x.home:" + std::to_string(http_port_) + "/") == "308"; }))
        << server_->log() << shell(std::string("systemctl --user status ") + ingress_unit + " 2>&1");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    shell(std::string("systemctl --user stop ") + ingress_unit + "; systemctl --user disable " + ingress_unit +
          "; rm -f " + unit_dir_ + "/" + ingress_unit + " " + unit_dir_ + "/town-os-package--" + repo_ +
          "-*; systemctl --user daemon-reload; systemctl --user reset-failed");
    std::error_code ec;
    fs::remove_all(work_, ec);
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
  }

  static http_reply call(const std::string& method, const std::string& target, const std::string& body = {},
                         std::chrono::seconds deadline = 30s) {
    return try_request_unix(server_->socket_path(), method, target, body, deadline);
  }
  // curl with the name pinned to loopback (no resolver involved) and the box's CA as the only trust.
  static std::string curl(const std::string& host, const std::string& url, const std::string& extra = {}) {
    const std::string port = url.starts_with("https:") ? std::to_string(https_port_) : std::to_string(http_port_);
    return shell("curl -s --max-time 5 --resolve '" + host + ":" + port + ":127.0.0.1' --cacert '" + ca_file_ + "' " +
                 extra + " '" + url + "' 2>&1");
  }
  static std::string status_code(const std::string& url) {
    auto host = url.substr(url.find("//") + 2);
    host = host.substr(0, host.find(':'));
    return curl(host, url, "-o /dev/null -w '%{http_code}'");
  }
  static std::string site_url(const std::string& host, const std::string& path = "/") {
    return "https://" + host + ":" + std::to_string(https_port_) + path;
  }

  // NOLINTBEGIN(readability-identifier-naming)
  inline static server_process* server_ = nullptr;
  inline static int lock_fd_ = -1;
  inline static int https_port_ = 0;
  inline static int http_port_ = 0;
  inline static std::string repo_;
  inline static std::string unit_dir_;
  inline static std::string ca_file_;
  inline static fs::path work_;
  // NOLINTEND(readability-identifier-naming)
};

TEST_F(ingress_api, web_app_is_served_over_tls_at_its_name_and_uninstall_removes_the_route) {
  const std::string package = R"({"repo":")" + repo_ + R"(","name":"site"})";
  const std::string host = "site." + repo_ + ".home";
  auto installed = call("POST", "/packages/install", package, 150s);
  ASSERT_EQ(installed.status, 200) << installed.body;

  // Served over TLS with a leaf the box's CA signed (curl verifies the chain and the name).
  std::string page;
  EXPECT_TRUE(eventually(15s,
                         [&] {
                           page = curl(host, site_url(host));
                           return page == "served through the ingress\n";
                         }))
      << page << "\n"
      << server_->log();
  // Only the box's CA vouches for it: the system's trust store does not.
  EXPECT_NE(shell("curl -s --max-time 5 -o /dev/null --resolve '" + host + ":" + std::to_string(https_port_) +
                  ":127.0.0.1' '" + site_url(host) + "'; echo $?"),
            "0\n");
  // The certificate names the site and chains to the CA.
  auto subject =
      shell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(https_port_) + " -servername " + host +
            " -CAfile '" + ca_file_ + "' -verify_return_error 2>/dev/null | grep -E 'Verify return code|subject='");
  EXPECT_NE(subject.find("CN = " + host), std::string::npos) << subject;
  EXPECT_NE(subject.find("Verify return code: 0 (ok)"), std::string::npos) << subject;

  // Plain http redirects to the same URL over https.
  auto redirect = curl(host, "http://" + host + ":" + std::to_string(http_port_) + "/a/b?c=d",
                       "-o /dev/null -w '%{http_code} %{redirect_url}'");
  EXPECT_EQ(redirect, "308 " + site_url(host, "/a/b?c=d"));
  // Another Host on the site's connection is not proxied anywhere.
  EXPECT_EQ(curl(host, site_url(host), "-H 'Host: other." + repo_ + ".home' -o /dev/null -w '%{http_code}'"), "404");

  // The container is on the ingress network at the planned address, not published on the host.
  auto container = "town-os-package--" + repo_ + "-site-1.0";
  auto networks =
      shell("podman inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}' " +
            container + " 2>&1");
  EXPECT_NE(networks.find("town-os-ingress=10.89.255."), std::string::npos) << networks;
  EXPECT_EQ(shell("podman port " + container + " 2>&1"), "");

  auto uninstalled = call("POST", "/packages/uninstall", package, 150s);
  ASSERT_EQ(uninstalled.status, 200) << uninstalled.body;
  // Gone: no certificate for the name any more, so no TLS session and no page.
  EXPECT_NE(curl(host, site_url(host)), "served through the ingress\n");
  EXPECT_NE(status_code(site_url(host)), "200");
}

TEST_F(ingress_api, a_record_from_before_ingress_addresses_gets_one_at_start_and_is_served) {
  const std::string package = R"({"repo":")" + repo_ + R"(","name":"site"})";
  const std::string host = "site." + repo_ + ".home";
  auto installed = call("POST", "/packages/install", package, 150s);
  ASSERT_EQ(installed.status, 200) << installed.body;
  ASSERT_TRUE(eventually(15s, [&] { return curl(host, site_url(host)) == "served through the ingress\n"; }))
      << server_->log();
  // The record as an older controller wrote it: no address on the ingress network.
  delete server_;
  server_ = nullptr;
  auto stripped = shell(
      "python3 -c \"import json, sqlite3, sys\n"
      "db = sqlite3.connect(sys.argv[1])\n"
      "n = 0\n"
      "for k, plan in db.execute('SELECT effective_name, plan FROM installed_packages').fetchall():\n"
      "    p = json.loads(plan)\n"
      "    for c in p['containers']:\n"
      "        n += c.pop('ingress_address', None) is not None\n"
      "    db.execute('UPDATE installed_packages SET plan = ? WHERE effective_name = ?', "
      "(json.dumps(p), k))\n"
      "db.commit()\n"
      "print(n)\" '" +
      (work_ / "state" / "system.db").string() + "' 2>&1");
  ASSERT_EQ(stripped, "1\n");
  server_ =
      new server_process({"--state-dir", (work_ / "state").string()}, true,
                         {"SC_SYSTEM_SERVICES=ingress", "SC_INGRESS_HTTPS=127.0.0.1:" + std::to_string(https_port_),
                          "SC_INGRESS_HTTP=127.0.0.1:" + std::to_string(http_port_), "SC_DEFAULT_REPOSITORY="});
  ASSERT_TRUE(server_->started()) << server_->log();
  // Caddy kept serving the old configuration meanwhile: what counts is the one written after the
  // start-up reconcile.
  ASSERT_TRUE(server_->wait_for_log("start-up done", 60s)) << server_->log();
  std::string page;
  EXPECT_TRUE(eventually(30s,
                         [&] {
                           page = curl(host, site_url(host));
                           return read_text(work_ / "state" / "ingress" / "caddy.json").find(host) !=
                                      std::string::npos &&
                                  page == "served through the ingress\n";
                         }))
      << page << "\n"
      << server_->log();
  EXPECT_NE(server_->log().find("ingress addresses assigned"), std::string::npos) << server_->log();
  auto uninstalled = call("POST", "/packages/uninstall", package, 150s);
  ASSERT_EQ(uninstalled.status, 200) << uninstalled.body;
}

TEST_F(ingress_api, is_listed_as_a_system_service_and_comes_back_when_killed) {
  auto list = call("GET", "/system-services");
  ASSERT_EQ(list.status, 200);
  auto parsed = json::parse(list.body);
  json::object ingress;
  for (const auto& e : parsed.as_array()) {
    if (e.at("key").as_string() == "ingress") ingress = e.as_object();
  }
  ASSERT_FALSE(ingress.empty()) << list.body;
  EXPECT_EQ(ingress.at("Name").as_string(), ingress_unit);
  EXPECT_EQ(ingress.at("ActiveState").as_string(), "active");
  EXPECT_EQ(ingress.at("port").as_string(), std::to_string(https_port_));
  auto pid = shell(std::string("systemctl --user show -p MainPID --value ") + ingress_unit);
  ASSERT_NE(pid, "0\n");
  shell("kill -9 " + pid);
  EXPECT_TRUE(eventually(20s, [&] {
    auto now = shell(std::string("systemctl --user show -p MainPID --value ") + ingress_unit);
    return now != pid && now != "0\n" && status_code("http://x.home:" + std::to_string(http_port_) + "/") == "308";
  })) << "Restart=always brings Caddy back";
}

}  // namespace
}  // namespace sc::test
