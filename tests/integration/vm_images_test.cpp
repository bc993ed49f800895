// The VM image cache through the API (behavior-ops.md §9, issue 16), against the real binary, the
// sandbox's btrfs and real qemu-img. A small python3 HTTP server on loopback serves a qcow2 made
// with `qemu-img create`, and the broken answers (cut short, too big, not an image, a backing
// file, a hang, redirects to forbidden addresses). One server admits exactly that test server's
// address and port (--vm-image-allow-address); a second has no allow-list, as in production.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/probes.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace fs = std::filesystem;

// Serves the files of its directory and the broken answers by path. Writes its port to `port`.
constexpr std::string_view image_server_py = R"PY(
import http.server, os, socketserver, sys, time
root, port_file = sys.argv[1], sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def send_file(self, name, length=None, cut=None):
        data = open(os.path.join(root, name), "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(length if length is not None else len(data)))
        self.end_headers()
        self.wfile.write(data[:cut] if cut is not None else data)
        self.wfile.flush()
        self.close_connection = True
    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/truncated.qcow2":
            data = open(os.path.join(root, "image.qcow2"), "rb").read()
            self.send_file("image.qcow2", length=len(data), cut=len(data) // 2)
        elif path == "/hang.qcow2":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"QFI\xfb")
            self.wfile.flush()
            time.sleep(120)
        elif path.startswith("/to/"):
            self.redirect(path[len("/to/"):].replace("_", "/", 3).replace("~", ":"))
        elif path == "/hop/image.qcow2":
            self.redirect("/image.qcow2")
        elif os.path.isfile(os.path.join(root, path.lstrip("/"))) and "/" not in path.lstrip("/"):
            self.send_file(path.lstrip("/"))
        else:
            self.send_error(404)
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
server = Server(("127.0.0.1", 0), Handler)
if len(sys.argv) > 4:  # https: certificate chain and key
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f: f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
)PY";

int run(const std::string& command) {
  return std::system(command.c_str());
}

class image_server {
 public:
  // Plain http, or https with `tls` (certificate chain, key).
  explicit image_server(std::optional<std::pair<fs::path, fs::path>> tls = std::nullopt) : tls_(tls.has_value()) {
    dir_ = fs::temp_directory_path() / ("sc-vm-images-" + std::to_string(::getpid()) + (tls_ ? "-tls" : ""));
    fs::create_directories(dir_);
    write_text(dir_ / "server.py", std::string(image_server_py));
    const std::string d = dir_.string();
    EXPECT_EQ(run("qemu-img create -q -f qcow2 " + d + "/image.qcow2 4M"), 0);
    EXPECT_EQ(run("qemu-img create -q -f qcow2 -b /etc/hostname -F raw " + d + "/backing.qcow2"), 0);
    // A qcow2 header whose cluster size is nonsense: probed as qcow2, then refused by qemu-img.
    EXPECT_EQ(run("printf 'QFI\\373\\000\\000\\000\\003' > " + d + "/bad.qcow2 && head -c 600 /dev/urandom >> " + d +
                  "/bad.qcow2"),
              0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a crashed test
      const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);  // and never holds the test's output pipe
      if (tls) {
        ::execlp("python3", "python3", (d + "/server.py").c_str(), d.c_str(), (d + "/port").c_str(), tls->first.c_str(),
                 tls->second.c_str(), nullptr);
      } else {
        ::execlp("python3", "python3", (d + "/server.py").c_str(), d.c_str(), (d + "/port").c_str(), nullptr);
      }
      ::_exit(127);
    }
    EXPECT_TRUE(eventually(std::chrono::seconds(10), [&] { return fs::exists(dir_ / "port"); }));
    port_ = static_cast<unsigned short>(std::stoi(read_text(dir_ / "port")));
  }
  ~image_server() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  image_server(const image_server&) = delete;
  image_server& operator=(const image_server&) = delete;
  unsigned short port() const noexcept { return port_; }
  std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return (tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_) + path;
  }

 private:
  bool tls_ = false;
  fs::path dir_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

fs::path vm_images_dir() {
  return fs::path(sandbox_env("SC_BTRFS_ROOT")) / "vm-images";
}

// No file of `name` is left in the subvolume: not the image, not its download or conversion.
void expect_nothing_left(const std::string& name) {
  for (const auto& suffix : {"", ".download", ".converting"}) {
    EXPECT_FALSE(fs::exists(vm_images_dir() / (name + suffix))) << name << suffix;
  }
}

// A CA of the test's own and a leaf for the address 127.0.0.1 (no DNS name) that it signed, made with
// the openssl CLI into `dir`: {CA certificate, leaf certificate, leaf key}.
std::tuple<fs::path, fs::path, fs::path> make_test_pki(const fs::path& dir) {
  fs::create_directories(dir);
  const std::string d = "'" + dir.string() + "'";
  EXPECT_EQ(run("cd " + d +
                " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt"
                " -days 2 -subj '/CN=vm image test CA' 2>/dev/null"
                " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr"
                " -subj '/CN=127.0.0.1' 2>/dev/null"
                " && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > leaf.ext"
                " && openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
                " -extfile leaf.ext -out leaf.crt 2>/dev/null"),
            0);
  return {dir / "ca.crt", dir / "leaf.crt", dir / "leaf.key"};
}

class vm_images_api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    images_ = new image_server();
    ASSERT_NE(images_->port(), 0);
    pki_ = fs::temp_directory_path() / ("sc-vm-images-pki-" + std::to_string(::getpid()));
    auto [ca, leaf, key] = make_test_pki(pki_);
    tls_images_ = new image_server(std::make_pair(leaf, key));
    ASSERT_NE(tls_images_->port(), 0);
    // Only the test servers' exact addresses and ports: 127.0.0.2 and other ports stay refused. The
    // test CA is the only one the server trusts (OpenSSL's default verify paths honour SSL_CERT_FILE).
    server_ = new server_process(
        {"--vm-image-allow-address", "127.0.0.1:" + std::to_string(images_->port()), "--vm-image-allow-address",
         "127.0.0.1:" + std::to_string(tls_images_->port()), "--vm-image-download-timeout", "3000"},
        true, {"SSL_CERT_FILE=" + ca.string()});
    ASSERT_TRUE(server_->started());
    token_ = bootstrap_admin(server_->port());
    ASSERT_FALSE(token_.empty());
    guarded_ = new server_process();
    ASSERT_TRUE(guarded_->started());
    guarded_token_ = bootstrap_admin(guarded_->port());
    ASSERT_FALSE(guarded_token_.empty());
  }
  static void TearDownTestSuite() {
    delete guarded_;
    delete server_;
    delete images_;
    delete tls_images_;
    guarded_ = server_ = nullptr;
    images_ = tls_images_ = nullptr;
    std::error_code ignored;
    fs::remove_all(pki_, ignored);
  }

  static http_reply call(const server_process& server, const std::string& token, const std::string& method,
                         const std::string& target, const std::string& body = {},
                         std::map<std::string, std::string> headers = {}) {
    headers["Authorization"] = "Bearer " + token;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return request(server.port(), method, target, body, headers);
  }
  static http_reply upload(const std::string& url, const std::string& name) {
    return call(*server_, token_, "POST", "/vm-images/upload", R"({"url":")" + url + R"(","name":")" + name + R"("})");
  }
  static http_reply upload_guarded(const std::string& url, const std::string& name) {
    return call(*guarded_, guarded_token_, "POST", "/vm-images/upload",
                R"({"url":")" + url + R"(","name":")" + name + R"("})");
  }

  // NOLINTBEGIN(readability-identifier-naming)
  inline static image_server* images_ = nullptr;
  inline static image_server* tls_images_ = nullptr;
  inline static fs::path pki_;
  inline static server_process* server_ = nullptr;
  inline static server_process* guarded_ = nullptr;
  inline static std::string token_;
  inline static std::string guarded_token_;
  // NOLINTEND(readability-identifier-naming)
};

TEST_F(vm_images_api, UploadsConvertsListsAndDeletes) {
  auto uploaded = upload(images_->url("/image.qcow2"), "vmtest-roundtrip.qcow2");
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  EXPECT_EQ(boost::json::parse(uploaded.body).at("name").as_string(), "vmtest-roundtrip.raw");
  const auto stored = vm_images_dir() / "vmtest-roundtrip.raw";
  ASSERT_TRUE(fs::is_regular_file(stored));
  EXPECT_EQ(fs::file_size(stored), 4u * 1024 * 1024);  // raw: the qcow2's virtual size
  EXPECT_FALSE(fs::exists(vm_images_dir() / "vmtest-roundtrip.raw.download"));

  auto listed = call(*server_, token_, "GET", "/vm-images");
  ASSERT_EQ(listed.status, 200) << listed.body;
  bool found = false;
  const auto entries = boost::json::parse(listed.body);
  for (const auto& entry : entries.as_array()) {
    if (entry.at("name").as_string() == "vmtest-roundtrip.raw") {
      found = true;
      EXPECT_EQ(entry.at("size").to_number<std::uint64_t>(), 4u * 1024 * 1024);
    }
  }
  EXPECT_TRUE(found) << listed.body;

  // Exists already: 409, the stored image untouched.
  EXPECT_EQ(upload(images_->url("/image.qcow2"), "vmtest-roundtrip").status, 409);
  EXPECT_TRUE(fs::exists(stored));

  auto removed = call(*server_, token_, "POST", "/vm-images/delete", R"({"name":"../vmtest-roundtrip.raw"})");
  EXPECT_EQ(removed.status, 200) << removed.body;
  expect_nothing_left("vmtest-roundtrip.raw");
  EXPECT_EQ(call(*server_, token_, "POST", "/vm-images/delete", R"({"name":"vmtest-roundtrip.raw"})").status, 404);
}

TEST_F(vm_images_api, DownloadsOverHttpsWithTheChainAndTheNameVerified) {
  auto uploaded = upload(tls_images_->url("/image.qcow2"), "vmtest-https");
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  EXPECT_EQ(fs::file_size(vm_images_dir() / "vmtest-https.raw"), 4u * 1024 * 1024);
  EXPECT_EQ(call(*server_, token_, "POST", "/vm-images/delete", R"({"name":"vmtest-https.raw"})").status, 200);
  // The same server by a name its certificate does not carry: the handshake is refused, and
  // nothing is left behind.
  auto wrong_name = upload(tls_images_->url("/image.qcow2", "localhost"), "vmtest-https-name");
  EXPECT_EQ(wrong_name.status, 502) << wrong_name.body;
  EXPECT_NE(wrong_name.body.find("TLS with localhost failed"), std::string::npos) << wrong_name.body;
  expect_nothing_left("vmtest-https-name.raw");
  // Plain http to the TLS port is not an image either.
  auto plain = upload("http://127.0.0.1:" + std::to_string(tls_images_->port()) + "/image.qcow2", "vmtest-plain");
  EXPECT_NE(plain.status, 200) << plain.body;
  expect_nothing_left("vmtest-plain.raw");
}

TEST_F(vm_images_api, NameDefaultsToTheUrlsFileAndRedirectsAreFollowed) {
  auto uploaded =
      call(*server_, token_, "POST", "/vm-images/upload", R"({"url":")" + images_->url("/hop/image.qcow2") + R"("})");
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  EXPECT_EQ(boost::json::parse(uploaded.body).at("name").as_string(), "image.raw");
  EXPECT_EQ(call(*server_, token_, "POST", "/vm-images/delete", R"({"name":"image.raw"})").status, 200);
  expect_nothing_left("image.raw");
}

TEST_F(vm_images_api, StreamsProgressToEventStreamClients) {
  auto reply = call(*server_, token_, "POST", "/vm-images/upload",
                    R"({"url":")" + images_->url("/image.qcow2") + R"(","name":"vmtest-sse"})",
                    {{"Accept", "text/event-stream"}});
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find(R"(data: {"step":"downloading"})"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find(R"(data: {"step":"converting"})"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find(R"(data: {"done":true})"), std::string::npos) << reply.body;
  EXPECT_TRUE(fs::exists(vm_images_dir() / "vmtest-sse.raw"));
  EXPECT_EQ(call(*server_, token_, "POST", "/vm-images/delete", R"({"name":"vmtest-sse.raw"})").status, 200);
}

TEST_F(vm_images_api, FailuresLeaveNoFile) {
  struct failing {
    const char* path;
    const char* name;
    int status;
  };
  for (const auto& f : {failing{"/truncated.qcow2", "vmtest-truncated", 502}, failing{"/bad.qcow2", "vmtest-bad", 422},
                        failing{"/backing.qcow2", "vmtest-backing", 422},
                        failing{"/missing.qcow2", "vmtest-missing", 502}, failing{"/hang.qcow2", "vmtest-hang", 504}}) {
    auto reply = upload(images_->url(f.path), f.name);
    EXPECT_EQ(reply.status, f.status) << f.path << ": " << reply.body;
    expect_nothing_left(std::string(f.name) + ".raw");
  }
}

TEST_F(vm_images_api, OversizedByTheSettingLeavesNoFile) {
  ASSERT_EQ(call(*server_, token_, "POST", "/settings/set", R"({"key":"vm_image_max_size","value":"4096"})").status,
            200);
  auto reply = upload(images_->url("/image.qcow2"), "vmtest-oversized");
  EXPECT_EQ(reply.status, 413) << reply.body;
  expect_nothing_left("vmtest-oversized.raw");
  ASSERT_EQ(call(*server_, token_, "POST", "/settings/set", R"({"key":"vm_image_max_size","value":"64GiB"})").status,
            200);
}

TEST_F(vm_images_api, RedirectsToForbiddenAddressesAreRefused) {
  const std::string port = std::to_string(images_->port());
  // The allow-list admits 127.0.0.1 on the test server's port only: another port is refused, even
  // by a name (localhost) that resolves to the admitted address.
  const std::string other_port = std::to_string(images_->port() == 65535 ? 1 : images_->port() + 1);
  // /to/<scheme>~__<host>~<port>_<path>: the test server answers 302 to that URL.
  for (const std::string& target :
       {"http~__127.0.0.2~" + port + "_image.qcow2", std::string("http~__169.254.169.254_latest/meta-data/"),
        std::string("http~__2130706433_image.qcow2"), "http~__[::1]~" + port + "_image.qcow2",
        "http~__localhost~" + other_port + "_image.qcow2", "http~__127.0.0.1~" + other_port + "_image.qcow2"}) {
    auto reply = upload(images_->url("/to/" + target), "vmtest-redirect");
    EXPECT_EQ(reply.status, 422) << target << ": " << reply.body;
    expect_nothing_left("vmtest-redirect.raw");
  }
}

TEST_F(vm_images_api, TheSsrfCorpusIsRefusedWithoutTheAllowList) {
  const std::string port = std::to_string(images_->port());
  for (const std::string& url :
       {"http://127.0.0.1:" + port + "/image.qcow2", "http://[::1]:" + port + "/image.qcow2",
        std::string("http://10.0.0.1/image.qcow2"), std::string("http://169.254.169.254/latest/meta-data/"),
        std::string("http://100.64.0.1/image.qcow2"), "http://[::ffff:127.0.0.1]:" + port + "/image.qcow2",
        "http://2130706433:" + port + "/image.qcow2", "http://0177.0.0.1:" + port + "/image.qcow2",
        "http://0x7f.1:" + port + "/image.qcow2", "http://localhost:" + port + "/image.qcow2",
        // The allowed server's own redirect, on a server that does not allow it either.
        images_->url("/hop/image.qcow2"), std::string("file:///etc/passwd"), std::string("ftp://example.org/x")}) {
    auto reply = upload_guarded(url, "vmtest-ssrf");
    EXPECT_EQ(reply.status, 422) << url << ": " << reply.body;
    expect_nothing_left("vmtest-ssrf.raw");
  }
}

// Shutdown cancels a download in flight (after the grace period) and its partial file goes with it.
TEST_F(vm_images_api, ShutdownCancelsADownloadAndLeavesNoFile) {
  server_process stopping(
      {"--vm-image-allow-address", "127.0.0.1:" + std::to_string(images_->port()), "--shutdown-grace", "500"});
  ASSERT_TRUE(stopping.started());
  const std::string token = bootstrap_admin(stopping.port());
  ASSERT_FALSE(token.empty());
  auto connection = raw_connection::tcp(stopping.port());
  const std::string body = R"({"url":")" + images_->url("/hang.qcow2") + R"(","name":"vmtest-shutdown"})";
  ASSERT_TRUE(
      connection.send(format_request("POST", "/vm-images/upload", body,
                                     {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}})));
  const auto partial = vm_images_dir() / "vmtest-shutdown.raw.download";
  ASSERT_TRUE(eventually(std::chrono::seconds(10), [&] { return fs::exists(partial); }));
  EXPECT_EQ(stopping.stop(SIGTERM, std::chrono::seconds(10)), 0);
  expect_nothing_left("vmtest-shutdown.raw");
}

TEST_F(vm_images_api, NamesAreCheckedAndAdminOnly) {
  EXPECT_EQ(upload(images_->url("/image.qcow2"), ".hidden").status, 422);
  EXPECT_EQ(upload(images_->url("/image.qcow2"), "a:b").status, 422);
  EXPECT_EQ(call(*server_, token_, "POST", "/vm-images/delete", R"({"name":".."})").status, 422);
  EXPECT_EQ(request(server_->port(), "GET", "/vm-images").status, 401);
  EXPECT_EQ(request(server_->port(), "POST", "/vm-images/upload", R"({"url":"http://example.org/a"})",
                    {{"Content-Type", "application/json"}})
                .status,
            401);
}

}  // namespace
}  // namespace sc::test
