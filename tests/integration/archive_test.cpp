// Archive upload and download against the real binary and the sandbox btrfs (behavior-ops.md §4,
// issue 5): every format, a malicious-archive corpus, size and time limits, and a round trip.
// Test archives are made here with libarchive itself. Volumes are user/t5a-<pid>-<test>.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/admin_server_suite.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/sandbox.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

struct member {
  std::string path{};
  unsigned type = AE_IFREG;
  std::string data{};
  std::string link{};  // symlink target (AE_IFLNK) or hardlink target (hardlink = true)
  bool hardlink = false;
  unsigned mode = 0644;
  std::int64_t sparse_size = -1;  // declared size of a sparse member holding `data` at offset 0
};

la_ssize_t append_to_string(struct archive*, void* out, const void* data, std::size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

// `format`: ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, _ZIP or _7ZIP; `filter`: ARCHIVE_FILTER_*.
std::string make_archive(const std::vector<member>& members, int format = ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
                         int filter = ARCHIVE_FILTER_GZIP) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format(a, format);
  if (filter != ARCHIVE_FILTER_NONE) archive_write_add_filter(a, filter);
  archive_write_open(a, &out, nullptr, append_to_string, nullptr);
  for (const auto& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    if (m.hardlink) {
      archive_entry_set_hardlink(e, m.link.c_str());
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, m.type);
      archive_entry_set_perm(e, m.mode);
      if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.link.c_str());
      if (m.type == AE_IFREG) {
        if (m.sparse_size >= 0) {
          archive_entry_set_size(e, m.sparse_size);
          archive_entry_sparse_add_entry(e, 0, static_cast<la_int64_t>(m.data.size()));
        } else {
          archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
        }
      }
      if (m.type == AE_IFCHR) archive_entry_set_rdev(e, makedev(1, 3));
    }
    EXPECT_GE(archive_write_header(a, e), ARCHIVE_WARN) << m.path << ": " << archive_error_string(a);
    if (!m.hardlink && m.type == AE_IFREG && !m.data.empty()) archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

const std::string boundary = "t5-boundary-Zx81qPq";

std::string form_body(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& archive,
                      const std::string& filename = "upload.tar.gz") {
  std::string body;
  for (const auto& [name, value] : fields) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  }
  body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"" + filename +
          "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
  body += archive;
  body += "\r\n--" + boundary + "--\r\n";
  return body;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

std::size_t count_entries(const std::string& dir) {
  std::size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) ++n;
  return n;
}

class archives : public admin_server_suite<archives> {
 protected:
  void SetUp() override {
    root_ = sandbox_env("SC_BTRFS_ROOT");
    ASSERT_FALSE(root_.empty());
    name_ = "t5a-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    volume_ = root_ + "/user/" + name_;
    outside_ = root_ + "/user/" + name_ + "-outside";
    auto created = post("/storage/create", R"({"name":")" + name_ + R"(","quota":268435456})");
    ASSERT_EQ(created.status, 200) << created.body;
    ASSERT_TRUE(fs::create_directory(outside_));
  }
  void TearDown() override {
    shell("btrfs subvolume delete " + volume_ + " >/dev/null 2>&1");
    fs::remove_all(outside_);
  }
  http_reply post(const std::string& target, const std::string& body, std::map<std::string, std::string> headers = {}) {
    headers["Authorization"] = "Bearer " + token_;
    return request(server_->port(), "POST", target, body, headers);
  }
  http_reply upload(const std::string& archive, const std::string& subpath = {},
                    std::vector<std::pair<std::string, std::string>> fields = {}) {
    if (fields.empty()) {
      fields.emplace_back("subvolume", name_);
      if (!subpath.empty()) fields.emplace_back("subpath", subpath);
    }
    return post("/storage/upload-archive", form_body(fields, archive),
                {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
  }
  // Nothing may appear in the sibling directory or anywhere outside the volume.
  void expect_nothing_outside() {
    EXPECT_EQ(count_entries(outside_), 0u);
    EXPECT_FALSE(exists(root_ + "/user/evil.txt"));
    EXPECT_FALSE(exists(root_ + "/evil.txt"));
    EXPECT_FALSE(exists("/tmp/t5-evil-" + std::to_string(::getpid())));
  }
  static void expect_problem(const http_reply& reply, int status, const std::string& says = {}) {
    EXPECT_EQ(reply.status, status) << reply.body;
    EXPECT_EQ(reply.header("content-type"), "application/problem+json") << reply.body;
    if (!says.empty()) {
      EXPECT_NE(reply.body.find(says), std::string::npos) << reply.body;
    }
  }

  std::string root_, name_, volume_, outside_;
};

const std::vector<member> sample = {
    {.path = "dir/", .type = AE_IFDIR, .mode = 0755},
    {.path = "dir/hello.txt", .data = "hello, world\n"},
    {.path = "dir/link", .type = AE_IFLNK, .link = "hello.txt"},
    {.path = "top.bin", .data = std::string(200000, 'x') + "end"},
    {.path = "dir/hard", .link = "top.bin", .hardlink = true},
};

void expect_sample_at(const std::string& dir) {
  EXPECT_EQ(read_file(dir + "/dir/hello.txt"), "hello, world\n");
  EXPECT_EQ(fs::read_symlink(dir + "/dir/link"), "hello.txt");
  EXPECT_EQ(read_file(dir + "/top.bin"), std::string(200000, 'x') + "end");
  EXPECT_EQ(read_file(dir + "/dir/hard"), std::string(200000, 'x') + "end");
}

TEST_F(archives, every_format_is_detected_by_content_and_unpacked) {
  struct kind {
    std::string name;
    int format, filter;
  };
  const std::vector<kind> kinds = {
      {"tar", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_NONE},
      {"targz", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_GZIP},
      {"tarbz2", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_BZIP2},
      {"tarxz", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_XZ},
      {"zip", ARCHIVE_FORMAT_ZIP, ARCHIVE_FILTER_NONE},
      {"7z", ARCHIVE_FORMAT_7ZIP, ARCHIVE_FILTER_NONE},
  };
  for (const auto& k : kinds) {
    // Zip and 7z store no hardlinks the same way; the tar formats get the full sample.
    std::vector<member> members = sample;
    if (k.format != ARCHIVE_FORMAT_TAR_PAX_RESTRICTED) members.pop_back();
    auto reply = upload(make_archive(members, k.format, k.filter), "in-" + k.name);
    ASSERT_EQ(reply.status, 200) << k.name << ": " << reply.body;
    auto body = json::parse(reply.body);
    EXPECT_TRUE(body.at("needs_restart").as_bool());
    EXPECT_EQ(body.at("message").as_string(), "archive unpacked successfully");
    std::string dir = volume_ + "/in-" + k.name;
    EXPECT_EQ(read_file(dir + "/dir/hello.txt"), "hello, world\n") << k.name;
    EXPECT_EQ(read_file(dir + "/top.bin"), std::string(200000, 'x') + "end") << k.name;
    if (k.format == ARCHIVE_FORMAT_TAR_PAX_RESTRICTED) expect_sample_at(dir);
  }
}

TEST_F(archives, malicious_corpus_is_refused_and_nothing_lands_outside) {
  const std::string pid = std::to_string(::getpid());
  struct attack {
    std::string name;
    std::string archive;
    int status;
  };
  const std::vector<attack> corpus = {
      {"zip-slip", make_archive({{.path = "../../evil.txt", .data = "x"}}, ARCHIVE_FORMAT_ZIP, ARCHIVE_FILTER_NONE),
       422},
      {"tar dotdot", make_archive({{.path = "a/../../evil.txt", .data = "x"}}), 422},
      {"absolute member", make_archive({{.path = "/tmp/t5-evil-" + pid, .data = "x"}}), 422},
      {"symlink escape then write-through",
       make_archive({{.path = "esc", .type = AE_IFLNK, .link = "../" + name_ + "-outside"},
                     {.path = "esc/evil.txt", .data = "x"}}),
       422},
      {"absolute symlink", make_archive({{.path = "abs", .type = AE_IFLNK, .link = outside_}}), 422},
      {"hardlink escape", make_archive({{.path = "h", .link = "../../../etc/passwd", .hardlink = true}}), 422},
      {"absolute hardlink", make_archive({{.path = "h", .link = "/etc/passwd", .hardlink = true}}), 422},
      {"huge sparse member",
       make_archive({{.path = "sparse.img", .data = std::string(4096, 's'), .sparse_size = std::int64_t{8} << 30}}),
       413},
      {"not an archive", std::string(5000, '\x42'), 400},
      {"truncated gzip", make_archive(sample).substr(0, 300), 400},
  };
  for (const auto& a : corpus) {
    auto reply = upload(a.archive, "target");
    expect_problem(reply, a.status);
    EXPECT_EQ(reply.status, a.status) << a.name;
    expect_nothing_outside();
  }
  // The write-through attack was refused before any byte, and its symlink was rolled back.
  EXPECT_FALSE(exists(volume_ + "/target/esc"));
  EXPECT_FALSE(exists(volume_ + "/target/sparse.img"));
  EXPECT_EQ(read_file("/etc/passwd").empty(), false);
}

TEST_F(archives, devices_are_dropped_setuid_cleared_owner_not_taken) {
  auto reply = upload(make_archive({{.path = "null", .type = AE_IFCHR},
                                    {.path = "fifo", .type = AE_IFIFO},
                                    {.path = "suid", .data = "#!/bin/sh\n", .mode = 06755},
                                    {.path = "plain", .data = "p"}}),
                      "dev");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_FALSE(exists(volume_ + "/dev/null"));
  EXPECT_FALSE(exists(volume_ + "/dev/fifo"));
  struct stat info {};
  ASSERT_EQ(::stat((volume_ + "/dev/suid").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0755u);
  EXPECT_EQ(info.st_uid, ::geteuid());
}

TEST_F(archives, a_refused_member_rolls_back_what_the_run_created) {
  auto reply = upload(make_archive({{.path = "good/one.txt", .data = "1"},
                                    {.path = "good/two.txt", .data = "2"},
                                    {.path = "../evil.txt", .data = "x"}}),
                      "partial");
  expect_problem(reply, 422, "../evil.txt");
  EXPECT_FALSE(exists(volume_ + "/partial/good/one.txt"));
  EXPECT_FALSE(exists(volume_ + "/partial/good"));
  expect_nothing_outside();
}

TEST_F(archives, ten_thousand_tiny_files_unpack_completely) {
  std::vector<member> members;
  members.reserve(10000);
  for (int i = 0; i < 10000; ++i)
    members.push_back(
        {.path = "many/" + std::to_string(i % 100) + "/f" + std::to_string(i), .data = std::to_string(i)});
  auto reply = upload(make_archive(members), "many");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(count_entries(volume_ + "/many/many"), 10100u);  // 100 directories + 10,000 files
  EXPECT_EQ(read_file(volume_ + "/many/many/42/f9942"), "9942");
}

TEST_F(archives, a_quota_hit_is_a_clear_413_and_leaves_nothing) {
  ASSERT_EQ(post("/storage/modify", R"({"name":")" + name_ + R"(","filesystem":{"quota":1048576}})").status, 200);
  std::string big(4 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  auto reply = upload(make_archive({{.path = "big.bin", .data = big}}), "q");
  expect_problem(reply, 413);
  EXPECT_FALSE(exists(volume_ + "/q/big.bin"));
}

TEST_F(archives, form_errors_are_clean_4xx) {
  auto archive = make_archive(sample);
  expect_problem(upload(archive, {}, {{"subpath", "x"}}), 400, "subvolume field is required");
  expect_problem(upload(archive, {}, {{"subvolume", "gfeh/home"}}), 422);
  expect_problem(upload(archive, {}, {{"subvolume", "../../etc"}}), 422);
  expect_problem(upload(archive, {}, {{"subvolume", "t5a-does-not-exist-" + name_}}), 404);
  expect_problem(upload(archive, {}, {{"subvolume", name_}, {"subpath", "../x"}}), 422);
  expect_problem(upload(archive, {}, {{"subvolume", name_}, {"stop_service", "x;rm -rf /"}}), 400,
                 "invalid systemd service name");
  auto no_archive = post("/storage/upload-archive",
                         "--" + boundary + "\r\nContent-Disposition: form-data; name=\"subvolume\"\r\n\r\n" + name_ +
                             "\r\n--" + boundary + "--\r\n",
                         {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
  expect_problem(no_archive, 400, "archive file required");
  expect_problem(post("/storage/upload-archive", "{}", {{"Content-Type", "application/json"}}), 415);
  // The field order is part of the streaming contract: subvolume after the archive is refused.
  std::string late = form_body({}, archive);
  late.insert(late.size() - (boundary.size() + 6),
              "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"subvolume\"\r\n\r\n" + name_);
  expect_problem(post("/storage/upload-archive", late, {{"Content-Type", "multipart/form-data; boundary=" + boundary}}),
                 400);
}

TEST_F(archives, oversized_content_length_is_413_before_the_body_is_read) {
  auto connection = raw_connection::tcp(server_->port());
  ASSERT_TRUE(connection.connected());
  ASSERT_TRUE(connection.send("POST /storage/upload-archive HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                              token_ + "\r\nContent-Type: multipart/form-data; boundary=" + boundary +
                              "\r\nContent-Length: 1073741825\r\n\r\n"));
  auto reply = connection.read_reply(std::chrono::seconds(10));
  ASSERT_TRUE(reply);
  expect_problem(*reply, 413, "maximum allowed size");
  auto chunked = raw_connection::tcp(server_->port());
  ASSERT_TRUE(chunked.send("POST /storage/upload-archive HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                           token_ + "\r\nContent-Type: multipart/form-data; boundary=" + boundary +
                           "\r\nTransfer-Encoding: chunked\r\n\r\n"));
  auto refused = chunked.read_reply(std::chrono::seconds(10));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 411);
}

TEST_F(archives, a_max_archive_size_of_0_means_no_limit) {
  ASSERT_EQ(post("/settings/set", R"({"key":"max_archive_size","value":"0"})").status, 200);
  // A body over the default 1 GiB is taken: the server asks for it (100 Continue) instead of a 413.
  auto connection = raw_connection::tcp(server_->port());
  ASSERT_TRUE(connection.connected());
  ASSERT_TRUE(connection.send("POST /storage/upload-archive HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                              token_ + "\r\nContent-Type: multipart/form-data; boundary=" + boundary +
                              "\r\nExpect: 100-continue\r\nContent-Length: 1073741825\r\n\r\n"));
  std::string seen;
  for (int i = 0; i < 50 && seen.find("\r\n\r\n") == std::string::npos; ++i) {
    seen += connection.read_some(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(seen.starts_with("HTTP/1.1 100 Continue")) << seen;
  ASSERT_EQ(post("/settings/set", R"({"key":"max_archive_size","value":"1073741824"})").status, 200);
}

TEST_F(archives, the_unpack_timeout_stops_work_and_removes_partial_output) {
  ASSERT_EQ(post("/settings/set", R"({"key":"archive_unpack_timeout","value":"1"})").status, 200);
  std::string body = form_body({{"subvolume", name_}, {"subpath", "slow"}},
                               make_archive({{.path = "first.txt", .data = "1"}, {.path = "second.txt", .data = "2"}},
                                            ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_NONE));
  auto connection = raw_connection::tcp(server_->port());
  std::string request = "POST /storage/upload-archive HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + token_ +
                        "\r\nContent-Type: multipart/form-data; boundary=" + boundary +
                        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  // The first member arrives, then the client stalls past the 1 s timeout (the stall is the
  // behaviour under test), then the rest arrives.
  std::size_t split = body.find("second.txt") - 200;
  ASSERT_TRUE(connection.send(request + body.substr(0, split)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  connection.send(body.substr(split));
  auto reply = connection.read_reply(std::chrono::seconds(10));
  ASSERT_EQ(post("/settings/set", R"({"key":"archive_unpack_timeout","value":"600"})").status, 200);
  ASSERT_TRUE(reply);
  expect_problem(*reply, 408, "timed out");
  EXPECT_NE(reply->body.find("partial output removed"), std::string::npos) << reply->body;
  EXPECT_FALSE(exists(volume_ + "/slow/first.txt"));
}

TEST_F(archives, download_round_trips_through_upload_in_every_format) {
  ASSERT_EQ(upload(make_archive(sample), "orig").status, 200);
  for (std::string format : {"tar.gz", "tar.bz2", "tar.xz"}) {
    auto down = post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","paths":["orig"],"format":")" +
                                                      format + R"(","filename":"../my\r\nbackup.tar.gz"})");
    ASSERT_EQ(down.status, 200) << down.body.substr(0, 300);
    EXPECT_EQ(down.header("transfer-encoding"), "chunked");
    EXPECT_EQ(down.header("content-disposition"), "attachment; filename=mybackup." + format);
    std::string sub = "copy-" + format.substr(4);
    auto again = upload(down.body, sub);
    ASSERT_EQ(again.status, 200) << format << ": " << again.body;
    expect_sample_at(volume_ + "/" + sub + "/orig");
  }
  auto whole =
      post("/storage/download-archive", R"({"subvolume":")" + name_ + R"("})", {{"Origin", "http://localhost"}});
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.header("access-control-allow-origin"), "http://localhost");
  EXPECT_EQ(whole.header("content-type"), "application/gzip");
  EXPECT_EQ(whole.header("content-disposition"), "attachment; filename=download.tar.gz");
}

TEST_F(archives, download_refuses_bad_paths_formats_and_names) {
  for (std::string paths : {R"(["../x"])", R"(["/etc"])", R"(["-rf"])", R"(["a/../../b"])"}) {
    auto reply = post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","paths":)" + paths + "}");
    expect_problem(reply, 422);
  }
  expect_problem(post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","format":"zip"})"), 422);
  expect_problem(post("/storage/download-archive", R"({"subvolume":"gfeh"})"), 422);
  expect_problem(post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","paths":["missing"]})"), 404);
  expect_problem(post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","stop_service":"bad name"})"),
                 400, "invalid systemd service name");
}

// stop_service (behavior-ops.md §4.1 step 5): the unit is stopped before anything is unpacked and
// started again afterwards, also when unpacking fails. The unit records each stop (and whether the
// archive's marker file already existed at that moment) and each start.
TEST_F(archives, stop_service_stops_before_unpacking_and_always_starts_again) {
  const std::string unit_dir = sandbox_env("SC_UNIT_DIR");
  const std::string runtime = sandbox_env("XDG_RUNTIME_DIR");
  ASSERT_FALSE(unit_dir.empty());
  // A managed name: stop_service obeys the unit policy of POST /systemd/status (core/units.hpp).
  const std::string unit = "town-os-package--t5-archive-" + std::to_string(::getpid()) + ".service";
  const std::string events = outside_ + "-events";
  const std::string marker = volume_ + "/svc/marker.txt";
  {
    std::ofstream file(unit_dir + "/" + unit);
    file << "[Service]\nExecStartPre=/bin/sh -c 'echo start >> " << events << "'\nExecStart=/bin/sleep 600\n"
         << "ExecStopPost=/bin/sh -c 'if [ -e " << marker << " ]; then echo stop-late; else echo stop-early; fi >> "
         << events << "'\n";
  }
  const std::string systemctl = "XDG_RUNTIME_DIR=" + runtime + " systemctl --user ";
  ASSERT_EQ(shell(systemctl + "daemon-reload && " + systemctl + "start " + unit + " && echo ok"), "ok\n");

  auto reply = upload(make_archive({{.path = "marker.txt", .data = "m"}}), {},
                      {{"subvolume", name_}, {"subpath", "svc"}, {"stop_service", unit}});
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(exists(marker));
  auto refused = upload(make_archive({{.path = "../evil.txt", .data = "x"}}), {},
                        {{"subvolume", name_}, {"subpath", "svc"}, {"stop_service", unit}});
  EXPECT_EQ(refused.status, 422) << refused.body;

  EXPECT_EQ(shell(systemctl + "is-active " + unit), "active\n");
  EXPECT_EQ(read_file(events), "start\nstop-early\nstart\nstop-late\nstart\n");
  shell(systemctl + "stop " + unit + " >/dev/null 2>&1");
  fs::remove(unit_dir + "/" + unit);
  shell(systemctl + "daemon-reload");
  fs::remove(events);
}

// stop_service goes through the unit policy (issue 10 §3): an unmanaged unit (403) and the
// controller's own unit (400) are refused on upload and download, and neither is stopped.
TEST_F(archives, stop_service_refuses_unmanaged_units_and_the_controller_itself) {
  const std::string unit_dir = sandbox_env("SC_UNIT_DIR");
  const std::string runtime = sandbox_env("XDG_RUNTIME_DIR");
  ASSERT_FALSE(unit_dir.empty());
  const std::string systemctl = "XDG_RUNTIME_DIR=" + runtime + " systemctl --user ";
  const std::string events = outside_ + "-events";
  const std::vector<std::pair<std::string, int>> refused = {
      {"t5-unmanaged-" + std::to_string(::getpid()) + ".service", 403},
      {"town-os-systemcontroller.service", 400},
  };
  for (const auto& [unit, status] : refused) {
    std::ofstream file(unit_dir + "/" + unit);
    file << "[Service]\nExecStart=/bin/sleep 600\nExecStopPost=/bin/sh -c 'echo stop " << unit << " >> " << events
         << "'\n";
  }
  ASSERT_EQ(shell(systemctl + "daemon-reload && echo ok"), "ok\n");
  for (const auto& [unit, status] : refused) ASSERT_EQ(shell(systemctl + "start " + unit + " && echo ok"), "ok\n");

  for (const auto& [unit, status] : refused) {
    expect_problem(upload(make_archive(sample), {}, {{"subvolume", name_}, {"stop_service", unit}}), status);
    expect_problem(
        post("/storage/download-archive", R"({"subvolume":")" + name_ + R"(","stop_service":")" + unit + R"("})"),
        status);
    EXPECT_EQ(shell(systemctl + "is-active " + unit), "active\n") << unit;
  }
  EXPECT_FALSE(exists(events)) << read_file(events);
  EXPECT_FALSE(exists(volume_ + "/dir/hello.txt"));  // nothing unpacked either

  for (const auto& [unit, status] : refused) {
    shell(systemctl + "stop " + unit + " >/dev/null 2>&1");
    fs::remove(unit_dir + "/" + unit);
  }
  shell(systemctl + "daemon-reload");
  fs::remove(events);
}

// Expect: 100-continue (curl sends it for large uploads): the 100 comes only once the handler
// wants the body, so a refused caller never gets one and never sends the body.
TEST_F(archives, expect_continue_is_answered_only_for_an_accepted_upload) {
  std::string body = form_body({{"subvolume", name_}, {"subpath", "cont"}}, make_archive(sample));
  std::string head =
      "POST /storage/upload-archive HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; "
      "boundary=" +
      boundary + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n";

  auto anonymous = raw_connection::tcp(server_->port());
  ASSERT_TRUE(anonymous.send(head + "\r\n"));
  auto refused = anonymous.read_reply(std::chrono::seconds(10));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);

  auto admin = raw_connection::tcp(server_->port());
  ASSERT_TRUE(admin.send(head + "Authorization: Bearer " + token_ + "\r\n\r\n"));
  std::string interim;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (interim.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < until) {
    interim += admin.read_some(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(interim.starts_with("HTTP/1.1 100 Continue\r\n\r\n")) << interim;
  ASSERT_TRUE(admin.send(body));
  std::string rest = interim.substr(25);
  while (rest.find("archive unpacked successfully") == std::string::npos && std::chrono::steady_clock::now() < until) {
    rest += admin.read_some(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(rest.starts_with("HTTP/1.1 200 OK")) << rest;
  expect_sample_at(volume_ + "/cont");
}

}  // namespace
}  // namespace sc::test
