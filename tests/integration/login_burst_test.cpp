// Burst memory (issue 11 §5): concurrent logins are admitted by one hashing memory budget. Beyond
// what fits, they wait in a bounded queue, and beyond that they are refused with 429 and
// Retry-After; the server stays healthy and logs in again once the burst is over.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"

namespace sc::test {
namespace {

// One line of /metrics, e.g. metric(server, "townos_password_hash_memory_bytes{kind=\"peak\"}").
std::string metric(server_process& server, const std::string& name) {
  auto reply = request_unix(server.socket_path(), "GET", "/metrics");
  EXPECT_EQ(reply.status, 200);
  auto at = reply.body.find("\n" + name + " ");
  if (at == std::string::npos) return "(missing)";
  at += name.size() + 2;
  return reply.body.substr(at, reply.body.find('\n', at) - at);
}

const std::string budget_metric = R"(townos_password_hash_memory_bytes{kind="budget"})";
const std::string peak_metric = R"(townos_password_hash_memory_bytes{kind="peak"})";

constexpr const char* login_body = R"({"username":"admin","password":"correct-horse"})";

TEST(login_burst, one_hash_at_a_time_and_a_full_queue_answers_429) {
  // A budget of one default hash (64 MiB): one login hashes, 16 wait, the rest are refused.
  server_process server({"--password-hash-memory", "67108864"});
  ASSERT_TRUE(server.started());
  ASSERT_FALSE(bootstrap_admin(server.port()).empty());

  constexpr int logins = 40;
  std::vector<raw_connection> connections;
  for (int i = 0; i < logins; ++i) {
    connections.push_back(raw_connection::tcp(server.port()));
    ASSERT_TRUE(connections.back().connected());
  }
  std::vector<std::optional<http_reply>> replies(logins);
  std::barrier start(logins);
  std::vector<std::thread> threads;
  threads.reserve(logins);
  const std::string wire = format_request("POST", "/account/authenticate", login_body, {});
  for (int i = 0; i < logins; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      if (connections[i].send(wire)) replies[i] = connections[i].read_reply(std::chrono::seconds(30));
    });
  }
  for (auto& t : threads) t.join();

  int ok = 0;
  int throttled = 0;
  for (const auto& reply : replies) {
    ASSERT_TRUE(reply.has_value()) << "a login got no answer";
    if (reply->status == 200) {
      ++ok;
    } else {
      EXPECT_EQ(reply->status, 429) << reply->body;
      EXPECT_EQ(reply->header("retry-after"), "1");
      EXPECT_EQ(reply->header("content-type"), "application/problem+json");
      ++throttled;
    }
  }
  // 1 running + 16 queued at most: with 40 arriving together some are refused (how many depends
  // on how fast the machine hashes while they arrive); those that waited too long are refused too.
  EXPECT_GE(ok, 1);
  EXPECT_GE(throttled, 1) << ok << " logins succeeded";
  EXPECT_EQ(request(server.port(), "GET", "/health").status, 200);
  EXPECT_EQ(request(server.port(), "POST", "/account/authenticate", login_body).status, 200);
  // The budget was never exceeded: one 64 MiB hash at a time.
  EXPECT_EQ(metric(server, peak_metric), "67108864");
  EXPECT_EQ(metric(server, R"(townos_password_hash_memory_bytes{kind="in_use"})"), "0");
}

TEST(login_burst, the_setting_overrides_the_flag_and_is_validated) {
  server_process server;
  ASSERT_TRUE(server.started());
  const std::string token = bootstrap_admin(server.port());
  ASSERT_FALSE(token.empty());
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + token}};
  EXPECT_EQ(metric(server, budget_metric), "134217728");  // the default: two hashes at 64 MiB
  EXPECT_EQ(
      request(server.port(), "POST", "/settings/set", R"({"key":"password_hash_memory","value":"1MiB"})", auth).status,
      422);
  EXPECT_EQ(
      request(server.port(), "POST", "/settings/set", R"({"key":"password_hash_memory","value":"64MiB"})", auth).status,
      200);
  EXPECT_EQ(metric(server, budget_metric), "67108864");
  EXPECT_EQ(request(server.port(), "POST", "/account/authenticate", login_body).status, 200);
  EXPECT_EQ(
      request(server.port(), "POST", "/settings/set", R"({"key":"password_hash_memory","value":"0"})", auth).status,
      200);
  EXPECT_EQ(metric(server, budget_metric), "134217728");
  EXPECT_EQ(request(server.port(), "POST", "/account/authenticate", login_body).status, 200);
}

}  // namespace
}  // namespace sc::test
