// Issue 10 §1 and §4 against the real binary and the sandbox btrfs: volume contents are hostile.
// A corpus of symlinks planted inside volumes (to <btrfs root>/installed, to /etc, to a sentinel
// directory outside the root; absolute and relative; in the middle and at the end of a path) is
// tried through every endpoint that takes a name or a path, then again while a thread swaps a
// directory and a symlink in a loop. Every attempt is a problem+json 4xx, and the sentinels
// outside the volume are neither touched nor read. Long and odd names never get a 5xx.
// Volumes are user/t10-<pid>-<test>; the victim lives at installed/t10v-<pid>-<test>.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/admin_server_suite.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

const std::string boundary = "t10-boundary-Qm3e";

// A one-member tar (libarchive), the upload's payload.
std::string one_file_tar(const std::string& path, const std::string& data) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* sink, const void* bytes, std::size_t size) -> la_ssize_t {
        static_cast<std::string*>(sink)->append(static_cast<const char*>(bytes), size);
        return static_cast<la_ssize_t>(size);
      },
      nullptr);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string form_body(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& archive) {
  std::string body;
  for (const auto& [name, value] : fields) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  }
  body += "--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"a.tar\"\r\nContent-Type: "
          "application/octet-stream\r\n\r\n" +
          archive + "\r\n--" + boundary + "--\r\n";
  return body;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string quoted(const std::string& text) {
  return json::serialize(json::string(text));
}

class storage_paths : public admin_server_suite<storage_paths> {
 protected:
  void SetUp() override {
    root_ = sandbox_env("SC_BTRFS_ROOT");
    ASSERT_FALSE(root_.empty());
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    name_ = "t10-" + std::to_string(::getpid()) + "-" + test;
    victim_repo_ = "t10v-" + std::to_string(::getpid()) + "-" + test;
    volume_ = root_ + "/user/" + name_;
    outside_ = make_temp_dir("t10-outside");
    std::ofstream(outside_ + "/secret") << "OUTSIDE-SENTINEL-" << ::getpid();

    ASSERT_EQ(post("/storage/create", R"({"name":")" + name_ + R"("})").status, 200);
    // The victim: a package volume (installed/<repo>/pkg/1.0/data) holding a sentinel file.
    ASSERT_EQ(shell("mkdir -p " + root_ + "/installed/" + victim_repo_ + "/pkg/1.0 && btrfs subvolume create " +
                    victim() + " >/dev/null && echo INSIDE-SENTINEL > " + victim() + "/sentinel && echo ok"),
              "ok\n");
    // The corpus, planted as a container or a share would.
    ASSERT_EQ(shell("cd " + volume_ + " && mkdir -p real/dir && echo data > real/file && ln -s " + root_ +
                    "/installed abs && ln -s ../../installed rel && ln -s /etc etc && ln -s " + outside_ +
                    " out && ln -s " + outside_ + "/secret secretlink && ln -s real/dir inner && ln -s " + outside_ +
                    " real/dir/deep && echo ok"),
              "ok\n");
    // Within installed/ too: a link where remove-package-volume looks.
    ASSERT_EQ(
        shell("ln -s " + root_ + "/user " + root_ + "/installed/" + victim_repo_ + "/link && ln -s " + root_ +
              "/installed/" + victim_repo_ + "/pkg " + root_ + "/installed/" + victim_repo_ + "/pkglink && echo ok"),
        "ok\n");
  }
  void TearDown() override {
    shell("btrfs subvolume delete " + victim() + " >/dev/null 2>&1; rm -rf " + root_ + "/installed/" + victim_repo_ +
          "; btrfs subvolume delete " + volume_ + " >/dev/null 2>&1; rm -rf " + outside_);
  }

  std::string victim() const { return root_ + "/installed/" + victim_repo_ + "/pkg/1.0/data"; }

  http_reply post(const std::string& target, const std::string& body, std::map<std::string, std::string> headers = {}) {
    headers.emplace("Authorization", "Bearer " + token_);
    return request(server_->port(), "POST", target, body, headers);
  }
  http_reply upload(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& archive) {
    return post("/storage/upload-archive", form_body(fields, archive),
                {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
  }

  // A refusal: 4xx, problem+json, nothing of the sentinels in the body.
  void expect_refused(const http_reply& reply, const std::string& what) {
    EXPECT_GE(reply.status, 400) << what << ": " << reply.body;
    EXPECT_LT(reply.status, 500) << what << ": " << reply.body;
    EXPECT_EQ(reply.header("content-type"), "application/problem+json") << what;
    EXPECT_EQ(reply.body.find("SENTINEL"), std::string::npos) << what;
  }
  void expect_sentinels_intact() {
    EXPECT_EQ(read_file(victim() + "/sentinel"), "INSIDE-SENTINEL\n");
    EXPECT_EQ(read_file(outside_ + "/secret"), "OUTSIDE-SENTINEL-" + std::to_string(::getpid()));
    EXPECT_EQ(std::distance(fs::directory_iterator(outside_), fs::directory_iterator{}), 1);
    EXPECT_FALSE(fs::exists("/etc/t10-planted"));
  }

  // Every endpoint that takes a name or a path, each through the corpus. Returns the attempts.
  int try_every_endpoint() {
    int attempts = 0;
    const std::string repo_path = "installed/" + victim_repo_;
    const std::vector<std::string> names = {
        name_ + "/abs/" + victim_repo_ + "/pkg/1.0/data",
        name_ + "/rel/" + victim_repo_ + "/pkg/1.0/data",
        name_ + "/abs",
        name_ + "/etc",
        name_ + "/out",
        name_ + "/inner",
        name_ + "/real/dir/deep",
    };
    for (const auto& name : names) {
      expect_refused(post("/storage/remove", R"({"name":")" + name + R"("})"), "remove " + name);
      expect_refused(post("/storage/modify", R"({"name":")" + name + R"(","filesystem":{"quota":1048576}})"),
                     "modify " + name);
      expect_refused(
          post("/storage/modify", R"({"name":")" + name + R"(","filesystem":{"name":")" + name_ + R"(-x"}})"),
          "rename from " + name);
      expect_refused(
          post("/storage/modify", R"({"name":")" + name_ + R"(","filesystem":{"name":")" + name + R"(/moved"}})"),
          "rename into " + name);
      expect_refused(upload({{"subvolume", name}}, one_file_tar("t10-planted", "x")), "upload subvolume " + name);
      expect_refused(post("/storage/download-archive", R"({"subvolume":")" + name + R"("})"),
                     "download subvolume " + name);
      attempts += 6;
    }
    for (const std::string& subpath : std::vector<std::string>{"abs", "abs/" + victim_repo_ + "/pkg/1.0/data", "rel/x",
                                                               "etc", "out", "inner", "real/dir/deep", "secretlink"}) {
      expect_refused(upload({{"subvolume", name_}, {"subpath", subpath}}, one_file_tar("t10-planted", "x")),
                     "upload subpath " + subpath);
      ++attempts;
    }
    // A member whose path passes through a link: the archive may not write through it either.
    expect_refused(upload({{"subvolume", name_}}, one_file_tar("out/t10-planted", "x")), "upload member out/");
    ++attempts;
    for (const std::string& path : std::vector<std::string>{"etc/hostname", "etc", "out/secret", "out", "secretlink",
                                                            "abs", "abs/" + victim_repo_ + "/pkg/1.0/data/sentinel",
                                                            "rel/" + victim_repo_, "inner/x", "real/dir/deep/secret"}) {
      expect_refused(
          post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","paths":[)" + quoted(path) + "]}"),
          "download path " + path);
      ++attempts;
    }
    for (const std::string& internal :
         std::vector<std::string>{repo_path + "/link/" + name_, repo_path + "/pkglink/1.0/data", repo_path + "/link"}) {
      expect_refused(post("/storage/remove-package-volume", R"({"internal_name":")" + internal + R"("})"),
                     "remove-package-volume " + internal);
      expect_refused(post("/storage/modify", R"({"name":")" + internal + R"(","filesystem":{"quota":1048576}})"),
                     "modify package volume " + internal);
      attempts += 2;
    }
    return attempts;
  }

  std::string root_;
  std::string name_;
  std::string victim_repo_;
  std::string volume_;
  std::string outside_;
};

TEST_F(storage_paths, planted_symlinks_are_refused_by_every_endpoint_and_nothing_outside_is_touched) {
  try_every_endpoint();
  expect_sentinels_intact();
  EXPECT_TRUE(fs::is_symlink(volume_ + "/abs"));
  EXPECT_TRUE(fs::exists(volume_ + "/real/file"));

  // The package-volume listing walks subvolumes, not links: the victim is listed once, by its
  // own path, and the links in installed/ add nothing.
  auto groups = post("/storage/package-volumes", "{}");
  ASSERT_EQ(groups.status, 200) << groups.body;
  EXPECT_EQ(groups.body.find(victim_repo_ + "/pkglink"), std::string::npos);
  EXPECT_EQ(groups.body.find(victim_repo_ + "/link"), std::string::npos);
  std::size_t listed = 0;
  for (std::size_t at = groups.body.find(victim_repo_ + "/pkg/1.0/data"); at != std::string::npos;
       at = groups.body.find(victim_repo_ + "/pkg/1.0/data", at + 1))
    ++listed;
  EXPECT_EQ(listed, 1u);

  // The whole volume downloads, storing the links as links: no byte of a sentinel in the archive.
  auto whole = post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","format":"tar.gz"})");
  ASSERT_EQ(whole.status, 200);
  std::string tar;
  {
    struct archive* a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    ASSERT_EQ(archive_read_open_memory(a, whole.body.data(), whole.body.size()), ARCHIVE_OK);
    struct archive_entry* e = nullptr;
    int symlinks = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
      if (archive_entry_filetype(e) == AE_IFLNK) ++symlinks;
      char block[4096];
      la_ssize_t n = 0;
      while ((n = archive_read_data(a, block, sizeof block)) > 0) tar.append(block, static_cast<std::size_t>(n));
    }
    archive_read_free(a);
    EXPECT_EQ(symlinks, 7);
  }
  EXPECT_NE(tar.find("data\n"), std::string::npos);
  EXPECT_EQ(tar.find("SENTINEL"), std::string::npos);

  // A member named like a planted link replaces the link (extract.hpp's policy), never writes
  // through it.
  auto replaced = upload({{"subvolume", name_}}, one_file_tar("secretlink", "replaced"));
  EXPECT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_FALSE(fs::is_symlink(volume_ + "/secretlink"));
  EXPECT_EQ(read_file(volume_ + "/secretlink"), "replaced");
  expect_sentinels_intact();
}

TEST_F(storage_paths, hard_links_cannot_reach_outside_a_volume_and_those_inside_are_plain_files) {
  // btrfs refuses a hard link across subvolumes (EXDEV), so a volume can only hold hard links to
  // its own files: none to the victim, none to the outside sentinel.
  EXPECT_EQ(shell("ln " + victim() + "/sentinel " + volume_ + "/hl 2>/dev/null && echo linked"), "");
  EXPECT_EQ(shell("ln " + outside_ + "/secret " + volume_ + "/hl 2>/dev/null && echo linked"), "");
  ASSERT_EQ(shell("ln " + volume_ + "/real/file " + volume_ + "/hardlink && echo ok"), "ok\n");
  // A file, hard linked or not, is not a directory and not a volume.
  expect_refused(post("/storage/remove", R"({"name":")" + name_ + R"(/hardlink"})"), "remove hardlink");
  expect_refused(post("/storage/remove", R"({"name":")" + name_ + R"(/hardlink/x"})"), "remove through hardlink");
  expect_refused(upload({{"subvolume", name_}, {"subpath", "hardlink"}}, one_file_tar("x", "x")), "upload into file");
  auto down = post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","paths":["hardlink"]})");
  EXPECT_EQ(down.status, 200);
  EXPECT_EQ(down.body.find("SENTINEL"), std::string::npos);
  expect_sentinels_intact();
}

TEST_F(storage_paths, a_directory_swapped_with_a_symlink_in_a_loop_never_lets_an_operation_out) {
  // "swap" flips between a real directory and a link to the victim's repository as fast as it can.
  ASSERT_EQ(shell("mkdir -p " + volume_ + "/swapdir/" + victim_repo_ + " && echo ok"), "ok\n");
  std::atomic<bool> stop{false};
  std::atomic<int> flips{0};
  std::thread swapper([&] {
    const std::string dir = volume_ + "/swap";
    const std::string real = volume_ + "/swapdir";
    const std::string link = volume_ + "/swaplink";
    fs::create_directory_symlink(root_ + "/installed", link);
    while (!stop.load()) {
      ::renameat2(AT_FDCWD, real.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE);
      ::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
      ::renameat2(AT_FDCWD, link.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE);
      ::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, real.c_str(), RENAME_NOREPLACE);
      flips.fetch_add(1);
    }
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  int rounds = 0;
  while (std::chrono::steady_clock::now() < until) {
    const std::string through = name_ + "/swap/" + victim_repo_ + "/pkg/1.0/data";
    expect_refused(post("/storage/remove", R"({"name":")" + through + R"("})"), "remove during swap");
    expect_refused(post("/storage/modify", R"({"name":")" + through + R"(","filesystem":{"quota":1048576}})"),
                   "modify during swap");
    // While "swap" is a real directory the subpath is made inside it, legitimately.
    auto up = upload({{"subvolume", name_}, {"subpath", "swap/" + victim_repo_ + "/pkg/1.0/data"}},
                     one_file_tar("t10-planted", "x"));
    EXPECT_LT(up.status, 500) << up.body;
    auto down = post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","paths":["swap/)" + victim_repo_ +
                                                      R"(/pkg/1.0/data/sentinel"]})");
    EXPECT_LT(down.status, 500) << down.body;
    EXPECT_EQ(down.body.find("SENTINEL"), std::string::npos);
    ++rounds;
  }
  stop = true;
  swapper.join();
  EXPECT_GT(flips.load(), rounds);
  EXPECT_FALSE(fs::exists(victim() + "/t10-planted"));
  expect_sentinels_intact();
}

TEST_F(storage_paths, long_and_odd_names_never_get_a_5xx) {
  std::vector<std::string> odd = {std::string(255, 'a'),
                                  std::string(256, 'b'),
                                  std::string(300, 'c'),
                                  std::string(4096, 'd'),
                                  std::string(4097, 'e'),
                                  std::string(200, 'f') + "/" + std::string(300, 'g'),
                                  [] {
                                    std::string deep;
                                    while (deep.size() < 4100) deep += "abcdefghi/";
                                    return deep + "z";
                                  }(),
                                  std::string("nul\0byte", 8),
                                  "..",
                                  "../..",
                                  "a/../b",
                                  "-leading-dash",
                                  "--help",
                                  "caf\xc3\xa9",
                                  "\xe2\x98\x83/\xf0\x9f\x92\xa5",
                                  "\xff\xfe",
                                  "/",
                                  "./x",
                                  "x//y",
                                  "x/"};
  for (const auto& raw : odd) {
    const std::string name = quoted(raw);
    const std::string shown = raw.substr(0, 40);
    for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
             {"/storage/create", R"({"name":)" + name + "}"},
             {"/storage/remove", R"({"name":)" + name + "}"},
             {"/storage/modify", R"({"name":)" + name + R"(,"filesystem":{"quota":1}})"},
             {"/storage/modify", R"({"name":")" + name_ + R"(","filesystem":{"name":)" + name + "}}"},
             {"/storage", R"({"name":)" + name + "}"},
             {"/storage/remove-package-volume", R"({"internal_name":)" + name + "}"},
             {"/storage/remove-package-volume", R"({"internal_name":)" + quoted("installed/" + raw) + "}"},
             {"/storage/download-archive", R"({"subvolume":)" + name + "}"},
             {"/storage/download-archive", R"({"subvolume":")" + name_ + R"(","paths":[)" + name + "]}"},
             {"/storage/download-archive", R"({"subvolume":")" + name_ + R"(","filename":)" + name + "}"},
             {"/storage/download-archive", R"({"subvolume":")" + name_ + R"(","stop_service":)" + name + "}"},
         }) {
      auto reply = post(target, body);
      EXPECT_LT(reply.status, 500) << target << " " << shown << ": " << reply.body;
      if (reply.status >= 400) {
        EXPECT_EQ(reply.header("content-type"), "application/problem+json") << target << " " << shown;
      }
    }
    for (const auto& fields : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {{"subvolume", raw}}, {{"subvolume", name_}, {"subpath", raw}}}) {
      auto reply = upload(fields, one_file_tar("x", "x"));
      EXPECT_LT(reply.status, 500) << "upload " << shown << ": " << reply.body;
    }
    auto member = upload({{"subvolume", name_}}, one_file_tar(raw, "x"));
    EXPECT_LT(member.status, 500) << "upload member " << shown << ": " << member.body;
  }
  // The issue's case: a 300-byte name is a 422 naming the field, not a 500.
  auto created = post("/storage/create", R"({"name":")" + std::string(300, 'n') + R"("})");
  EXPECT_EQ(created.status, 422) << created.body;
  EXPECT_NE(created.body.find("255"), std::string::npos) << created.body;
  // A 255-byte component is fine.
  const std::string longest = name_ + "-" + std::string(255 - name_.size() - 1, 'L');
  auto made = post("/storage/create", R"({"name":")" + longest + R"("})");
  EXPECT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(post("/storage/remove", R"({"name":")" + longest + R"("})").status, 200);
  // The valid odd names may have become volumes (created, or this test's volume renamed to one).
  for (const std::string& valid :
       std::vector<std::string>{std::string(255, 'a'), std::string("-leading-dash"), std::string("--help")}) {
    shell("btrfs subvolume delete -- '" + root_ + "/user/" + valid + "' >/dev/null 2>&1");
  }
}

TEST_F(storage_paths, remove_package_volume_errors_are_problem_json) {
  auto bad_prefix = post("/storage/remove-package-volume", R"({"internal_name":"user/x"})");
  EXPECT_EQ(bad_prefix.status, 400);
  EXPECT_EQ(bad_prefix.header("content-type"), "application/problem+json");
  EXPECT_NE(bad_prefix.body.find("internal_name must start with installed/ or uninstalled/"), std::string::npos);
}

}  // namespace
}  // namespace sc::test
