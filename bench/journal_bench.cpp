// Micro benches of the live log stream's per-entry work (issue 4): an entry formatted once per
// group as JSON plus its SSE frame, the cursor parse used for de-duplication, and a grep filter.
#include <benchmark/benchmark.h>

#include <string>

#include "core/journal_query.hpp"
#include "core/json_writer.hpp"
#include "server/journal_json.hpp"
#include "server/sse.hpp"

namespace {

sc::journal::journal_entry sample_entry() {
  sc::journal::journal_entry e;
  e.cursor =
      "s=3622950857b84a368011ecbf6d4f81a4;i=7e6;b=d394ab89b92e4396b81af3eb2e8eca24;m=236f7292c;t=660e119cad0f7;"
      "x=7aa8db66976c9367";
  e.realtime_usec = 1'700'000'000'123'456;
  e.monotonic_usec = 9'512'102'188;
  e.message = "GET /api/v1/repos/search?q=town 200 OK in 3.2ms (gitea web)";
  e.priority = "6";
  e.syslog_facility = "3";
  e.syslog_identifier = "gitea";
  e.pid = "13632";
  e.uid = "0";
  e.gid = "0";
  e.comm = "gitea";
  e.exe = "/usr/local/bin/gitea";
  e.cmdline = "/usr/local/bin/gitea web --config /data/gitea/conf/app.ini";
  e.cap_effective = "1fffeffffff";
  e.systemd_cgroup = "/system.slice/town-os-package--default-gitea-2.0.service";
  e.systemd_unit = "town-os-package--default-gitea-2.0.service";
  e.systemd_slice = "system.slice";
  e.boot_id = "d394ab89b92e4396b81af3eb2e8eca24";
  e.machine_id = "0f5d2c8c0a3e4f5e9d3c2b1a09f8e7d6";
  e.hostname = "town";
  e.transport = "stdout";
  return e;
}

void bench_journal_entry_frame(benchmark::State& state) {
  const auto entry = sample_entry();
  std::string json;
  for (auto _ : state) {
    json.clear();
    sc::json_writer writer(json);
    sc::server::write_journal_entry(writer, entry, 0);
    auto frame = sc::server::format_sse_event(json, entry.cursor);
    benchmark::DoNotOptimize(frame);
  }
}
BENCHMARK(bench_journal_entry_frame);

void bench_parse_cursor(benchmark::State& state) {
  const auto entry = sample_entry();
  for (auto _ : state) benchmark::DoNotOptimize(sc::journal_query::parse_cursor(entry.cursor, "cursor"));
}
BENCHMARK(bench_parse_cursor);

void bench_grep_filter(benchmark::State& state) {
  const auto entry = sample_entry();
  for (auto _ : state) {
    benchmark::DoNotOptimize(sc::journal_query::entry_matches(entry.message, entry.priority, "gitea web", 6));
  }
}
BENCHMARK(bench_grep_filter);

}  // namespace
