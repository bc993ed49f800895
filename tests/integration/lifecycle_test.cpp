// The package lifecycle end to end (issue 13) against the real binary and the sandbox host's real
// systemd, podman and btrfs: a package repository made at test time (git over file://) whose
// packages run the local busybox image. Every check looks at the real parts: the port answers,
// the unit file on disk, `ps`, the btrfs tree.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

#include "adapters/crypto/password.hpp"
#include "adapters/podman/podman.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto install_deadline = std::chrono::seconds(150);

// A TCP connect to 127.0.0.1:port succeeds now.
bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<unsigned short>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string fetch(int port, const std::string& path) {
  return shell("curl -s --max-time 3 http://127.0.0.1:" + std::to_string(port) + path);
}

class lifecycle_api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One controller per host is the rule in production. Two test servers acting on one podman and
    // one user manager at once made each other's units fail to start now and then ("did not start
    // (failed)", with nothing in the unit's journal) when ctest ran two of these tests side by side,
    // so the lifecycle tests take turns; each still runs its own operations concurrently.
    lock_fd_ = take_sandbox_turn();
    ASSERT_GE(lock_fd_, 0);
    repo_ = "lc" + std::to_string(::getpid());
    work_ = make_temp_dir("sc-lifecycle");
    db_ = work_ / "system.db";
    image_ = sandbox_env("SC_PODMAN_IMAGE");
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    btrfs_ = sandbox_env("SC_BTRFS_ROOT");
    ASSERT_FALSE(image_.empty() || unit_dir_.empty() || btrfs_.empty());
    make_repository();
    // NOLINTNEXTLINE(concurrency-mt-unsafe): for the children, on the test's own thread
    ::setenv("SC_DEFAULT_REPOSITORY", "", 1);
    start();
    auto settings = call("POST", "/settings/set", R"({"key":"default_quota","value":"67108864"})");
    ASSERT_EQ(settings.status, 200) << settings.body;
    auto added = call("POST", "/repository/add",
                      R"({"name":")" + repo_ + R"(","url":"file://)" + (work_ / "repo").string() + "\"}");
    ASSERT_EQ(added.status, 200) << added.body;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    shell("rm -f " + unit_dir_ + "/town-os-package--" + repo_ + "-*; systemctl --user daemon-reload");
    std::error_code ec;
    fs::remove_all(work_, ec);
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
  }

  static void start(std::vector<std::string> environment = {}) {
    delete server_;
    // One state directory across restarts: the database, the repository checkouts, the secrets.
    server_ = new server_process({"--state-dir", (work_ / "state").string(), "--db", db_.string()}, true,
                                 std::move(environment));
    ASSERT_TRUE(server_->started()) << server_->log();
  }

  static void make_repository() {
    fs::path dir = work_ / "repo" / "packages";
    const std::string image = "image: " + image_ + "\nentrypoint: [sh, -c]\n";
    write_text(dir / "web" / "1.0.yaml", "description: lifecycle web app\n" + image + R"(
command: ["exec httpd -f -p 8080 -h /www"]
environment:
  APP_TOKEN: "@token@"
  GREETING: "@greeting@"
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
  token: {query: "Token?", type: secret}
  greeting: {query: "Greeting?", default: hello}
templates:
  index:
    volume: www
    path: index.html
    content: "{{.Responses.greeting}} from {{.Package.Name}} {{.Package.Version}}\n"
notes:
  Address: {value: "http://localhost:@port@/", type: url}
  Token: {value: "@token@"}
)");
    write_text(dir / "web" / "2.0.yaml", "description: lifecycle web app, second version\n" + image + R"(
command: ["exec httpd -f -p 8080 -h /www"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
)");
    write_text(dir / "exits" / "1.0.yaml", "description: exits at once\n" + image + R"(
command: ["echo exits-at-once-marker; exit 3"]
volumes:
  data: {mountpoint: /data}
)");
    write_text(dir / "slow" / "1.0.yaml", "description: listens after 3 s\n" + image + R"(
command: ["sleep 3; exec httpd -f -p 8080 -h /www"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
templates:
  index: {volume: www, path: index.html, content: "slow\n"}
)");
    write_text(dir / "db" / "1.0.yaml", "description: the dependency\n" + image + R"(
command: ["exec httpd -f -p 5432 -h /www"]
network:
  internal:
    "5432": "5432"
volumes:
  www: {mountpoint: /www}
templates:
  index: {volume: www, path: index.html, content: "rows from the db\n"}
)");
    write_text(dir / "app" / "1.0.yaml", "description: needs the db\n" + image + R"(
command: ["until wget -q -O /www/fromdb.html http://$TOWNOS_DEP_DB_HOST:5432/index.html; do sleep 0.2; done; exec httpd -f -p 8080 -h /www"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
dependencies:
  db: {package: db}
)");
    // Three versions for upgrades (issue 14): 2.0 keeps `www`, drops `old`, adds `extra`; 3.0
    // exits at once, so upgrading to it rolls back. They stop on SIGTERM (httpd as PID 1 ignores
    // it, and every stop would wait out podman's 10 s).
    write_text(dir / "site" / "1.0.yaml", "description: upgraded site\n" + image + R"(
command: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
  old: {mountpoint: /old}
questions:
  port: {query: "Port?", type: port}
templates:
  index: {volume: www, path: index.html, content: "site {{.Package.Version}}\n"}
)");
    write_text(dir / "site" / "2.0.yaml", "description: upgraded site\n" + image + R"(
command: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
  extra: {mountpoint: /extra}
questions:
  port: {query: "Port?", type: port}
templates:
  v2: {volume: www, path: v2.html, content: "site {{.Package.Version}}\n"}
)");
    write_text(dir / "site" / "3.0.yaml", "description: upgraded site that fails\n" + image + R"(
command: ["echo site-3-fails-marker; exit 3"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www}
questions:
  port: {query: "Port?", type: port}
)");
    write_text(dir / "vm" / "1.0.yaml",
               "description: a virtual machine\nvm:\n  image: https://example.com/disk.qcow2\n");
    write_text(dir / "noimage" / "1.0.yaml", "description: image nowhere\nimage: localhost/sc-no-such-image:1\n");
    write_text(dir / "huge" / "1.0.yaml", "description: quota beyond the disk\n" + image + R"(
command: ["exec sleep 1000"]
volumes:
  data: {mountpoint: /data, quota: 64tb}
)");
    // A volume seeded from git (issue 14: rebuild-git), from a repository of its own.
    fs::path content = work_ / "content";
    write_text(content / "index.html", "from git 1\n");
    ASSERT_TRUE(commit_all(content, "one"));
    write_text(dir / "gitsite" / "1.0.yaml", "description: pages from git\n" + image + R"(
command: ["trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
network:
  external:
    "@port@": "8080"
volumes:
  www: {mountpoint: /www, git: "file://)" + content.string() +
                                                 R"("}
questions:
  port: {query: "Port?", type: port}
)");
    ASSERT_TRUE(commit_all(work_ / "repo"));
  }

  // Commits the repository's working tree as it is now.
  static void commit_repository(const std::string& message) { ASSERT_TRUE(commit_all(work_ / "repo", message)); }

  static http_reply call(const std::string& method, const std::string& target, const std::string& body = {},
                         std::chrono::seconds deadline = std::chrono::seconds(20),
                         const std::map<std::string, std::string>& headers = {}) {
    return try_request_unix(server_->socket_path(), method, target, body, deadline, headers);
  }
  static json::value call_json(const std::string& method, const std::string& target, const std::string& body = {}) {
    auto reply = call(method, target, body);
    EXPECT_EQ(reply.status, 200) << method << " " << target << ": " << reply.body;
    return json::parse(reply.body.empty() ? "null" : reply.body);
  }
  static std::string package(const std::string& name, const std::string& extra = {}) {
    return R"({"repo":")" + repo_ + R"(","name":")" + name + "\"" + extra + "}";
  }
  static http_reply install(const std::string& name, const std::string& extra = {}) {
    return call("POST", "/packages/install", package(name, extra), install_deadline);
  }
  static http_reply uninstall(const std::string& name, const std::string& extra = {}) {
    return call("POST", "/packages/uninstall", package(name, extra), install_deadline);
  }
  static std::string unit_path(const std::string& name, const std::string& version) {
    return unit_dir_ + "/town-os-package--" + repo_ + "-" + name + "-" + version + ".service";
  }
  static fs::path installed_tree(const std::string& name) { return fs::path(btrfs_) / "installed" / repo_ / name; }
  static fs::path uninstalled_tree(const std::string& name) { return fs::path(btrfs_) / "uninstalled" / repo_ / name; }
  static int port_of(const std::string& name) {
    auto responses = call_json("POST", "/packages/responses", package(name));
    if (!responses.is_object() || !responses.as_object().contains("port")) return 0;
    return std::stoi(std::string(responses.at("port").as_string()));
  }
  static bool listed(const std::string& entry) {
    auto page = call_json("GET", "/packages/installed?limit=100");
    for (const auto& e : page.at("entries").as_array()) {
      if (e.as_string() == entry) return true;
    }
    return false;
  }
  // No unit, no volume, no record of `name`.
  static void expect_no_trace(const std::string& name, const std::string& version) {
    EXPECT_FALSE(fs::exists(unit_path(name, version))) << unit_path(name, version);
    EXPECT_FALSE(fs::exists(installed_tree(name))) << installed_tree(name);
    EXPECT_FALSE(listed(repo_ + "/" + name + "@" + version));
    EXPECT_EQ(
        shell("podman container exists town-os-package--" + repo_ + "-" + name + "-" + version + " && echo present"),
        "");
  }

  // Data members end in _ (STYLE.md §10); .clang-tidy gives the suffix to non-static ones only.
  // NOLINTBEGIN(readability-identifier-naming)
  inline static server_process* server_ = nullptr;
  inline static int lock_fd_ = -1;
  inline static std::string repo_;
  inline static fs::path work_;
  inline static fs::path db_;
  inline static std::string image_;
  inline static std::string unit_dir_;
  inline static std::string btrfs_;
  // NOLINTEND(readability-identifier-naming)
};

TEST_F(lifecycle_api, web_app_installs_serves_disables_and_keeps_its_data) {
  // Install: done only when it serves the templated page.
  auto installed = install("web", R"(,"version":"1.0","responses":{"greeting":"hi"})");
  ASSERT_EQ(installed.status, 200) << installed.body;
  int port = port_of("web");
  ASSERT_GT(port, 0);
  EXPECT_EQ(fetch(port, "/index.html"), "hi from web 1.0\n");
  EXPECT_TRUE(listed(repo_ + "/web@1.0"));
  // The rest of the API sees the install record.
  std::string unit_name = "town-os-package--" + repo_ + "-web-1.0.service";
  auto units = call_json("GET", "/systemd/units?limit=1000&search=" + unit_name);
  ASSERT_EQ(units.at("total_count").as_int64(), 1) << json::serialize(units);
  EXPECT_EQ(units.at("entries").at(0).at("package_identifier").as_string(), repo_ + "/web@1.0");
  EXPECT_EQ(units.at("entries").at(0).at("ActiveState").as_string(), "active");
  auto catalog = call_json("GET", "/packages?limit=100&installed_only=true");
  bool found_web = false;
  for (const auto& e : catalog.at("entries").as_array()) {
    if (e.at("name").as_string() != "web") continue;
    found_web = true;
    EXPECT_TRUE(e.at("installed").as_bool());
    EXPECT_EQ(e.at("installed_version").as_string(), "1.0");
  }
  EXPECT_TRUE(found_web) << json::serialize(catalog);
  EXPECT_GE(call_json("GET", "/status/ping").at("installed").as_int64(), 1);

  // The generated secret reaches the container only through the env file.
  auto responses = call_json("POST", "/packages/responses", package("web"));
  std::string token(responses.at("token").as_string());
  ASSERT_EQ(token.size(), 64u);
  std::ifstream unit_file(unit_path("web", "1.0"));
  std::string unit((std::istreambuf_iterator<char>(unit_file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(unit.empty());
  EXPECT_EQ(unit.find(token), std::string::npos);
  EXPECT_EQ(shell("ps -eo args").find(token), std::string::npos);
  std::string container = "town-os-package--" + repo_ + "-web-1.0";
  EXPECT_EQ(shell("podman exec " + container + " sh -c 'echo $APP_TOKEN'"), token + "\n");
  auto info = call_json("POST", "/packages/installed/info", package("web"));
  EXPECT_EQ(info.at("notes").at("Token").as_string(), token);
  EXPECT_EQ(info.at("note_types").at("Address").as_string(), "url");
  EXPECT_EQ(info.at("responses").at("greeting").as_string(), "hi");
  // What it uses now, from its slice: the running httpd has memory and has used CPU time.
  const auto& resources = info.at("resources");
  EXPECT_NE(resources.at("slice").as_string().find(".slice"), std::string::npos) << json::serialize(info);
  EXPECT_TRUE(resources.at("source") == "systemd" || resources.at("source") == "podman") << json::serialize(info);
  ASSERT_TRUE(resources.at("memory_bytes").is_number()) << json::serialize(info);
  EXPECT_GT(resources.at("memory_bytes").to_number<std::int64_t>(), 0);
  ASSERT_TRUE(resources.at("cpu_seconds").is_number()) << json::serialize(info);
  EXPECT_GT(resources.at("cpu_seconds").to_number<double>(), 0.0);
  auto audit = call_json("POST", "/audit/log", R"({"limit":50})");
  EXPECT_EQ(json::serialize(audit).find(token), std::string::npos);

  // A second install of it, and another package on its port, are refused without side effects.
  EXPECT_EQ(install("web", R"(,"version":"1.0")").status, 409);
  auto clash = install("slow", R"(,"responses":{"port":")" + std::to_string(port) + R"("})");
  EXPECT_EQ(clash.status, 409) << clash.body;
  EXPECT_NE(clash.body.find(std::to_string(port)), std::string::npos) << clash.body;
  expect_no_trace("slow", "1.0");

  // Disable closes the port; enable opens it again.
  ASSERT_EQ(call("POST", "/packages/disable", package("web"), 60s).status, 200);
  EXPECT_TRUE(eventually(10s, [&] { return !port_open(port); }));
  ASSERT_EQ(call("POST", "/packages/enable", package("web"), 60s).status, 200);
  EXPECT_EQ(fetch(port, "/index.html"), "hi from web 1.0\n");

  // Disabled survives a restart: the restarted controller reconciles and does not start it. It
  // does put back what was changed or removed behind its back: the unit file, and the volume
  // (empty, with its templates).
  ASSERT_EQ(call("POST", "/packages/disable", package("web"), 60s).status, 200);
  EXPECT_TRUE(eventually(10s, [&] { return !port_open(port); }));
  delete server_;
  server_ = nullptr;
  {
    std::ofstream edit(unit_path("web", "1.0"), std::ios::app);
    edit << "# edited by hand\n";
  }
  ASSERT_EQ(
      shell("btrfs subvolume delete " + (installed_tree("web") / "1.0" / "www").string() + " >/dev/null && echo ok"),
      "ok\n");
  start();
  EXPECT_TRUE(server_->wait_for_log("unit files rewritten", 20s)) << server_->log();
  EXPECT_EQ(read_text(unit_path("web", "1.0")).find("edited by hand"), std::string::npos);
  EXPECT_EQ(read_text(installed_tree("web") / "1.0" / "www" / "index.html"), "hi from web 1.0\n");
  EXPECT_FALSE(port_open(port));
  ASSERT_EQ(call("POST", "/packages/enable", package("web"), 60s).status, 200);
  EXPECT_EQ(fetch(port, "/index.html"), "hi from web 1.0\n");

  // A running package whose unit file changed is restarted on the new one.
  const std::string show_pid = "systemctl --user show -p MainPID --value " + unit_name;
  const std::string pid_before = shell(show_pid);
  delete server_;
  server_ = nullptr;
  {
    std::ofstream edit(unit_path("web", "1.0"), std::ios::app);
    edit << "# edited by hand\n";
  }
  start();
  EXPECT_TRUE(server_->wait_for_log("unit files rewritten", 20s)) << server_->log();
  EXPECT_TRUE(eventually(30s, [&] {
    std::string pid = shell(show_pid);
    return pid != pid_before && pid != "0\n" && port_open(port);
  }));
  EXPECT_EQ(read_text(unit_path("web", "1.0")).find("edited by hand"), std::string::npos);
  EXPECT_EQ(fetch(port, "/index.html"), "hi from web 1.0\n");

  // Data written by the app survives an uninstall and comes back with reuse_volumes.
  ASSERT_TRUE(fs::is_directory(installed_tree("web") / "1.0" / "www"));
  write_text(installed_tree("web") / "1.0" / "www" / "kept.txt", "kept data\n");
  auto removed =
      call("POST", "/packages/uninstall", package("web"), install_deadline, {{"Accept", "text/event-stream"}});
  ASSERT_EQ(removed.status, 200);
  EXPECT_NE(removed.body.find(R"(data: {"step":"stopping_services"})"), std::string::npos) << removed.body;
  EXPECT_NE(removed.body.find(R"(data: {"done":true})"), std::string::npos) << removed.body;
  EXPECT_TRUE(eventually(10s, [&] { return !port_open(port); }));
  EXPECT_FALSE(fs::exists(unit_path("web", "1.0")));
  EXPECT_FALSE(listed(repo_ + "/web@1.0"));
  EXPECT_TRUE(fs::exists(uninstalled_tree("web") / "1.0" / "www" / "kept.txt"));
  auto kept = call_json("POST", "/packages/uninstalled-volumes", package("web"));
  EXPECT_TRUE(kept.at("has_uninstalled_volumes").as_bool()) << json::serialize(kept);
  EXPECT_EQ(kept.at("uninstalled_versions").at(0).as_string(), "1.0");
  auto last = call_json("POST", "/packages/last-responses", package("web"));
  EXPECT_EQ(last.at("token").as_string(), token);

  auto again = install("web", R"(,"version":"1.0","reuse_volumes":true)");
  ASSERT_EQ(again.status, 200) << again.body;
  int port_again = port_of("web");
  EXPECT_EQ(fetch(port_again, "/kept.txt"), "kept data\n");
  // The template is not written over the kept page; the kept answers (the secret too) are reused.
  EXPECT_EQ(fetch(port_again, "/index.html"), "hi from web 1.0\n");
  EXPECT_EQ(call_json("POST", "/packages/responses", package("web")).at("token").as_string(), token);
  EXPECT_EQ(call_json("POST", "/packages/last-responses", package("web")), json::value(json::object()));

  // Last answers are kept by an uninstall and cleared on request; purge removes every volume.
  ASSERT_EQ(uninstall("web").status, 200);
  EXPECT_FALSE(call_json("POST", "/packages/last-responses", package("web")).as_object().empty());
  ASSERT_EQ(call("POST", "/packages/clear-last-responses", package("web")).status, 200);
  EXPECT_TRUE(call_json("POST", "/packages/last-responses", package("web")).as_object().empty());
  ASSERT_EQ(call("POST", "/packages/purge-uninstalled-volumes", package("web"), 60s).status, 200);
  EXPECT_FALSE(fs::exists(uninstalled_tree("web")));
  EXPECT_FALSE(
      call_json("POST", "/packages/uninstalled-volumes", package("web")).at("has_uninstalled_volumes").as_bool());
  expect_no_trace("web", "1.0");
}

TEST_F(lifecycle_api, an_app_that_exits_leaves_no_trace_and_says_why) {
  auto reply = install("exits");
  EXPECT_EQ(reply.status, 422) << reply.body;
  auto body = json::parse(reply.body);
  EXPECT_NE(std::string(body.at("detail").as_string()).find("did not start"), std::string::npos) << reply.body;
  ASSERT_TRUE(body.as_object().contains("journal")) << reply.body;
  expect_no_trace("exits", "1.0");
  EXPECT_FALSE(fs::exists(uninstalled_tree("exits")));
}

TEST_F(lifecycle_api, a_slow_app_is_done_only_once_it_answers) {
  auto started = std::chrono::steady_clock::now();
  auto reply = call("POST", "/packages/install", package("slow"), install_deadline, {{"Accept", "text/event-stream"}});
  ASSERT_EQ(reply.status, 200);
  ASSERT_NE(reply.body.find(R"(data: {"done":true})"), std::string::npos) << reply.body;
  EXPECT_GE(std::chrono::steady_clock::now() - started, 3s);
  // Steps in order, then done.
  auto provisioning = reply.body.find(R"({"step":"provisioning_volumes"})");
  auto services = reply.body.find(R"({"step":"installing_services"})");
  auto starting = reply.body.find(R"({"step":"starting"})");
  EXPECT_LT(provisioning, services);
  EXPECT_LT(services, starting);
  int port = port_of("slow");
  EXPECT_TRUE(port_open(port));
  EXPECT_EQ(fetch(port, "/index.html"), "slow\n");
  ASSERT_EQ(uninstall("slow", R"(,"purge_volumes":true)").status, 200);
  expect_no_trace("slow", "1.0");
  EXPECT_FALSE(fs::exists(uninstalled_tree("slow")));
}

TEST_F(lifecycle_api, a_dependency_pair_installs_and_uninstalls_as_a_unit) {
  auto reply = install("app");
  ASSERT_EQ(reply.status, 200) << reply.body;
  int port = port_of("app");
  // The parent fetched from its dependency by name over the shared network.
  EXPECT_TRUE(eventually(20s, [&] { return fetch(port, "/fromdb.html") == "rows from the db\n"; }))
      << fetch(port, "/fromdb.html");
  EXPECT_TRUE(listed(repo_ + "/app@1.0"));
  EXPECT_TRUE(listed(repo_ + "/app--dep--db@1.0"));
  EXPECT_TRUE(fs::exists(unit_path("app--dep--db", "1.0")));
  ASSERT_EQ(uninstall("app", R"(,"purge_volumes":true)").status, 200);
  expect_no_trace("app", "1.0");
  EXPECT_FALSE(fs::exists(unit_path("app--dep--db", "1.0")));
  EXPECT_FALSE(listed(repo_ + "/app--dep--db@1.0"));
}

TEST_F(lifecycle_api, preflight_errors_have_no_side_effects) {
  EXPECT_EQ(install("nosuchpackage").status, 404);
  auto bad_answer = install("web", R"(,"version":"1.0","responses":{"port":"not-a-port"})");
  EXPECT_EQ(bad_answer.status, 422) << bad_answer.body;
  EXPECT_NE(bad_answer.body.find("port"), std::string::npos);
  auto no_image = install("noimage");
  EXPECT_EQ(no_image.status, 422) << no_image.body;
  EXPECT_NE(no_image.body.find("localhost/sc-no-such-image:1"), std::string::npos) << no_image.body;
  auto huge = install("huge");
  EXPECT_EQ(huge.status, 422) << huge.body;
  // A port something on the host listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int busy = ntohs(addr.sin_port);
  auto bound = install("web", R"(,"version":"1.0","responses":{"port":")" + std::to_string(busy) + R"("})");
  ::close(fd);
  EXPECT_EQ(bound.status, 409) << bound.body;
  EXPECT_NE(bound.body.find(std::to_string(busy)), std::string::npos) << bound.body;
  for (const auto* name : {"web", "noimage", "huge"}) expect_no_trace(name, "1.0");
  EXPECT_EQ(call("POST", "/packages/uninstall", package("web")).status, 404);
}

TEST_F(lifecycle_api, a_vm_package_is_refused_saying_what_the_host_lacks) {
  // VM packages are out of scope; both the preview and the install say so, naming what this host
  // lacks for them (KVM, QEMU) when it lacks anything.
  const auto missing = podman::vm_host_missing();
  auto preview = call_json("POST", "/packages/install-preview", package("vm", R"(,"version":"1.0")"));
  EXPECT_EQ(preview.at("runtime").as_string(), "vm");
  ASSERT_EQ(preview.at("vm_host_missing").as_array().size(), missing.size()) << json::serialize(preview);
  std::string summary(preview.at("summary").as_string());
  auto reply = install("vm");
  ASSERT_EQ(reply.status, 422) << reply.body;
  std::string detail(json::parse(reply.body).at("detail").as_string());
  for (const auto& m : missing) {
    EXPECT_NE(summary.find(m), std::string::npos) << summary;
    EXPECT_NE(detail.find(m), std::string::npos) << detail;
  }
  if (missing.empty()) {
    EXPECT_NE(detail.find("VM packages cannot be installed"), std::string::npos) << detail;
  }
  expect_no_trace("vm", "1.0");
}

TEST_F(lifecycle_api, two_concurrent_installs_of_one_package_one_conflicts) {
  auto first = std::async(std::launch::async, [] { return install("slow"); });
  auto second = std::async(std::launch::async, [] { return install("slow"); });
  int a = first.get().status;
  int b = second.get().status;
  EXPECT_TRUE((a == 200 && b == 409) || (a == 409 && b == 200)) << a << " " << b;
  ASSERT_EQ(uninstall("slow", R"(,"purge_volumes":true)").status, 200);
  expect_no_trace("slow", "1.0");
}

// Operations on different packages run at once, each to its end: five instances of the web app
// install together (one finishing while another is still in its preflight), all serve, and all
// uninstall together.
TEST_F(lifecycle_api, installs_of_different_packages_run_concurrently) {
  std::vector<std::future<http_reply>> installs;
  for (int n = 1; n <= 5; ++n) {
    installs.push_back(std::async(std::launch::async, [n] {
      return install("web", R"(,"version":"2.0","instance":"c)" + std::to_string(n) + "\"");
    }));
  }
  for (auto& f : installs) {
    auto reply = f.get();
    EXPECT_EQ(reply.status, 200) << reply.body;
  }
  for (int n = 1; n <= 5; ++n) {
    auto responses =
        call_json("POST", "/packages/responses", package("web", R"(,"instance":"c)" + std::to_string(n) + "\""));
    ASSERT_TRUE(responses.as_object().contains("port")) << json::serialize(responses);
    EXPECT_TRUE(port_open(std::stoi(std::string(responses.at("port").as_string()))));
  }
  std::vector<std::future<http_reply>> uninstalls;
  for (int n = 1; n <= 5; ++n) {
    uninstalls.push_back(std::async(std::launch::async, [n] {
      return uninstall("web", R"(,"instance":"c)" + std::to_string(n) + R"(","purge_volumes":true)");
    }));
  }
  for (auto& f : uninstalls) EXPECT_EQ(f.get().status, 200);
  for (int n = 1; n <= 5; ++n) expect_no_trace("web-c" + std::to_string(n), "2.0");
}

// Two installs at once asking for one host port: the one planned second is refused in its
// preflight (409 naming the port) even while the first has not bound it yet, and leaves no trace;
// the first serves on the port.
TEST_F(lifecycle_api, concurrent_installs_cannot_take_one_port) {
  const int port = unused_port();
  ASSERT_NE(port, 0);
  const std::string answers = R"(,"version":"2.0","responses":{"port":")" + std::to_string(port) + R"("})";
  auto first = std::async(std::launch::async, [&] { return install("web", R"(,"instance":"p1")" + answers); });
  auto second = std::async(std::launch::async, [&] { return install("web", R"(,"instance":"p2")" + answers); });
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE((a.status == 200 && b.status == 409) || (a.status == 409 && b.status == 200))
      << a.status << " " << a.body << "\n"
      << b.status << " " << b.body;
  const std::string winner = a.status == 200 ? "p1" : "p2";
  const std::string loser = a.status == 200 ? "p2" : "p1";
  EXPECT_NE((a.status == 409 ? a : b).body.find(std::to_string(port)), std::string::npos);
  expect_no_trace("web-" + loser, "2.0");
  EXPECT_TRUE(port_open(port));
  ASSERT_EQ(uninstall("web", R"(,"instance":")" + winner + R"(","purge_volumes":true)").status, 200);
  expect_no_trace("web-" + winner, "2.0");
}

// Upgrades (issue 14): 1.0 -> 2.0 keeps the data and serves 2.0; 2.0 -> 3.0 fails to start and
// rolls back by itself to 2.0 with its data and answers; rollback returns to 1.0 as it was when
// it stopped; kept versions are listed and removed.
TEST_F(lifecycle_api, upgrades_keep_data_and_roll_back_by_themselves) {
  ASSERT_EQ(install("site", R"(,"version":"1.0")").status, 200);
  const int port = port_of("site");
  const fs::path v1 = installed_tree("site") / "1.0";
  write_text(v1 / "www" / "marker.txt", "kept\n");
  ASSERT_EQ(fetch(port, "/index.html"), "site 1.0\n");

  // The dry run first: what the upgrade would move, add, drop and rewrite.
  auto preview = call_json("POST", "/packages/install-preview", package("site", R"(,"version":"2.0")"));
  EXPECT_EQ(preview.at("upgrading_from").as_string(), "1.0") << json::serialize(preview);
  EXPECT_EQ(json::serialize(preview.at("upgrade").at("volumes")),
            R"({"moved":["www"],"new":["extra"],"dropped":["old"]})");
  EXPECT_FALSE(preview.at("upgrade").at("units").as_array().empty());
  EXPECT_TRUE(preview.at("volumes").at(0).at("migrated").as_bool()) << json::serialize(preview);

  auto upgraded = install("site", R"(,"version":"2.0")");
  ASSERT_EQ(upgraded.status, 200) << upgraded.body << server_->log();
  EXPECT_EQ(port_of("site"), port);  // the answers are kept
  EXPECT_EQ(fetch(port, "/v2.html"), "site 2.0\n");
  EXPECT_EQ(fetch(port, "/marker.txt"), "kept\n");
  EXPECT_TRUE(listed(repo_ + "/site@2.0"));
  EXPECT_FALSE(fs::exists(unit_path("site", "1.0")));
  EXPECT_TRUE(fs::exists(unit_path("site", "2.0")));
  EXPECT_FALSE(fs::exists(v1)) << "the old version's volumes are in the snapshot now";
  EXPECT_TRUE(fs::exists(installed_tree("site") / "2.0" / "extra"));
  auto kept = call_json("POST", "/packages/snapshots", package("site"));
  ASSERT_EQ(kept.as_array().size(), 1u) << json::serialize(kept);
  EXPECT_EQ(kept.at(0).at("version").as_string(), "1.0");
  const auto first_snapshot = kept.at(0).at("id").as_int64();

  write_text(installed_tree("site") / "2.0" / "www" / "marker.txt", "changed in 2.0\n");
  auto failed = install("site", R"(,"version":"3.0")");
  EXPECT_EQ(failed.status, 422) << failed.body;
  EXPECT_NE(failed.body.find("did not start"), std::string::npos) << failed.body;
  EXPECT_NE(failed.body.find("\"journal\""), std::string::npos) << failed.body;
  EXPECT_TRUE(listed(repo_ + "/site@2.0"));
  EXPECT_TRUE(eventually(10s, [&] { return fetch(port, "/v2.html") == "site 2.0\n"; })) << server_->log();
  EXPECT_EQ(fetch(port, "/marker.txt"), "changed in 2.0\n");
  EXPECT_EQ(port_of("site"), port);
  EXPECT_FALSE(fs::exists(unit_path("site", "3.0")));
  EXPECT_FALSE(fs::exists(installed_tree("site") / "3.0"));
  kept = call_json("POST", "/packages/snapshots", package("site"));
  ASSERT_EQ(kept.as_array().size(), 1u) << "the failed upgrade's own snapshot went with it";
  EXPECT_EQ(kept.at(0).at("id").as_int64(), first_snapshot);

  auto back = call("POST", "/packages/rollback", package("site"), install_deadline);
  ASSERT_EQ(back.status, 200) << back.body << server_->log();
  EXPECT_TRUE(listed(repo_ + "/site@1.0"));
  EXPECT_EQ(fetch(port, "/index.html"), "site 1.0\n");
  EXPECT_EQ(fetch(port, "/marker.txt"), "kept\n");
  EXPECT_TRUE(fs::exists(v1 / "old"));
  EXPECT_FALSE(fs::exists(installed_tree("site") / "2.0"));
  kept = call_json("POST", "/packages/snapshots", package("site"));
  ASSERT_EQ(kept.as_array().size(), 1u) << json::serialize(kept);
  EXPECT_EQ(kept.at(0).at("version").as_string(), "2.0");
  const auto id = kept.at(0).at("id").as_int64();
  const fs::path snapshot = fs::path(btrfs_) / "snapshots" / repo_ / "site" / std::to_string(id);
  EXPECT_TRUE(fs::exists(snapshot / "2.0" / "www" / "marker.txt"));

  EXPECT_EQ(call("POST", "/packages/snapshots/remove", package("site", R"(,"id":999999)")).status, 404);
  ASSERT_EQ(call("POST", "/packages/snapshots/remove", package("site", R"(,"id":)" + std::to_string(id))).status, 200);
  EXPECT_EQ(call_json("POST", "/packages/snapshots", package("site")), json::value(json::array()));
  EXPECT_FALSE(fs::exists(snapshot));
  EXPECT_EQ(call("POST", "/packages/rollback", package("site")).status, 409);

  ASSERT_EQ(uninstall("site", R"(,"purge_volumes":true)").status, 200);
  expect_no_trace("site", "1.0");
  EXPECT_FALSE(fs::exists(fs::path(btrfs_) / "snapshots" / repo_ / "site"));
}

// Reinstalling another version over kept volumes: import_from_version starts its volumes as copies
// of that version's (the reference's behaviour), and names a version with none as a 422.
TEST_F(lifecycle_api, a_reinstall_imports_another_versions_volumes) {
  ASSERT_EQ(install("site", R"(,"version":"1.0")").status, 200);
  const int port = port_of("site");
  write_text(installed_tree("site") / "1.0" / "www" / "marker.txt", "imported\n");
  ASSERT_EQ(uninstall("site").status, 200);
  ASSERT_TRUE(fs::exists(uninstalled_tree("site") / "1.0" / "www" / "marker.txt"));

  auto none = install("site", R"(,"version":"2.0","reuse_volumes":true,"import_from_version":"9.9")");
  EXPECT_EQ(none.status, 422) << none.body;
  EXPECT_NE(none.body.find("import_from_version"), std::string::npos) << none.body;
  EXPECT_EQ(install("site", R"(,"version":"2.0","import_from_version":"2.0")").status, 422);
  EXPECT_TRUE(fs::exists(uninstalled_tree("site") / "1.0" / "www" / "marker.txt")) << "a refusal changes nothing";

  auto imported = install("site", R"(,"version":"2.0","reuse_volumes":true,"import_from_version":"1.0")");
  ASSERT_EQ(imported.status, 200) << imported.body << server_->log();
  EXPECT_EQ(port_of("site"), port) << "the last answers come back with reuse_volumes";
  EXPECT_EQ(fetch(port, "/marker.txt"), "imported\n");
  EXPECT_EQ(fetch(port, "/v2.html"), "site 2.0\n");
  EXPECT_TRUE(fs::exists(installed_tree("site") / "1.0" / "www" / "marker.txt")) << "the source stays as it was";
  ASSERT_EQ(uninstall("site", R"(,"purge_volumes":true)").status, 200);
  expect_no_trace("site", "2.0");
}

TEST_F(lifecycle_api, rebuild_git_pulls_a_new_commit_into_a_git_seeded_volume_and_restarts_the_unit) {
  const fs::path content = work_ / "content";
  auto commit_content = [&](const std::string& message) {
    ASSERT_EQ(std::system(("cd '" + content.string() +
                           "' && git add -A && git -c user.email=t@example.com -c user.name=t commit -q -m " + message)
                              .c_str()),
              0);
  };
  const std::string unit = "town-os-package--" + repo_ + "-gitsite-1.0.service";
  auto invocation = [&] { return shell("systemctl --user show -p InvocationID --value " + unit); };
  auto rebuild = [&](const std::string& extra) {
    return call("POST", "/packages/rebuild-git", package("gitsite", extra), install_deadline);
  };

  auto installed = install("gitsite");
  ASSERT_EQ(installed.status, 200) << installed.body;
  const int port = port_of("gitsite");
  const fs::path www = installed_tree("gitsite") / "1.0" / "www";
  EXPECT_EQ(fetch(port, "/index.html"), "from git 1\n");
  // The repository is the controller's, outside the volume the container writes.
  EXPECT_FALSE(fs::exists(www / ".git"));

  // The app plants a repository config that would run a command as root if git read it.
  const fs::path pwned = work_ / "pwned-by-fsmonitor";
  ASSERT_EQ(std::system(("git init -q '" + www.string() + "' && git -C '" + www.string() +
                         "' config core.fsmonitor 'touch " + pwned.string() + "'")
                            .c_str()),
            0);
  write_text(content / "index.html", "from git 2\n");
  write_text(content / "new.html", "new\n");
  commit_content("two");
  const std::string before = invocation();
  auto rebuilt = rebuild(R"(,"version":"1.0")");
  ASSERT_EQ(rebuilt.status, 200) << rebuilt.body;
  EXPECT_EQ(rebuilt.body, "{}\n");
  EXPECT_EQ(fetch(port, "/index.html"), "from git 2\n");
  EXPECT_EQ(fetch(port, "/new.html"), "new\n");
  EXPECT_NE(invocation(), before) << "the unit was not restarted";
  EXPECT_FALSE(fs::exists(pwned)) << "git read a config from inside the volume";

  // The app's own edit of a file the update changes: 409, and the volume stays as it was.
  write_text(www / "index.html", "edited in the app\n");
  write_text(content / "index.html", "from git 3\n");
  commit_content("three");
  auto refused = rebuild(R"(,"version":"1.0")");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(read_text(www / "index.html"), "edited in the app\n");

  EXPECT_EQ(rebuild("").status, 400) << "version is required";
  EXPECT_EQ(rebuild(R"(,"version":"9.9")").status, 404);
  EXPECT_EQ(call("POST", "/packages/rebuild-git", package("web", R"(,"version":"1.0")")).status, 404);

  auto removed = uninstall("gitsite", R"(,"purge_volumes":true)");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_FALSE(fs::exists(work_ / "state" / "git-seeds" / "installed" / repo_ / "gitsite"));
  expect_no_trace("gitsite", "1.0");
}

TEST_F(lifecycle_api, a_disabled_app_upgrades_and_stays_disabled) {
  ASSERT_EQ(install("site", R"(,"version":"1.0")").status, 200);
  const int port = port_of("site");
  ASSERT_EQ(call("POST", "/packages/disable", package("site"), 60s).status, 200);
  EXPECT_TRUE(eventually(10s, [&] { return !port_open(port); }));
  auto upgraded = install("site", R"(,"version":"2.0")");
  ASSERT_EQ(upgraded.status, 200) << upgraded.body;
  EXPECT_TRUE(listed(repo_ + "/site@2.0"));
  EXPECT_TRUE(fs::exists(unit_path("site", "2.0")));
  EXPECT_FALSE(port_open(port));
  ASSERT_EQ(call("POST", "/packages/enable", package("site"), 60s).status, 200);
  EXPECT_EQ(fetch(port, "/v2.html"), "site 2.0\n");
  ASSERT_EQ(uninstall("site", R"(,"purge_volumes":true)").status, 200);
  expect_no_trace("site", "2.0");
}

// kill -9 at every step of an upgrade, then a restart: the old version is installed and serving
// with its data, and nothing of the new one is left.
TEST_F(lifecycle_api, a_crash_at_any_upgrade_step_rolls_it_back) {
  for (std::string step : {"stopping_old", "snapshotting", "migrating_volumes", "provisioning_volumes",
                           "applying_templates", "installing_services", "starting", "saving_install"}) {
    SCOPED_TRACE("upgrade:" + step);
    start({"SC_TEST_DIE_AT_STEP=upgrade:" + step});
    ASSERT_EQ(install("site", R"(,"version":"1.0")").status, 200);
    const int port = port_of("site");
    write_text(installed_tree("site") / "1.0" / "www" / "marker.txt", step + "\n");
    auto reply = call("POST", "/packages/install", package("site", R"(,"version":"2.0")"), 30s);
    EXPECT_EQ(server_->stop(0, 10s), 128 + SIGKILL)
        << "the server should have died at the step; the upgrade answered " << reply.status << " " << reply.body;
    start();
    EXPECT_TRUE(server_->wait_for_log("rolled back the upgrade of " + repo_ + "/site to 1.0", 90s)) << server_->log();
    // Reconcile comes next, and holds the package while it looks at it.
    EXPECT_TRUE(server_->wait_for_log("installed packages reconciled", 60s)) << server_->log();
    EXPECT_TRUE(listed(repo_ + "/site@1.0"));
    EXPECT_TRUE(eventually(20s, [&] { return fetch(port, "/marker.txt") == step + "\n"; })) << server_->log();
    EXPECT_FALSE(fs::exists(unit_path("site", "2.0")));
    EXPECT_FALSE(fs::exists(installed_tree("site") / "2.0"));
    EXPECT_EQ(call_json("POST", "/packages/snapshots", package("site")), json::value(json::array()));
    ASSERT_EQ(uninstall("site", R"(,"purge_volumes":true)").status, 200);
    expect_no_trace("site", "1.0");
  }
  start();
}

// GET /packages/upgrades and its dismissal (behavior-ops.md §6.5, issue 14). Installed web 1.0 is
// offered 2.0 (an instance at 2.0 is not); a dismissed list stays dismissed until it changes (a
// new version in the repository), and is dismissed again when it comes back; a definition edited
// in place is `changed`; ping and /metrics count the same list.
TEST_F(lifecycle_api, upgrades_are_listed_and_dismissed_with_ping_agreeing) {
  ASSERT_EQ(install("web", R"(,"version":"1.0")").status, 200);
  ASSERT_EQ(install("web", R"(,"version":"2.0","instance":"u2")").status, 200);
  // This test's repository only (tests before it in this process uninstall what they install).
  auto ours = [] {
    json::array out;
    const auto listed = call_json("GET", "/packages/upgrades");
    for (const auto& e : listed.as_array()) {
      if (e.at("repo").as_string() == repo_) out.push_back(e);
    }
    return out;
  };
  auto entry = [](const std::string& instance, const std::string& installed, const std::string& latest, bool changed) {
    json::object e{{"repo", repo_}, {"name", "web"}};
    if (!instance.empty()) e["instance"] = instance;
    e["installed_version"] = installed;
    e["latest_version"] = latest;
    e["changed"] = changed;
    return json::value(std::move(e));
  };
  auto refresh_until = [](auto condition) {
    // A refresh that was already running when the repository changed answers for the old state.
    return eventually(30s, [&] { return call("POST", "/repository/refresh", "{}", 60s).status == 200 && condition(); });
  };
  EXPECT_EQ(ours(), json::array({entry("", "1.0", "2.0", false)}));

  // The count is the whole list's; nothing is dismissed yet.
  const auto everything = call_json("GET", "/packages/upgrades").as_array();
  auto ping = call_json("GET", "/status/ping");
  EXPECT_EQ(ping.at("upgrades_available").as_int64(), static_cast<std::int64_t>(everything.size()));
  EXPECT_FALSE(ping.as_object().contains("upgrades_dismissed")) << json::serialize(ping);
  auto metrics = call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("\ntownos_upgrades_available " + std::to_string(everything.size()) + "\n"),
            std::string::npos)
      << metrics.body;

  // Dismissing stores the SHA-256 of `repo/name@installed->latest\n` over the list, in order.
  ASSERT_EQ(call("POST", "/packages/upgrades/dismiss", "{}").status, 200);
  std::string lines;
  for (const auto& e : everything) {
    const auto& o = e.as_object();
    lines += std::string(o.at("repo").as_string()) + "/" + std::string(o.at("name").as_string()) +
             (o.contains("instance") ? "-" + std::string(o.at("instance").as_string()) : std::string()) + "@" +
             std::string(o.at("installed_version").as_string()) + "->" +
             std::string(o.at("latest_version").as_string()) + "\n";
  }
  auto stored = call_json("POST", "/settings/get", R"({"key":"dismissed_upgrades_hash"})");
  EXPECT_EQ(stored.at("value").as_string(), crypto::sha256_hex(lines));
  ping = call_json("GET", "/status/ping");
  EXPECT_EQ(ping.at("upgrades_dismissed"), json::value(true)) << json::serialize(ping);
  EXPECT_EQ(ping.at("upgrades_available").as_int64(), static_cast<std::int64_t>(everything.size()));

  // A new version in the repository is a new list: both installs are offered it, and the
  // dismissal no longer holds.
  const std::string web_1_0 = read_text(work_ / "repo" / "packages" / "web" / "1.0.yaml");
  write_text(work_ / "repo" / "packages" / "web" / "3.0.yaml",
             read_text(work_ / "repo" / "packages" / "web" / "2.0.yaml") + "# the third version\n");
  commit_repository("web 3.0");
  EXPECT_TRUE(refresh_until([&] { return ours().size() == 2; })) << json::serialize(ours());
  EXPECT_EQ(ours(), json::array({entry("", "1.0", "3.0", false), entry("u2", "2.0", "3.0", false)}));
  ping = call_json("GET", "/status/ping");
  EXPECT_FALSE(ping.as_object().contains("upgrades_dismissed")) << json::serialize(ping);

  // The installed version's definition edited in place: changed, here and in GET /packages.
  write_text(work_ / "repo" / "packages" / "web" / "1.0.yaml", web_1_0 + "# edited in place\n");
  commit_repository("web 1.0 edited");
  EXPECT_TRUE(refresh_until([&] { return ours().at(0).at("changed") == json::value(true); }))
      << json::serialize(ours());
  EXPECT_EQ(ours(), json::array({entry("", "1.0", "3.0", true), entry("u2", "2.0", "3.0", false)}));
  bool listed_changed = false;
  const auto catalog = call_json("GET", "/packages?limit=100&installed_only=true");
  for (const auto& e : catalog.at("entries").as_array()) {
    if (e.at("name") == "web")
      listed_changed = e.as_object().contains("changed") && e.at("changed") == json::value(true);
  }
  EXPECT_TRUE(listed_changed);

  // The repository back as it was: the list is the dismissed one again.
  fs::remove(work_ / "repo" / "packages" / "web" / "3.0.yaml");
  write_text(work_ / "repo" / "packages" / "web" / "1.0.yaml", web_1_0);
  commit_repository("web as before");
  EXPECT_TRUE(refresh_until([&] { return ours().size() == 1; })) << json::serialize(ours());
  EXPECT_EQ(ours(), json::array({entry("", "1.0", "2.0", false)}));
  EXPECT_EQ(call_json("GET", "/status/ping").at("upgrades_dismissed"), json::value(true));

  // Upgraded to the latest, web leaves the list; so would it uninstalled.
  auto upgraded = install("web", R"(,"version":"2.0")");
  ASSERT_EQ(upgraded.status, 200) << upgraded.body;
  EXPECT_EQ(ours(), json::array());
  ASSERT_EQ(uninstall("web", R"(,"purge_volumes":true)").status, 200);
  EXPECT_EQ(ours(), json::array());
  EXPECT_EQ(call_json("GET", "/status/ping").at("upgrades_available").as_int64(),
            static_cast<std::int64_t>(call_json("GET", "/packages/upgrades").as_array().size()));
  ASSERT_EQ(uninstall("web", R"(,"instance":"u2","purge_volumes":true)").status, 200);
  expect_no_trace("web", "2.0");
  expect_no_trace("web-u2", "2.0");
}

// kill -9 at every journaled step, then a restart: the package is either installed and serving,
// or absent with no unit, no fresh volume and no record.
TEST_F(lifecycle_api, a_crash_at_any_install_step_rolls_it_back) {
  for (std::string step :
       {"provisioning_volumes", "applying_templates", "installing_services", "starting", "saving_install"}) {
    SCOPED_TRACE("install:" + step);
    start({"SC_TEST_DIE_AT_STEP=install:" + step});
    auto reply = call("POST", "/packages/install", package("slow"), 30s);
    EXPECT_EQ(server_->stop(0, 10s), 128 + SIGKILL)
        << "the server should have died at the step; the install answered " << reply.status << " " << reply.body << "\n"
        << server_->log();
    start();
    // Recovery rolls the install back (the package is busy until it is done).
    EXPECT_TRUE(server_->wait_for_log("rolled back the install of " + repo_ + "/slow", 90s)) << server_->log();
    EXPECT_TRUE(eventually(10s, [&] {
      return !fs::exists(unit_path("slow", "1.0")) && !fs::exists(installed_tree("slow")) &&
             !listed(repo_ + "/slow@1.0");
    })) << server_->log();
    expect_no_trace("slow", "1.0");
  }
  // Installs again once the crash is behind it.
  ASSERT_EQ(install("slow").status, 200);
  ASSERT_EQ(uninstall("slow", R"(,"purge_volumes":true)").status, 200);
}

TEST_F(lifecycle_api, a_crash_at_any_uninstall_step_completes_it) {
  for (std::string step : {"stopping_services", "cleaning_volumes", "removing_install"}) {
    SCOPED_TRACE("uninstall:" + step);
    start({"SC_TEST_DIE_AT_STEP=uninstall:" + step});
    ASSERT_EQ(install("slow").status, 200);
    int port = port_of("slow");
    (void)call("POST", "/packages/uninstall", package("slow"), 30s);
    EXPECT_EQ(server_->stop(0, 10s), 128 + SIGKILL);
    start();
    EXPECT_TRUE(server_->wait_for_log("uninstalled " + repo_ + "/slow@1.0", 90s)) << server_->log();
    EXPECT_TRUE(eventually(10s, [&] { return !listed(repo_ + "/slow@1.0") && !fs::exists(installed_tree("slow")); }))
        << server_->log();
    expect_no_trace("slow", "1.0");
    EXPECT_FALSE(port_open(port));
    ASSERT_EQ(call("POST", "/packages/purge-uninstalled-volumes", package("slow"), 60s).status, 200);
  }
}

}  // namespace
}  // namespace sc::test
