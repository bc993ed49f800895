// System services and the local DNS zone (issue 15) against the real binary, the sandbox host's
// user manager and a real Knot DNS server run by the controller's own unit, queried with `kdig`
// over loopback. Installing the lifecycle tests' busybox web app registers its name; uninstalling
// removes it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* dns_unit = "town-os-system--dns.service";

class dns_api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The knotd unit and the package units live in the sandbox's one user manager: take turns with
    // the lifecycle tests (tests/integration/lifecycle_test.cpp).
    lock_fd_ = take_sandbox_turn();
    ASSERT_GE(lock_fd_, 0);
    repo_ = "dns" + std::to_string(::getpid());
    work_ = make_temp_dir("sc-dns");
    // knotd drops root for the `knot` account, which must reach the state directory.
    fs::permissions(work_, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    dns_port_ = unused_port(SOCK_DGRAM);
    ASSERT_GT(dns_port_, 0);
    const std::string image = sandbox_env("SC_PODMAN_IMAGE");
    write_text(work_ / "repo" / "packages" / "web" / "1.0.yaml",
               "description: dns web app\nimage: " + image + "\nentrypoint: [sh, -c]\n" + R"(
command: ["exec httpd -f -p 8080 -h /www"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
templates:
  index: {volume: www, path: index.html, content: "dns web\n"}
)");
    ASSERT_TRUE(commit_all(work_ / "repo"));
    server_ = new server_process(
        {"--state-dir", (work_ / "state").string()}, true,
        {"SC_SYSTEM_SERVICES=dns", "SC_DNS_LISTEN=127.0.0.1:" + std::to_string(dns_port_), "SC_DEFAULT_REPOSITORY="});
    ASSERT_TRUE(server_->started()) << server_->log();
    auto host = call("POST", "/settings/set", R"({"key":"dns_host_address","value":"192.0.2.10"})");
    ASSERT_EQ(host.status, 200) << host.body;
    // The web app's volume fits the sandbox's small btrfs.
    auto quota = call("POST", "/settings/set", R"({"key":"default_quota","value":"67108864"})");
    ASSERT_EQ(quota.status, 200) << quota.body;
    auto added = call("POST", "/repository/add",
                      R"({"name":")" + repo_ + R"(","url":"file://)" + (work_ / "repo").string() + "\"}", 60s);
    ASSERT_EQ(added.status, 200) << added.body;
    // The controller writes, enables and starts the unit at start; knotd then answers for the zone.
    ASSERT_TRUE(eventually(30s, [] { return status_of("home", "SOA") == "NOERROR"; })) << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    shell(std::string("systemctl --user stop ") + dns_unit + "; systemctl --user disable " + dns_unit + "; rm -f " +
          unit_dir_ + "/" + dns_unit + " " + unit_dir_ + "/town-os-package--" + repo_ +
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
  static json::value call_json(const std::string& method, const std::string& target, const std::string& body = {}) {
    auto reply = call(method, target, body);
    EXPECT_EQ(reply.status, 200) << method << " " << target << ": " << reply.body;
    return json::parse(reply.body.empty() ? "null" : reply.body);
  }
  static std::string kdig(const std::string& name, const std::string& type, const std::string& extra) {
    return shell("kdig @127.0.0.1 -p " + std::to_string(dns_port_) + " +time=2 +retry=0 " + extra + " '" + name + "' " +
                 type + " 2>&1");
  }
  // The answer's data, one per line, sorted ("" when there is none).
  static std::string answer(const std::string& name, const std::string& type) {
    return shell("kdig @127.0.0.1 -p " + std::to_string(dns_port_) + " +time=2 +retry=0 +short '" + name + "' " + type +
                 " 2>/dev/null | sort");
  }
  // NOERROR, NXDOMAIN, REFUSED, … or "" when nothing answered.
  static std::string status_of(const std::string& name, const std::string& type) {
    std::string out = kdig(name, type, "");
    auto at = out.find("status: ");
    if (at == std::string::npos) return "";
    return out.substr(at + 8, out.find(';', at) - at - 8);
  }
  static json::object service(const std::string& key) {
    auto list = call_json("GET", "/system-services");
    for (const auto& e : list.as_array()) {
      if (e.at("key").as_string() == key) return e.as_object();
    }
    return {};
  }
  static std::string main_pid() {
    std::string out = shell(std::string("systemctl --user show -p MainPID --value ") + dns_unit);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  // NOLINTBEGIN(readability-identifier-naming)
  inline static server_process* server_ = nullptr;
  inline static int lock_fd_ = -1;
  inline static int dns_port_ = 0;
  inline static std::string repo_;
  inline static std::string unit_dir_;
  inline static fs::path work_;
  // NOLINTEND(readability-identifier-naming)
};

TEST_F(dns_api, records_of_every_type_answer_and_removed_ones_are_nxdomain) {
  struct row {
    const char* name;
    const char* type;
    const char* value;
    const char* query;
    const char* expect;
  };
  const row rows[] = {
      {"printer", "A", "10.0.0.9", "printer.home", "10.0.0.9\n"},
      {"printer6.home", "AAAA", "FD00::9", "printer6.home", "fd00::9\n"},
      {"alias", "CNAME", "printer.home", "alias.home", "printer.home.\n10.0.0.9\n"},
      {"mailhost", "MX", "10 mx.example.com", "mailhost.home", "10 mx.example.com.\n"},
      {"note", "TXT", "hello \"world\"; $ORIGIN evil.", "note.home", "\"hello \\\"world\\\"; $ORIGIN evil.\"\n"},
      {"_sip._tcp", "SRV", "10 5 5060 printer.home", "_sip._tcp.home", "10 5 5060 printer.home.\n"},
      {"reverse", "PTR", "printer.home", "reverse.home", "printer.home.\n"},
  };
  for (const auto& r : rows) {
    auto added = call("POST", "/dns/records/add",
                      json::serialize(json::object{{"name", r.name}, {"type", r.type}, {"value", r.value}}));
    ASSERT_EQ(added.status, 200) << r.type << ": " << added.body;
  }
  // An add returns once knotd has loaded the zone: the answers are there now.
  for (const auto& r : rows) {
    std::string got = answer(r.query, r.type);
    if (std::string(r.type) == "CNAME") got = answer(r.query, "A");
    std::string want = r.expect;
    if (std::string(r.type) == "CNAME") want = "10.0.0.9\nprinter.home.\n";
    EXPECT_EQ(got, want) << r.type;
  }
  // The injection attempt stayed inside its TXT string: no zone "evil." appeared.
  EXPECT_NE(status_of("printer.evil", "A"), "NOERROR");
  auto listed = call_json("GET", "/dns/records");
  EXPECT_GE(listed.as_array().size(), 7u) << json::serialize(listed);

  for (const auto& r : rows) {
    auto removed =
        call("POST", "/dns/records/remove", json::serialize(json::object{{"name", r.name}, {"type", r.type}}));
    ASSERT_EQ(removed.status, 200) << r.type << ": " << removed.body;
  }
  for (const auto& r : rows) EXPECT_EQ(status_of(r.query, r.type), "NXDOMAIN") << r.type;
  EXPECT_EQ(call("POST", "/dns/records/remove", R"({"name":"printer","type":"A"})").status, 404);
}

TEST_F(dns_api, bad_input_is_a_clear_4xx) {
  struct bad {
    std::string body;
    int status;
  };
  const bad cases[] = {
      {R"({"name":"a b","type":"A","value":"10.0.0.1"})", 422},
      {R"({"name":"x","type":"NS","value":"ns.example.com"})", 422},
      {R"({"name":"x","type":"A","value":"10.0.0.256"})", 422},
      {R"({"name":"x","type":"AAAA","value":"10.0.0.1"})", 422},
      {R"({"name":"x","type":"MX","value":"mail.example.com"})", 422},
      {R"({"name":"x","type":"SRV","value":"1 2 70000 a.b"})", 422},
      {R"({"name":"x","type":"TXT","value":"a\nb"})", 422},
      {R"({"name":"x\n$ORIGIN evil.","type":"A","value":"10.0.0.1"})", 422},
      {R"({"name":"x;y","type":"A","value":"10.0.0.1"})", 422},
      {R"({"name":"x","type":"A","value":"10.0.0.1","ttl":5})", 422},
      {R"({"name":"x","type":"A","value":"10.0.0.1","ttl":99999999})", 422},
      {R"({"name":"x","type":"CNAME","value":"a..b"})", 422},
      {R"({"name":"ns","type":"A","value":"10.0.0.1"})", 409},
      {R"({"type":"A","value":"10.0.0.1","name":")" + std::string(300, 'a') + "\"}", 422},
      {R"({"name":"x","type":"TXT","value":")" + std::string(5000, 'a') + "\"}", 422},
      {R"({"name":"x","type":"A"})", 400},
      {"not json", 400},
  };
  for (const auto& c : cases) {
    auto reply = call("POST", "/dns/records/add", c.body);
    EXPECT_EQ(reply.status, c.status) << c.body.substr(0, 80) << ": " << reply.body;
    EXPECT_NE(reply.body.find("\"detail\""), std::string::npos) << reply.body;
  }
  EXPECT_EQ(call("POST", "/dns/tld", R"({"tld":"bad tld"})").status, 422);
  EXPECT_EQ(call("POST", "/dns/rbl/local/add", R"({"entry":"192.0.2.1/24"})").status, 422);
  EXPECT_EQ(call("POST", "/dns/services/set", R"({"excluded":["nope"]})").status, 422);
  // The zone is unharmed.
  EXPECT_EQ(status_of("home", "SOA"), "NOERROR");
}

TEST_F(dns_api, tld_change_moves_every_name) {
  ASSERT_EQ(call("POST", "/dns/records/add", R"({"name":"moving","type":"A","value":"10.1.1.1"})").status, 200);
  EXPECT_EQ(answer("moving.home", "A"), "10.1.1.1\n");
  auto changed = call("POST", "/dns/tld", R"({"tld":"Lan"})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(call_json("GET", "/dns/tld").at("tld").as_string(), "lan");
  EXPECT_EQ(answer("moving.lan", "A"), "10.1.1.1\n");
  EXPECT_NE(status_of("moving.home", "A"), "NOERROR");
  ASSERT_EQ(call("POST", "/dns/tld", R"({"tld":"home"})").status, 200);
  EXPECT_EQ(answer("moving.home", "A"), "10.1.1.1\n");
  ASSERT_EQ(call("POST", "/dns/records/remove", R"({"name":"moving.home.","type":"A"})").status, 200);
}

TEST_F(dns_api, installed_package_name_resolves_moves_with_the_tld_and_goes_with_uninstall) {
  const std::string package = R"({"repo":")" + repo_ + R"(","name":"web"})";
  const std::string host = "web." + repo_ + ".home";
  auto installed = call("POST", "/packages/install", package, 150s);
  ASSERT_EQ(installed.status, 200) << installed.body;
  // Registered before the install reported done.
  EXPECT_EQ(answer(host, "A"), "192.0.2.10\n");
  auto services = call_json("GET", "/dns/services");
  EXPECT_NE(json::serialize(services).find("\"hostname\":\"" + host + "\""), std::string::npos)
      << json::serialize(services);
  // A package's name is not a record to remove by hand.
  EXPECT_EQ(call("POST", "/dns/records/remove", R"({"name":"web.)" + repo_ + R"(","type":"A"})").status, 409);
  // Per-service publishing.
  ASSERT_EQ(call("POST", "/dns/services/set", R"({"excluded":[")" + repo_ + "/web\"]}").status, 200);
  EXPECT_EQ(status_of(host, "A"), "NXDOMAIN");
  ASSERT_EQ(call("POST", "/dns/services/set", R"({"excluded":[]})").status, 200);
  EXPECT_EQ(answer(host, "A"), "192.0.2.10\n");
  // The TLD moves it.
  ASSERT_EQ(call("POST", "/dns/tld", R"({"tld":"box"})").status, 200);
  EXPECT_EQ(answer("web." + repo_ + ".box", "A"), "192.0.2.10\n");
  ASSERT_EQ(call("POST", "/dns/tld", R"({"tld":"home"})").status, 200);
  EXPECT_EQ(answer(host, "A"), "192.0.2.10\n");

  auto uninstalled = call("POST", "/packages/uninstall", package, 150s);
  ASSERT_EQ(uninstalled.status, 200) << uninstalled.body;
  EXPECT_EQ(status_of(host, "A"), "NXDOMAIN");
}

TEST_F(dns_api, system_services_are_listed_with_live_state) {
  auto list = call_json("GET", "/system-services");
  ASSERT_TRUE(list.is_array());
  auto dns = service("dns");
  ASSERT_FALSE(dns.empty()) << json::serialize(list);
  EXPECT_EQ(dns.at("Name").as_string(), dns_unit);
  EXPECT_EQ(dns.at("LoadState").as_string(), "loaded");
  EXPECT_EQ(dns.at("ActiveState").as_string(), "active");
  EXPECT_EQ(dns.at("SubState").as_string(), "running");
  EXPECT_EQ(dns.at("UnitFileState").as_string(), "enabled");
  EXPECT_EQ(dns.at("port").as_string(), std::to_string(dns_port_));
  EXPECT_EQ(dns.at("display_name").as_string(), "DNS");
  // knotd runs unprivileged once it has bound its port.
  EXPECT_EQ(shell("ps -o user= -p " + main_pid()), "knot\n");
  auto controller = service("systemcontroller");
  ASSERT_FALSE(controller.empty()) << json::serialize(list);
  EXPECT_EQ(controller.at("Name").as_string(), "town-os-systemcontroller.service");
  EXPECT_EQ(controller.at("display_name").as_string(), "System Controller");
  EXPECT_EQ(controller.at("port").as_string(), std::to_string(server_->port()));
  auto status = call_json("GET", "/dns/status");
  EXPECT_TRUE(status.at("running").as_bool()) << json::serialize(status);
  EXPECT_EQ(status.at("tld").as_string(), "home");
  // Over TCP without a token: 401.
  auto anonymous = shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(server_->port()) +
                         "/system-services");
  EXPECT_EQ(anonymous, "401");
}

TEST_F(dns_api, system_service_stops_starts_and_comes_back_when_killed) {
  auto stopped = call("POST", "/system-services/status", R"({"key":"dns","action":"stop"})", 60s);
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(stopped.body, "{\"status\":\"ok\"}\n");
  EXPECT_EQ(service("dns").at("ActiveState").as_string(), "inactive");
  EXPECT_EQ(status_of("home", "SOA"), "");
  auto started = call("POST", "/system-services/status", R"({"key":"dns","action":"start"})", 60s);
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(service("dns").at("ActiveState").as_string(), "active");
  EXPECT_TRUE(eventually(10s, [] { return status_of("home", "SOA") == "NOERROR"; }));

  // SIGKILL the server itself: Restart=always brings it back under a new pid.
  std::string pid = main_pid();
  ASSERT_FALSE(pid.empty() || pid == "0") << pid;
  ASSERT_EQ(::kill(std::stoi(pid), SIGKILL), 0);
  EXPECT_TRUE(eventually(20s, [&] {
    std::string now = main_pid();
    return !now.empty() && now != "0" && now != pid && service("dns").at("ActiveState").as_string() == "active";
  })) << main_pid();
  EXPECT_TRUE(eventually(10s, [] { return status_of("home", "SOA") == "NOERROR"; }));

  auto restarted = call("POST", "/system-services/status", R"({"key":"dns","action":"restart"})", 60s);
  EXPECT_EQ(restarted.status, 200) << restarted.body;
  EXPECT_TRUE(eventually(10s, [] { return status_of("home", "SOA") == "NOERROR"; }));
  auto refreshed = call("POST", "/system-services/refresh", "{}", 60s);
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(refreshed.body, "{\"status\":\"ok\"}\n");
}

TEST_F(dns_api, system_service_refusals_follow_the_reference) {
  struct refusal {
    const char* body;
    int status;
    const char* detail;
  };
  const refusal cases[] = {
      {R"({"key":"dns","action":"enable"})", 400, "action \\\"enable\\\" is not allowed for system services"},
      {R"({"key":"dns","action":"disable"})", 400, "action \\\"disable\\\" is not allowed for system services"},
      {R"({"key":"systemcontroller","action":"stop"})", 400, "cannot stop the system controller from its own API"},
      {R"({"key":"nope","action":"start"})", 400, "unknown system service key \\\"nope\\\""},
      {R"({"key":"dns"})", 400, "invalid request"},
      {"{", 400, "invalid request"},
  };
  for (const auto& c : cases) {
    auto reply = call("POST", "/system-services/status", c.body);
    EXPECT_EQ(reply.status, c.status) << c.body << ": " << reply.body;
    EXPECT_NE(reply.body.find(c.detail), std::string::npos) << reply.body;
  }
  // Audited under the reference's action name.
  auto audit = call_json("POST", "/audit/log", R"({"limit":100})");
  EXPECT_NE(json::serialize(audit).find("set system service status"), std::string::npos);
}

TEST_F(dns_api, rbl_and_dnsbl_configuration_is_stored_and_validated) {
  auto rbl = call("POST", "/dns/rbl", R"({"enabled":true,"zones":["ZEN.spamhaus.org","zen.spamhaus.org."]})");
  ASSERT_EQ(rbl.status, 200) << rbl.body;
  EXPECT_EQ(call_json("GET", "/dns/rbl"), json::parse(R"({"enabled":true,"zones":["zen.spamhaus.org"]})"));
  EXPECT_EQ(call("POST", "/dns/dnsbl", R"({"enabled":"yes"})").status, 422);
  EXPECT_EQ(call_json("GET", "/dns/dnsbl"), json::parse(R"({"enabled":false,"zones":[]})"));
  ASSERT_EQ(call("POST", "/dns/rbl/local/add", R"({"entry":"192.0.2.0/24"})").status, 200);
  EXPECT_EQ(call("POST", "/dns/rbl/local/add", R"({"entry":"192.0.2.0/24"})").status, 409);
  EXPECT_EQ(call_json("GET", "/dns/rbl/local"), json::parse(R"({"entries":["192.0.2.0/24"]})"));
  ASSERT_EQ(call("POST", "/dns/rbl/local/remove", R"({"entry":"192.0.2.0/24"})").status, 200);
  EXPECT_EQ(call("POST", "/dns/rbl/local/remove", R"({"entry":"192.0.2.0/24"})").status, 404);
  ASSERT_EQ(call("POST", "/dns/dnsbl/allowlist/add", R"({"entry":"Mail.Example.com"})").status, 200);
  EXPECT_EQ(call_json("GET", "/dns/dnsbl/allowlist"), json::parse(R"({"entries":["mail.example.com"]})"));
  ASSERT_EQ(call("POST", "/dns/dnsbl/allowlist/remove", R"({"entry":"mail.example.com"})").status, 200);
}

}  // namespace
}  // namespace sc::test
