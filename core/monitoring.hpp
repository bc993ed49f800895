#pragma once
// Monitoring's pure parts (issue 15; behavior-core.md §5.8): Prometheus's configuration, the
// scrape targets of GET /monitoring/status from Prometheus's own API, and the path check of the
// /monitoring/grafana/ proxy.

#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.hpp"
#include "core/problem.hpp"
#include "core/schema.hpp"

namespace sc::monitoring {

inline constexpr std::string_view proxy_prefix = "/monitoring/grafana/";

struct scrape_config {
  std::string node_exporter;     // "127.0.0.1:9100"
  std::string controller;        // "127.0.0.1:5309": the controller's TCP listener; "" when it has none
  std::string credentials_file;  // the metrics credential, which Prometheus sends as a Bearer token
  int interval_seconds = 15;
};
// prometheus.yml: scrape node-exporter (job "node") and the controller's /metrics (job
// "systemcontroller", with the credential; left out when `controller` is empty: Prometheus cannot
// reach a controller on its Unix socket only) every `interval_seconds`. Every value is the
// controller's own; each is still quoted as a YAML string.
std::string render_prometheus_config(const scrape_config& config);

// GET /api/v1/targets of Prometheus → the status's `scrape_targets`
// ([{"job","instance","health","last_error"?,"scrape_url"?}]) and `down_jobs` (jobs with a target
// not up, sorted, unique). 502 when the text is not Prometheus's answer.
struct scrape_target {
  std::string job;
  std::string instance;
  std::string health;
  std::string last_error;  // left out of the JSON when empty, as is scrape_url
  std::string scrape_url;
};
struct targets {
  std::vector<scrape_target> scrape_targets;
  std::vector<std::string> down_jobs;
};
result<targets> parse_targets(std::string_view body);
void write_json(json_writer& w, const scrape_target& target);
// The shape write_json writes.
schema::type scrape_target_schema();

// The upstream request target for a proxied request: `path` is the request's path (starting with
// proxy_prefix), `query` its raw query ("" for none). The prefix is stripped ("/monitoring/grafana/
// graph" → "/graph"). 400 for a path that could step outside what it names once decoded: a `.` or
// `..` segment, an encoded slash, backslash, NUL or control character, a raw `?` or `#`, or
// malformed %-escapes;
// 400 for control characters or spaces in the query.
result<std::string> proxied_target(std::string_view path, std::string_view query);

}  // namespace sc::monitoring
