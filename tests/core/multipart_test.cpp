// The incremental multipart/form-data parser: well-formed bodies split at every possible point,
// adversarial bodies, and a deterministic mutation harness (no libFuzzer here) under ASan.
#include "core/multipart.hpp"

#include <gtest/gtest.h>

#include <random>

namespace sc::multipart {
namespace {

struct recorder : part_handler {
  std::vector<std::pair<part_info, std::string>> parts;
  bool open = false;
  result<void> on_part_begin(const part_info& part) override {
    EXPECT_FALSE(open);
    open = true;
    parts.emplace_back(part, "");
    return {};
  }
  result<void> on_part_data(std::string_view data) override {
    EXPECT_TRUE(open);
    EXPECT_FALSE(data.empty());
    parts.back().second.append(data);
    return {};
  }
  result<void> on_part_end() override {
    EXPECT_TRUE(open);
    open = false;
    return {};
  }
};

const std::string boundary = "----sc-boundary-7MA4YWxkTrZu0gW";

std::string form(const std::string& archive_bytes) {
  return "preamble to ignore\r\n--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"subvolume\"\r\n\r\nmedia\r\n--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"a \\\"b\\\".tar.gz\"\r\n"
         "Content-Type: application/gzip\r\n\r\n" +
         archive_bytes + "\r\n--" + boundary + "--\r\nepilogue";
}

// Feeds `body` in pieces of the given sizes (cycled); returns the first error or finish().
result<void> feed_split(const std::string& body, recorder& r, const std::vector<std::size_t>& sizes) {
  parser p(boundary);
  std::size_t at = 0, k = 0;
  while (at < body.size()) {
    std::size_t n = std::min(body.size() - at, std::max<std::size_t>(1, sizes[k++ % sizes.size()]));
    if (auto ok = p.feed(std::string_view(body).substr(at, n), r); !ok) return ok.error();
    at += n;
  }
  return p.finish();
}

TEST(multipart, boundary_from_content_type) {
  EXPECT_EQ(boundary_of("multipart/form-data; boundary=abc").value(), "abc");
  EXPECT_EQ(boundary_of("Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\"").value(), "a b;c");
  EXPECT_EQ(boundary_of("application/json").error().status, 415);
  EXPECT_EQ(boundary_of("multipart/form-data").error().status, 400);
  EXPECT_EQ(boundary_of("multipart/form-data; boundary=" + std::string(71, 'x')).error().status, 400);
}

TEST(multipart, every_split_point_gives_the_same_parts) {
  // Binary content that contains near-boundaries, CRs and LFs.
  std::string payload =
      "\r\n--" + boundary.substr(0, 10) + "\r\n-\r\n--" + std::string("\x00\xff", 2) + std::string(300, 'z') + "\r\n--";
  std::string body = form(payload);
  for (std::size_t split = 1; split < body.size(); ++split) {
    recorder r;
    auto ok = feed_split(body, r, {split});
    ASSERT_TRUE(ok) << "split " << split << ": " << ok.error().detail;
    ASSERT_EQ(r.parts.size(), 2u) << split;
    EXPECT_EQ(r.parts[0].first.name, "subvolume");
    EXPECT_EQ(r.parts[0].second, "media");
    EXPECT_EQ(r.parts[1].first.name, "archive");
    EXPECT_EQ(r.parts[1].first.filename, "a \"b\".tar.gz");
    EXPECT_EQ(r.parts[1].first.content_type, "application/gzip");
    EXPECT_EQ(r.parts[1].second, payload) << "split " << split;
  }
}

TEST(multipart, adversarial_bodies_are_clean_400s) {
  const std::vector<std::string> bad = {
      "",                                                                                       // no boundary at all
      std::string(20000, 'x'),                                                                  // endless preamble
      "--" + boundary + "\r\n" + std::string(9000, 'h'),                                        // endless headers
      "--" + boundary + "\r\nContent-Disposition: form-data\r\n\r\nx\r\n--" + boundary + "--",  // no name
      "--" + boundary + "\r\nContent-Type: text/plain\r\n\r\nx\r\n--" + boundary + "--",        // no disposition
      "--" + boundary + "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--" + boundary + "--",
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--" + boundary + "--",
      "--" + boundary + "\r\nno colon here\r\n\r\nx\r\n--" + boundary + "--",
      "--" + boundary + "junk\r\n",                                                         // junk after boundary
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ntruncated",  // no close
  };
  for (const auto& body : bad) {
    recorder r;
    auto ok = feed_split(body, r, {7});
    ASSERT_FALSE(ok) << body.substr(0, 80);
    EXPECT_EQ(ok.error().status, 400);
  }
  std::string many;
  for (int i = 0; i < 40; ++i) many += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n";
  recorder r;
  auto ok = feed_split(many + "--" + boundary + "--", r, {4096});
  ASSERT_FALSE(ok);
  EXPECT_LE(r.parts.size(), parser::max_parts);
}

TEST(multipart, handler_errors_stop_parsing) {
  struct refuser : recorder {
    result<void> on_part_data(std::string_view) override { return problem::payload_too_large("stop"); }
  } r;
  parser p(boundary);
  auto ok = p.feed(form(std::string(1000, 'a')), r);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().status, 413);
}

TEST(multipart, mutated_and_random_bodies_never_crash_and_fail_cleanly) {
  std::mt19937_64 rng(20261122);
  const std::string seed = form(std::string(200, 'p') + "\r\n--" + boundary.substr(0, 5));
  const std::string alphabet = "-\r\n\"; =:" + boundary.substr(0, 8) + std::string("\x00\xff", 2);
  std::size_t accepted = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string body = seed;
    int mutations = 1 + static_cast<int>(rng() % 8);
    for (int m = 0; m < mutations; ++m) {
      std::size_t at = body.empty() ? 0 : rng() % body.size();
      switch (rng() % 5) {
        case 0:
          if (!body.empty()) body[at] = static_cast<char>(rng());
          break;
        case 1:
          body.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          body.erase(at, std::min<std::size_t>(body.size() - at, rng() % 16));
          break;
        case 3:
          body.insert(at, body.substr(rng() % body.size(), rng() % 64));
          break;
        default:
          body.insert(at, "\r\n--" + boundary);
          break;
      }
    }
    if (round % 10 == 0) {  // plain random bytes too
      body.resize(rng() % 512);
      for (char& c : body) c = alphabet[rng() % alphabet.size()];
    }
    std::vector<std::size_t> sizes;
    sizes.reserve(4);
    for (int k = 0; k < 4; ++k) sizes.push_back(1 + rng() % 97);
    recorder r;
    auto ok = feed_split(body, r, sizes);
    if (ok) {
      ++accepted;
      EXPECT_FALSE(r.open);
    } else {
      ++refused;
      EXPECT_EQ(ok.error().status, 400) << ok.error().detail;
      EXPECT_FALSE(ok.error().detail.empty());
    }
  }
  // The harness must exercise both outcomes, or it is not testing much.
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(refused, 100u);
}

}  // namespace
}  // namespace sc::multipart
