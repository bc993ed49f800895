// Adversarial input to the real binary: thousands of mutated and random requests. Every one must
// get a well-formed reply (2xx for the valid ones, problem+json 4xx otherwise) or a clean close —
// never a crash, a hang or a 5xx — and the server must keep serving throughout.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <random>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

const std::vector<std::string> seeds = {
    "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /status/ping?limit=5&search=a%20b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n",
    "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "HEAD /metrics HTTP/1.0\r\n\r\n",
};

std::string mutate(std::string input, std::mt19937& random) {
  std::uniform_int_distribution<int> kind(0, 5);
  std::uniform_int_distribution<int> byte(0, 255);
  int edits = 1 + static_cast<int>(random() % 8);
  for (int e = 0; e < edits && !input.empty(); ++e) {
    std::size_t at = random() % input.size();
    switch (kind(random)) {
      case 0:
        input[at] = static_cast<char>(byte(random));
        break;  // flip a byte
      case 1:
        input.erase(at, 1 + random() % 4);
        break;  // drop bytes
      case 2:
        input.insert(at, std::string(1 + random() % 3, static_cast<char>(byte(random))));
        break;
      case 3:
        input.insert(at, std::string(1 + random() % 20000, 'A'));
        break;  // overlong run
      case 4:
        input.insert(at, "\r\n");
        break;  // break framing
      case 5:
        input.insert(at, seeds[random() % seeds.size()]);
        break;  // splice
    }
  }
  return input;
}

void check_reply(const http_reply& reply, const std::string& sent) {
  ASSERT_TRUE(reply.status == 200 || (reply.status >= 400 && reply.status < 500))
      << "status " << reply.status << " for " << testing::PrintToString(sent.substr(0, 200));
  if (reply.status >= 400 && !reply.body.empty()) {
    EXPECT_EQ(reply.header("content-type"), "application/problem+json");
    auto body = boost::json::parse(reply.body);
    EXPECT_EQ(body.at("status").as_int64(), reply.status);
  }
}

TEST(http_adversarial, mutated_requests_get_4xx_or_a_clean_close) {
  server_process server({"--header-timeout", "100", "--idle-timeout", "100"});
  ASSERT_TRUE(server.started());
  std::mt19937 random(20261122);
  int replies = 0, closes = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string sent = mutate(seeds[random() % seeds.size()], random);
    auto connection = raw_connection::tcp(server.port());
    ASSERT_TRUE(connection.connected()) << "server stopped accepting after " << i << " requests\n" << server.log();
    connection.send(sent);
    // A reply, or the server closing (possibly after the header timeout for an unfinished head).
    auto reply = connection.read_reply(std::chrono::seconds(5), sent.rfind("HEAD", 0) == 0);
    if (reply) {
      ++replies;
      check_reply(*reply, sent);
    } else {
      ++closes;
    }
    if (i % 100 == 0) {
      ASSERT_EQ(request(server.port(), "GET", "/health").status, 200) << "after " << i;
    }
  }
  EXPECT_GT(replies, 0);
  EXPECT_EQ(request(server.port(), "GET", "/health").status, 200);
  EXPECT_EQ(server.log().find("ERROR"), std::string::npos) << server.log();
  RecordProperty("replies", replies);
  RecordProperty("closes", closes);
}

TEST(http_adversarial, random_bytes_never_crash_the_server) {
  server_process server({"--header-timeout", "300"});
  ASSERT_TRUE(server.started());
  std::mt19937 random(7);
  for (int i = 0; i < 300; ++i) {
    std::string noise(1 + random() % 2048, '\0');
    for (char& c : noise) c = static_cast<char>(random());
    auto connection = raw_connection::tcp(server.port());
    ASSERT_TRUE(connection.connected());
    connection.send(noise + "\r\n\r\n");
    if (auto reply = connection.read_reply(std::chrono::seconds(5))) check_reply(*reply, noise);
  }
  EXPECT_EQ(request(server.port(), "GET", "/health").status, 200);
}

}  // namespace
}  // namespace sc::test
