// Monitoring's pure parts: Prometheus's configuration, its target list read back, and the path
// check of the public /monitoring/grafana/ proxy.
#include "core/monitoring.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace sc::monitoring {
namespace {

TEST(prometheus_config, scrapes_the_node_exporter_and_the_controller_with_the_credential) {
  scrape_config c{"127.0.0.1:9100", "127.0.0.1:5309", "/state/monitoring/metrics.token", 15};
  auto yaml = YAML::Load(render_prometheus_config(c));
  EXPECT_EQ(yaml["global"]["scrape_interval"].as<std::string>(), "15s");
  const auto jobs = yaml["scrape_configs"];
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0]["job_name"].as<std::string>(), "node");
  EXPECT_EQ(jobs[0]["static_configs"][0]["targets"][0].as<std::string>(), "127.0.0.1:9100");
  EXPECT_EQ(jobs[1]["job_name"].as<std::string>(), "systemcontroller");
  EXPECT_EQ(jobs[1]["metrics_path"].as<std::string>(), "/metrics");
  EXPECT_EQ(jobs[1]["authorization"]["type"].as<std::string>(), "Bearer");
  EXPECT_EQ(jobs[1]["authorization"]["credentials_file"].as<std::string>(), "/state/monitoring/metrics.token");
  EXPECT_EQ(jobs[1]["static_configs"][0]["targets"][0].as<std::string>(), "127.0.0.1:5309");
  // A path with YAML's special characters stays one string.
  c.credentials_file = "/odd\"dir\\: #x\n- y";
  auto odd = YAML::Load(render_prometheus_config(c));
  EXPECT_EQ(odd["scrape_configs"][1]["authorization"]["credentials_file"].as<std::string>(), c.credentials_file);
  EXPECT_EQ(odd["scrape_configs"].size(), 2u);
}

TEST(prometheus_config, a_controller_without_a_tcp_listener_is_not_scraped) {
  scrape_config c{"127.0.0.1:9100", "", "/state/monitoring/metrics.token", 15};
  auto yaml = YAML::Load(render_prometheus_config(c));
  ASSERT_EQ(yaml["scrape_configs"].size(), 1u);
  EXPECT_EQ(yaml["scrape_configs"][0]["job_name"].as<std::string>(), "node");
}

TEST(prometheus_targets, become_the_status_rows_and_the_down_jobs) {
  auto t = parse_targets(R"({"status":"success","data":{"activeTargets":[
    {"labels":{"job":"node","instance":"127.0.0.1:9100"},"scrapePool":"node","scrapeUrl":"http://127.0.0.1:9100/metrics","health":"up","lastError":""},
    {"labels":{"job":"systemcontroller","instance":"127.0.0.1:5309"},"scrapeUrl":"http://127.0.0.1:5309/metrics","health":"down","lastError":"server returned HTTP status 401 Unauthorized"},
    {"scrapePool":"other","health":"unknown"},
    "junk"]}})");
  ASSERT_TRUE(t) << t.error().detail;
  ASSERT_EQ(t->scrape_targets.size(), 3u);
  EXPECT_EQ(json_string([&](json_writer& w) { write_json(w, t->scrape_targets[0]); }),
            R"({"job":"node","instance":"127.0.0.1:9100","health":"up","scrape_url":"http://127.0.0.1:9100/metrics"})");
  EXPECT_EQ(t->scrape_targets[1].last_error, "server returned HTTP status 401 Unauthorized");
  EXPECT_EQ(t->scrape_targets[2].job, "other");
  EXPECT_EQ(t->down_jobs, (std::vector<std::string>{"other", "systemcontroller"}));
  for (const char* bad : {"", "nope", "[]", R"({"status":"error"})", R"({"status":"success","data":[]})",
                          R"({"status":"success","data":{"activeTargets":{}}})"}) {
    auto refused = parse_targets(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().status, 502) << bad;
  }
}

TEST(monitoring_proxy, strips_the_prefix_and_keeps_the_query) {
  EXPECT_EQ(*proxied_target("/monitoring/grafana/", ""), "/");
  EXPECT_EQ(*proxied_target("/monitoring/grafana/graph", ""), "/graph");
  EXPECT_EQ(*proxied_target("/monitoring/grafana/api/v1/query", "query=up%7Bjob%3D%22node%22%7D"),
            "/api/v1/query?query=up%7Bjob%3D%22node%22%7D");
  EXPECT_EQ(*proxied_target("/monitoring/grafana/static/js/main.%41.js", ""), "/static/js/main.%41.js");
  EXPECT_EQ(*proxied_target("/monitoring/grafana/a..b/.c/", ""), "/a..b/.c/");
}

TEST(monitoring_proxy, refuses_paths_that_step_elsewhere_once_decoded) {
  for (const char* path : {"/monitoring/grafana/..",
                           "/monitoring/grafana/../metrics",
                           "/monitoring/grafana/a/../../x",
                           "/monitoring/grafana/%2e%2e/x",
                           "/monitoring/grafana/%2E%2e",
                           "/monitoring/grafana/.%2e/",
                           "/monitoring/grafana/./x",
                           "/monitoring/grafana/a%2fb",
                           "/monitoring/grafana/a%2F..%2Fb",
                           "/monitoring/grafana/a%5cb",
                           "/monitoring/grafana/a\\b",
                           "/monitoring/grafana/a%00b",
                           "/monitoring/grafana/a%0d%0aX-Injected:%201",
                           "/monitoring/grafana/%",
                           "/monitoring/grafana/%4",
                           "/monitoring/grafana/%zz",
                           "/monitoring/grafana/a b",
                           "/monitoring/other",
                           "/monitoring/grafana/.?x",
                           "/monitoring/grafana/..#x",
                           "/monitoring/grafana/a?b",
                           "/monitoring/grafana"}) {
    auto refused = proxied_target(path, "");
    ASSERT_FALSE(refused) << path;
    EXPECT_EQ(refused.error().status, 400) << path;
  }
  EXPECT_FALSE(proxied_target("/monitoring/grafana/graph", "a=b c"));
  EXPECT_FALSE(proxied_target("/monitoring/grafana/graph", "a=\r\nHost: evil"));
}

}  // namespace
}  // namespace sc::monitoring
