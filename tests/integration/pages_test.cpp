// Static pages (issue 16) against the real binary: the ingress's Caddy (town-os-system--ingress in
// the sandbox's user manager, on unprivileged loopback ports) serves each page at its domain over
// TLS with a leaf from the box's CA. Pages of each source type are made here: an archive uploaded
// as the storage upload is, a git repository over file://, and a local image imported with podman.
// Hostile content (zip-slip, escaping links in archives, repositories and images) never serves
// anything outside the page.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
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
const std::string boundary = "pages-boundary-Qz81";

class pages_api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Caddy's unit lives in the sandbox's one user manager: take turns with the ingress tests.
    lock_fd_ = take_sandbox_turn();
    ASSERT_GE(lock_fd_, 0);
    suffix_ = std::to_string(::getpid());
    work_ = make_temp_dir("sc-pages");
    unit_dir_ = sandbox_env("SC_UNIT_DIR");
    btrfs_ = sandbox_env("SC_BTRFS_ROOT");
    https_port_ = unused_port(SOCK_STREAM);
    http_port_ = unused_port(SOCK_STREAM);
    ASSERT_GT(https_port_, 0);
    ASSERT_GT(http_port_, 0);
    ASSERT_NE(https_port_, http_port_);
    server_ =
        new server_process({"--state-dir", (work_ / "state").string()}, true,
                           {"SC_SYSTEM_SERVICES=ingress", "SC_INGRESS_HTTPS=127.0.0.1:" + std::to_string(https_port_),
                            "SC_INGRESS_HTTP=127.0.0.1:" + std::to_string(http_port_), "SC_DEFAULT_REPOSITORY="});
    ASSERT_TRUE(server_->started()) << server_->log();
    auto ca = call("GET", "/tls/ca.crt");
    ASSERT_EQ(ca.status, 200) << ca.body;
    ca_file_ = (work_ / "ca.crt").string();
    write_text(ca_file_, ca.body);
    // The controller writes, enables and starts the unit at start; Caddy then listens.
    ASSERT_TRUE(eventually(30s, [] {
      return shell("curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:" +
                   std::to_string(http_port_) + "/") == "308";
    })) << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    shell(std::string("systemctl --user stop ") + ingress_unit + "; systemctl --user disable " + ingress_unit +
          "; rm -f " + unit_dir_ + "/" + ingress_unit +
          "; systemctl --user daemon-reload; systemctl --user reset-failed");
    shell("podman rmi -f localhost/sc-pages-test:" + suffix_ + " >/dev/null 2>&1");
    // Pages the tests left (a failed assertion) go with their subvolumes.
    shell("for d in '" + btrfs_ + "'/pages/*" + suffix_ +
          "*; do [ -d \"$d\" ] || continue; for g in \"$d\"/site-*; do " +
          "btrfs subvolume delete \"$g\" >/dev/null 2>&1; done; btrfs subvolume delete \"$d\" >/dev/null 2>&1; done");
    std::error_code ec;
    fs::remove_all(work_, ec);
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
  }

  static http_reply call(const std::string& method, const std::string& target, const std::string& body = {},
                         const std::map<std::string, std::string>& headers = {}) {
    return try_request_unix(server_->socket_path(), method, target, body, 60s, headers);
  }
  static http_reply upload(const std::string& name, const std::string& archive) {
    std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" + name + "\r\n--" +
                       boundary +
                       "\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"site.tar.gz\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n" +
                       archive + "\r\n--" + boundary + "--\r\n";
    return call("POST", "/pages/upload", body, {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
  }
  // An archive made by Python's tarfile from (path, kind, data) rows: kind "file", or "link" (data
  // is the target): hostile members are written as given.
  static std::string make_tar(const std::string& rows) {
    const fs::path out = work_ / "made.tar.gz";
    const fs::path script = work_ / "make_tar.py";
    write_text(script, "import io, sys, tarfile\nrows = " + rows +
                           "\nwith tarfile.open(sys.argv[1], 'w:gz') as t:\n"
                           "    for path, kind, data in rows:\n"
                           "        info = tarfile.TarInfo(path)\n"
                           "        if kind == 'link':\n"
                           "            info.type = tarfile.SYMTYPE\n"
                           "            info.linkname = data\n"
                           "            t.addfile(info)\n"
                           "        else:\n"
                           "            info.size = len(data)\n"
                           "            t.addfile(info, io.BytesIO(data.encode()))\n");
    EXPECT_EQ(shell("python3 '" + script.string() + "' '" + out.string() + "' 2>&1"), "");
    return read_text(out);
  }
  // curl with the name pinned to loopback (no resolver involved) and the box's CA as the only trust.
  static std::string fetch(const std::string& host, const std::string& path = "/", const std::string& extra = {}) {
    const std::string port = std::to_string(https_port_);
    return shell("curl -s --max-time 5 --resolve '" + host + ":" + port + ":127.0.0.1' --cacert '" + ca_file_ + "' " +
                 extra + " 'https://" + host + ":" + port + path + "' 2>&1");
  }
  static std::string status_of(const std::string& host, const std::string& path = "/") {
    return fetch(host, path, "-o /dev/null -w '%{http_code}'");
  }
  static json::object page_of(const std::string& name) {
    auto list = call("GET", "/pages?limit=100");
    if (list.status != 200) return {};
    const json::value parsed = json::parse(list.body);
    for (const auto& e : parsed.at("entries").as_array()) {
      if (e.at("name").as_string() == name) return e.as_object();
    }
    return {};
  }
  static bool becomes(const std::string& name, const std::string& status) {
    return eventually(60s, [&] {
      auto p = page_of(name);
      return !p.empty() && p.at("status").as_string() == status;
    });
  }
  // NOLINTBEGIN(readability-identifier-naming)
  inline static server_process* server_ = nullptr;
  inline static int lock_fd_ = -1;
  inline static int https_port_ = 0;
  inline static int http_port_ = 0;
  inline static std::string suffix_;
  inline static std::string unit_dir_;
  inline static std::string btrfs_;
  inline static std::string ca_file_;
  inline static fs::path work_;
  // NOLINTEND(readability-identifier-naming)
};

TEST_F(pages_api, archive_page_is_served_replaced_refuses_hostile_archives_and_is_removed) {
  const std::string name = "arch" + suffix_;
  const std::string domain = name + ".example.org";
  auto created = call("POST", "/pages/create", R"({"name":")" + name + R"(","domain":")" + domain + "\"}");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(json::parse(created.body).at("status").as_string(), "pending");
  EXPECT_EQ(call("POST", "/pages/create", R"({"name":")" + name + "\"}").status, 409);
  EXPECT_TRUE(fs::is_directory(btrfs_ + "/pages/" + domain));

  auto first = upload(name, make_tar(R"([("index.html", "file", "version one\n"), ("css/a.css", "file", "x")])"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body).at("status").as_string(), "active");
  std::string body;
  EXPECT_TRUE(eventually(15s, [&] { return (body = fetch(domain)) == "version one\n"; })) << body << server_->log();

  // A new upload replaces the content whole.
  auto second = upload(name, make_tar(R"([("index.html", "file", "version two\n")])"));
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(fetch(domain), "version two\n");
  EXPECT_EQ(status_of(domain, "/css/a.css"), "404");

  // Hostile archives are refused as storage refuses them, and the page keeps serving.
  EXPECT_EQ(upload(name, make_tar(R"([("../../evil.txt", "file", "x")])")).status, 422);
  EXPECT_EQ(upload(name, make_tar(R"([("abs", "link", "/etc/hostname")])")).status, 422);
  EXPECT_EQ(upload(name, make_tar(R"([("l", "link", "../../../etc")])")).status, 422);
  EXPECT_EQ(upload(name, "not an archive at all").status, 400);
  // Links that each stay inside but climb out together are swept before the content is served.
  auto chained = upload(name, make_tar(R"([("d/x", "file", "x"), ("d/up", "link", ".."), )"
                                       R"(("d/climb", "link", "up/../.."), ("index.html", "file", "three\n")])"));
  // Refused by the extraction or swept before serving: either way no such link is left on disk.
  EXPECT_TRUE(chained.status == 200 || chained.status == 422) << chained.body;
  EXPECT_EQ(shell("find '" + btrfs_ + "/pages/" + domain + "' -name climb -o -name up"), "");
  EXPECT_NE(status_of(domain, "/d/climb/etc/hostname"), "200");
  EXPECT_FALSE(fs::exists(btrfs_ + "/evil.txt"));
  EXPECT_EQ(upload("nosuch" + suffix_, make_tar(R"([("index.html", "file", "x")])")).status, 404);
  EXPECT_EQ(call("POST", "/pages/rebuild", R"({"name":")" + name + "\"}").status, 400);

  auto removed = call("POST", "/pages/remove", R"({"name":")" + name + "\"}");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_NE(status_of(domain), "200");
  EXPECT_NE(fetch(domain), "three\n");
  EXPECT_FALSE(fs::exists(btrfs_ + "/pages/" + domain));
  EXPECT_FALSE(fs::exists(work_ / "state" / "pages-webroot" / name));
  EXPECT_EQ(call("POST", "/pages/remove", R"({"name":")" + name + "\"}").status, 404);
}

TEST_F(pages_api, git_page_is_cloned_rebuilt_moved_to_another_domain_and_never_serves_a_link_target) {
  const fs::path repo = work_ / "site-repo";
  write_text(repo / "index.html", "from git\n");
  ASSERT_EQ(::symlink("/etc/hostname", (repo / "leak").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../etc/hostname", (repo / "climb").c_str()), 0);
  ASSERT_TRUE(commit_all(repo, "one"));

  const std::string name = "git" + suffix_;
  const std::string domain = name + ".home";
  auto created = call("POST", "/pages/create",
                      R"({"name":")" + name + R"(","source_type":"git","repo_url":"file://)" + repo.string() +
                          R"(","domain":")" + domain + "\"}");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(json::parse(created.body).at("status").as_string(), "pending");
  ASSERT_TRUE(becomes(name, "active")) << json::serialize(page_of(name)) << server_->log();
  std::string body;
  EXPECT_TRUE(eventually(15s, [&] { return (body = fetch(domain)) == "from git\n"; })) << body;
  const std::string hostname = read_text("/etc/hostname");
  EXPECT_NE(fetch(domain, "/leak"), hostname);
  EXPECT_NE(fetch(domain, "/climb"), hostname);
  // The repository stays in the controller's state, not in the served tree.
  EXPECT_EQ(status_of(domain, "/.git/config"), "404");
  EXPECT_TRUE(fs::is_symlink(work_ / "state" / "pages-webroot" / name));
  // A domain under the DNS TLD (home) gets its name in the local zone, as packages do.
  const fs::path zone = work_ / "state" / "dns" / "zones" / "local.zone";
  EXPECT_NE(read_text(zone).find(name + " "), std::string::npos) << read_text(zone);

  // Rebuild pulls a new commit.
  write_text(repo / "index.html", "second commit\n");
  ASSERT_TRUE(commit_all(repo, "two"));
  auto rebuilt = call("POST", "/pages/rebuild", R"({"name":")" + name + "\"}");
  ASSERT_EQ(rebuilt.status, 200) << rebuilt.body;
  EXPECT_TRUE(eventually(60s, [&] { return (body = fetch(domain)) == "second commit\n"; }))
      << body << json::serialize(page_of(name));
  // Served as soon as it is pulled; the page is free once its status says so.
  ASSERT_TRUE(becomes(name, "active")) << json::serialize(page_of(name));

  // The domain moves: the new host serves, the old one does not.
  const std::string moved = "moved-" + name + ".example.org";
  auto updated = call("POST", "/pages/update", R"({"name":")" + name + R"(","domain":")" + moved + "\"}");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_TRUE(eventually(15s, [&] { return (body = fetch(moved)) == "second commit\n"; })) << body;
  EXPECT_NE(status_of(domain), "200");
  EXPECT_TRUE(fs::is_directory(btrfs_ + "/pages/" + moved));
  EXPECT_FALSE(fs::exists(btrfs_ + "/pages/" + domain));
  EXPECT_EQ(read_text(zone).find(name + " "), std::string::npos) << "the name left the zone with the domain";

  // A repository that is not there ends in `error` with the reason, and serves what it served.
  auto broken = call("POST", "/pages/update",
                     R"({"name":")" + name + R"(","repo_url":"file://)" + (work_ / "missing").string() + "\"}");
  ASSERT_EQ(broken.status, 200) << broken.body;
  ASSERT_TRUE(becomes(name, "error")) << json::serialize(page_of(name));
  EXPECT_FALSE(page_of(name).at("error").as_string().empty());
  EXPECT_EQ(fetch(moved), "second commit\n");

  ASSERT_EQ(call("POST", "/pages/remove", R"({"name":")" + name + "\"}").status, 200);
  EXPECT_NE(status_of(moved), "200");
  EXPECT_FALSE(fs::exists(btrfs_ + "/pages/" + moved));
}

TEST_F(pages_api, image_page_copies_a_directory_out_of_a_local_image_without_escaping_links) {
  const fs::path root = work_ / "image-root";
  write_text(root / "www" / "index.html", "from an image\n");
  write_text(root / "www" / "sub" / "page.html", "nested\n");
  ASSERT_EQ(::symlink("/etc/hostname", (root / "www" / "abs").c_str()), 0);
  ASSERT_EQ(::symlink("../etc/hostname", (root / "www" / "up").c_str()), 0);
  ASSERT_EQ(::symlink("sub/page.html", (root / "www" / "same").c_str()), 0);
  write_text(root / "etc" / "hostname", "image host\n");
  // A device node and a FIFO in the image: never served (reading them would read the host's device
  // or hang the server).
  ASSERT_EQ(shell("mknod '" + (root / "www" / "zero").string() + "' c 1 5 && mkfifo '" +
                  (root / "www" / "fifo").string() + "'; echo $?"),
            "0\n");
  const std::string image = "localhost/sc-pages-test:" + suffix_;
  ASSERT_EQ(shell("tar -C '" + root.string() + "' -c . | podman import -q - " + image + " >/dev/null 2>&1; echo $?"),
            "0\n");

  const std::string name = "img" + suffix_;
  const std::string domain = name + ".home";
  // Named as the reference names it ("container image"); the page shows it as `image`.
  auto created = call("POST", "/pages/create",
                      R"({"name":")" + name + R"(","source_type":"container_image","container_image":")" + image +
                          R"(","image_directory":"/www","domain":")" + domain + "\"}");
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_TRUE(becomes(name, "active")) << json::serialize(page_of(name)) << server_->log();
  EXPECT_EQ(page_of(name).at("image").as_string(), image);
  std::string body;
  EXPECT_TRUE(eventually(15s, [&] { return (body = fetch(domain)) == "from an image\n"; })) << body;
  EXPECT_EQ(fetch(domain, "/sub/page.html"), "nested\n");
  EXPECT_EQ(fetch(domain, "/same"), "nested\n");  // a link that stays inside is kept
  EXPECT_EQ(status_of(domain, "/abs"), "404");
  EXPECT_EQ(status_of(domain, "/up"), "404");
  EXPECT_EQ(status_of(domain, "/zero"), "404");
  EXPECT_EQ(status_of(domain, "/fifo"), "404");
  EXPECT_EQ(shell("find '" + btrfs_ + "/pages/" + domain + "' ! -type f ! -type d ! -type l"), "");
  EXPECT_EQ(shell("podman ps -a --format '{{.Image}}' | grep -c sc-pages-test"), "0\n") << "podman rm ran";

  // Rebuild re-extracts.
  ASSERT_EQ(call("POST", "/pages/rebuild", R"({"name":")" + name + "\"}").status, 200);
  ASSERT_TRUE(becomes(name, "active"));
  EXPECT_EQ(fetch(domain), "from an image\n");

  // A directory the image lacks is an error that names it.
  auto missing = call("POST", "/pages/update", R"({"name":")" + name + R"(","image_directory":"/nowhere"})");
  ASSERT_EQ(missing.status, 200) << missing.body;
  ASSERT_TRUE(becomes(name, "error")) << json::serialize(page_of(name));
  ASSERT_EQ(call("POST", "/pages/remove", R"({"name":")" + name + "\"}").status, 200);
  EXPECT_FALSE(fs::exists(btrfs_ + "/pages/" + domain));
}

TEST_F(pages_api, townctl_creates_uploads_a_directory_to_and_removes_a_page) {
  const std::string name = "cli" + suffix_;
  const std::string domain = name + ".example.net";
  const std::string townctl = std::string("'") + SC_TOWNCTL_PATH + "' --socket '" + server_->socket_path() + "' ";
  EXPECT_EQ(shell(townctl + "pages create " + name + " --domain " + domain + " >/dev/null 2>&1; echo $?"), "0\n");
  const fs::path site = work_ / "cli-site";
  write_text(site / "index.html", "uploaded by townctl\n");
  EXPECT_EQ(shell(townctl + "pages upload " + name + " '" + site.string() + "' >/dev/null 2>&1; echo $?"), "0\n");
  std::string body;
  EXPECT_TRUE(eventually(15s, [&] { return (body = fetch(domain)) == "uploaded by townctl\n"; })) << body;
  auto listed = shell(townctl + "pages list --json 2>&1");
  EXPECT_NE(listed.find("\"" + domain + "\""), std::string::npos) << listed;
  // An archive page is not rebuilt: a refusal is exit code 1.
  EXPECT_EQ(shell(townctl + "pages rebuild " + name + " >/dev/null 2>&1; echo $?"), "1\n");
  EXPECT_EQ(shell(townctl + "pages remove " + name + " >/dev/null 2>&1; echo $?"), "0\n");
  EXPECT_NE(status_of(domain), "200");
}

TEST_F(pages_api, bad_input_is_a_4xx_naming_the_field) {
  struct bad_case {
    std::string body;
    int status;
    std::string field;
  };
  const std::vector<bad_case> cases = {
      {"", 400, ""},
      {"{", 400, ""},
      {R"({"domain":"x.home"})", 400, "name"},
      {R"({"name":"Bad_Name"})", 422, "name"},
      {R"({"name":"ok1","domain":"a..b"})", 422, "domain"},
      {R"({"name":"ok1","domain":"10.0.0.1"})", 422, "domain"},
      {R"({"name":"ok1","source_type":"ftp"})", 422, "source_type"},
      {R"({"name":"ok1","source_type":"git"})", 422, "repo_url"},
      {R"({"name":"ok1","source_type":"git","repo_url":"ext::sh -c id"})", 422, "repo_url"},
      {R"({"name":"ok1","source_type":"git","repo_url":"https://u:secret@example.com/x"})", 422, "repo_url"},
      {R"({"name":"ok1","source_type":"git","repo_url":"https://example.com/x","branch":"--upload-pack=x"})", 422,
       "branch"},
      {R"({"name":"ok1","source_type":"container_image","image":"-x","image_directory":"/www"})", 422, "image"},
      {R"({"name":"ok1","source_type":"container_image","image":"busybox","image_directory":"/a/../etc"})", 422,
       "image_directory"},
      {R"({"name":"ok1","source_type":"container_image","image":"busybox","image_directory":"www"})", 422,
       "image_directory"},
      {R"({"name":"ok1","domain":7})", 422, "domain"},
  };
  for (const auto& c : cases) {
    auto reply = call("POST", "/pages/create", c.body);
    EXPECT_EQ(reply.status, c.status) << c.body << " -> " << reply.body;
    EXPECT_EQ(reply.header("content-type"), "application/problem+json") << c.body;
    if (!c.field.empty()) {
      EXPECT_NE(reply.body.find("\"" + c.field + "\""), std::string::npos) << reply.body;
    }
  }
  EXPECT_EQ(call("POST", "/pages/update", R"({"name":"nosuch"})").status, 404);
  EXPECT_EQ(call("POST", "/pages/rebuild", R"({"name":"nosuch"})").status, 404);
  EXPECT_EQ(call("POST", "/pages/upload", "x", {{"Content-Type", "text/plain"}}).status / 100, 4);
  // A git page takes no upload.
  const std::string name = "gitup" + suffix_;
  ASSERT_EQ(call("POST", "/pages/create",
                 R"({"name":")" + name + R"(","source_type":"git","repo_url":"file:///nonexistent/repo"})")
                .status,
            200);
  EXPECT_EQ(upload(name, make_tar(R"([("index.html", "file", "x")])")).status, 400);
  EXPECT_TRUE(becomes(name, "error"));
  EXPECT_EQ(call("POST", "/pages/update", R"({"name":")" + name + R"(","domain":"-bad"})").status, 422);
  ASSERT_EQ(call("POST", "/pages/remove", R"({"name":")" + name + "\"}").status, 200);
}

TEST_F(pages_api, a_regular_account_lists_pages_but_cannot_change_them) {
  // The first account is always an administrator: that one first, then the regular account.
  ASSERT_FALSE(bootstrap_admin(server_->port()).empty());
  // Root on the socket is the administrator; a regular account logs in over TCP.
  auto made = call("POST", "/account/create",
                   R"({"username":"reader)" + suffix_ +
                       R"(","password":"correct-horse-battery","email":"r@example.com","phone":"1","real_name":"R"})");
  ASSERT_EQ(made.status, 200) << made.body;
  auto login = request(server_->port(), "POST", "/account/authenticate",
                       R"({"username":"reader)" + suffix_ + R"(","password":"correct-horse-battery"})");
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string token = std::string(json::parse(login.body).at("token").as_string());
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer " + token}};
  EXPECT_EQ(request(server_->port(), "GET", "/pages", {}, auth).status, 200);
  EXPECT_EQ(request(server_->port(), "GET", "/pages").status, 401);
  EXPECT_EQ(request(server_->port(), "POST", "/pages/create", R"({"name":"x"})", auth).status, 403);
  EXPECT_EQ(request(server_->port(), "POST", "/pages/remove", R"({"name":"x"})", auth).status, 403);
  EXPECT_EQ(request(server_->port(), "POST", "/pages/rebuild", R"({"name":"x"})", auth).status, 403);
}

// A stop while a page provisions: the clone is cancelled (its child killed), the server exits at
// once and cleanly, the page stays pending, and the next start provisions it again. The remote is a
// git:// listener that accepts and never answers, so the clone would otherwise wait for git's own
// timeout (5 minutes).
TEST(pages_lifetime, a_stop_cancels_provisioning_and_the_next_start_resumes_it) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string url = "git://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/site";

  auto first = std::make_unique<server_process>();
  ASSERT_TRUE(first->started()) << first->log();
  const std::string name = "stall" + std::to_string(::getpid());
  auto created = try_request_unix(first->socket_path(), "POST", "/pages/create",
                                  R"({"name":")" + name + R"(","source_type":"git","repo_url":")" + url + "\"}");
  ASSERT_EQ(created.status, 200) << created.body;
  // The clone has started: git is connected to the listener.
  ASSERT_TRUE(eventually(15s, [&] { return shell("pgrep -f '[c]lone.*" + url + "' >/dev/null; echo $?") == "0\n"; }))
      << first->log();
  EXPECT_EQ(try_request_unix(first->socket_path(), "POST", "/pages/remove", R"({"name":")" + name + "\"}").status, 409)
      << "a page is not removed under its provisioning";
  auto started_stop = std::chrono::steady_clock::now();
  EXPECT_EQ(first->stop(SIGTERM, 20s), 0) << first->log();
  EXPECT_LT(std::chrono::steady_clock::now() - started_stop, 15s);
  EXPECT_EQ(shell("pgrep -f '[c]lone.*" + url + "' >/dev/null; echo $?"), "1\n") << "the clone was killed";

  auto second = server_process::restart_of(*first);
  ASSERT_TRUE(second->started()) << second->log();
  auto list = try_request_unix(second->socket_path(), "GET", "/pages");
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("\"status\":\"pending\""), std::string::npos) << list.body;
  EXPECT_TRUE(second->wait_for_log("page " + name + ": provisioning again", 15s)) << second->log();
  EXPECT_EQ(second->stop(SIGTERM, 20s), 0) << second->log();
  ::close(listener);
  // What the two servers left: the page's subvolume (the server that removes it is gone).
  const std::string btrfs = sandbox_env("SC_BTRFS_ROOT");
  shell("for g in '" + btrfs + "/pages/" + name + "'/site-*; do btrfs subvolume delete \"$g\" >/dev/null 2>&1; done; " +
        "btrfs subvolume delete '" + btrfs + "/pages/" + name + "' >/dev/null 2>&1");
  std::error_code ec;
  fs::remove_all(first->state_dir(), ec);
}

}  // namespace
}  // namespace sc::test
