#include "server/metrics.hpp"

#include <cstdio>

namespace sc::server {

metrics::metrics(std::size_t route_count) : by_route_(route_count) {}

void metrics::record(std::size_t route, int status, std::chrono::nanoseconds latency) {
  std::size_t status_class = status >= 100 && status < 600 ? static_cast<std::size_t>(status / 100 - 1) : 4;
  if (route < by_route_.size()) {
    ++by_route_[route][status_class];
  } else {
    ++unmatched_[status_class];
  }
  double seconds = std::chrono::duration<double>(latency).count();
  std::size_t bucket = 0;
  while (bucket < bucket_bounds.size() && seconds > bucket_bounds[bucket]) ++bucket;
  ++latency_buckets_[bucket];
  latency_sum_seconds_ += seconds;
  ++latency_count_;
}

namespace {

void append_line(std::string& out, const char* format, auto... args) {
  char line[512];
  int n = std::snprintf(line, sizeof line, format, args...);
  if (n > 0) out.append(line, static_cast<std::size_t>(n < static_cast<int>(sizeof line) ? n : sizeof line - 1));
}

}  // namespace

std::string metrics::render(std::span<const route> routes, const gauges& extra) const {
  std::string out;
  out.reserve(4096 + routes.size() * 160);
  static constexpr const char* classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

  out += "# HELP townos_up Whether the controller is serving.\n# TYPE townos_up gauge\ntownos_up 1\n";
  out +=
      "# HELP townos_start_time_seconds Unix time the controller started.\n"
      "# TYPE townos_start_time_seconds gauge\n";
  append_line(out, "townos_start_time_seconds %.3f\n", extra.start_time_seconds);
  out += "# HELP townos_uptime_seconds Seconds since the controller started.\n# TYPE townos_uptime_seconds gauge\n";
  append_line(out, "townos_uptime_seconds %.3f\n", extra.uptime_seconds);

  out +=
      "# HELP townos_http_requests_total HTTP requests by route and status class.\n"
      "# TYPE townos_http_requests_total counter\n";
  for (std::size_t i = 0; i < routes.size() && i < by_route_.size(); ++i) {
    for (std::size_t c = 0; c < 5; ++c) {
      if (by_route_[i][c] == 0) continue;
      std::string_view method = boost::beast::http::to_string(routes[i].method);
      append_line(out, "townos_http_requests_total{method=\"%.*s\",route=\"%.*s\",status=\"%s\"} %llu\n",
                  static_cast<int>(method.size()), method.data(), static_cast<int>(routes[i].path.size()),
                  routes[i].path.data(), classes[c], static_cast<unsigned long long>(by_route_[i][c]));
    }
  }
  for (std::size_t c = 0; c < 5; ++c) {
    if (unmatched_[c] == 0) continue;
    append_line(out, "townos_http_requests_total{method=\"\",route=\"unmatched\",status=\"%s\"} %llu\n", classes[c],
                static_cast<unsigned long long>(unmatched_[c]));
  }

  out +=
      "# HELP townos_http_request_duration_seconds Time from a request's first byte to its response.\n"
      "# TYPE townos_http_request_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < bucket_bounds.size(); ++b) {
    cumulative += latency_buckets_[b];
    append_line(out, "townos_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_bounds[b],
                static_cast<unsigned long long>(cumulative));
  }
  cumulative += latency_buckets_.back();
  append_line(out, "townos_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
              static_cast<unsigned long long>(cumulative));
  append_line(out, "townos_http_request_duration_seconds_sum %.6f\n", latency_sum_seconds_);
  append_line(out, "townos_http_request_duration_seconds_count %llu\n",
              static_cast<unsigned long long>(latency_count_));

  out += "# HELP townos_http_open_connections Connections open now.\n# TYPE townos_http_open_connections gauge\n";
  append_line(out, "townos_http_open_connections %lld\n", static_cast<long long>(open_connections_));
  out += "# HELP townos_http_connections_total Connections accepted.\n# TYPE townos_http_connections_total counter\n";
  append_line(out, "townos_http_connections_total %llu\n", static_cast<unsigned long long>(accepted_connections_));
  out +=
      "# HELP townos_http_connections_refused_total Connections refused at the connection limit.\n"
      "# TYPE townos_http_connections_refused_total counter\n";
  append_line(out, "townos_http_connections_refused_total %llu\n",
              static_cast<unsigned long long>(refused_connections_));
  out += "# HELP townos_sse_subscribers Server-Sent Events streams open now.\n# TYPE townos_sse_subscribers gauge\n";
  append_line(out, "townos_sse_subscribers %lld\n", static_cast<long long>(sse_subscribers_));
  out += "# HELP townos_child_processes Child processes running now.\n# TYPE townos_child_processes gauge\n";
  append_line(out, "townos_child_processes %zu\n", extra.running_children);
  out +=
      "# HELP townos_child_processes_awaited_total Child processes awaited to their end.\n"
      "# TYPE townos_child_processes_awaited_total counter\n";
  append_line(out, "townos_child_processes_awaited_total %llu\n",
              static_cast<unsigned long long>(extra.children_awaited));
  out +=
      "# HELP townos_child_process_wait_seconds_total Wall time spent awaiting child processes.\n"
      "# TYPE townos_child_process_wait_seconds_total counter\n";
  append_line(out, "townos_child_process_wait_seconds_total %.6f\n", extra.children_wait_seconds);
  out +=
      "# HELP townos_systemd_wait_seconds_total Wall time spent awaiting systemd's replies and jobs.\n"
      "# TYPE townos_systemd_wait_seconds_total counter\n";
  append_line(out, "townos_systemd_wait_seconds_total %.6f\n", extra.systemd_wait_seconds);
  out +=
      "# HELP townos_package_start_wait_seconds_total Wall time installs spent waiting for their apps to come up.\n"
      "# TYPE townos_package_start_wait_seconds_total counter\n";
  append_line(out, "townos_package_start_wait_seconds_total %.6f\n", extra.package_start_wait_seconds);
  out +=
      "# HELP townos_password_hash_memory_bytes Memory password hashes may use together (budget), use now, and "
      "have used at most (peak).\n# TYPE townos_password_hash_memory_bytes gauge\n";
  append_line(out, "townos_password_hash_memory_bytes{kind=\"budget\"} %llu\n",
              static_cast<unsigned long long>(extra.hash_memory_budget));
  append_line(out, "townos_password_hash_memory_bytes{kind=\"in_use\"} %llu\n",
              static_cast<unsigned long long>(extra.hash_memory_in_use));
  append_line(out, "townos_password_hash_memory_bytes{kind=\"peak\"} %llu\n",
              static_cast<unsigned long long>(extra.hash_memory_peak));
  out +=
      "# HELP townos_password_hashes_waiting Password hashes waiting for memory.\n"
      "# TYPE townos_password_hashes_waiting gauge\n";
  append_line(out, "townos_password_hashes_waiting %zu\n", extra.hash_waiting);
  out +=
      "# HELP townos_upgrades_available Installed packages with a higher version or a changed definition in their "
      "repository.\n# TYPE townos_upgrades_available gauge\n";
  append_line(out, "townos_upgrades_available %zu\n", extra.upgrades_available);
  return out;
}

}  // namespace sc::server
