// Package model benches: parse + compile of every definition of the default repository (µs per
// package), and the in-memory work of GET /packages over a 3-repository catalog (snapshot →
// page → JSON; no git and no disk per request).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/packages/compile.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/questions.hpp"
#include "server/catalog.hpp"

namespace {

namespace fs = std::filesystem;
using namespace sc;

struct fixture_text {
  std::string name;
  std::string version;
  std::string yaml;
};

const std::vector<fixture_text>& fixture() {
  static const std::vector<fixture_text> texts = [] {
    std::vector<fixture_text> out;
    for (const auto& dir : fs::directory_iterator(fs::path(SC_FIXTURE_PACKAGES) / "packages")) {
      for (const auto& file : fs::directory_iterator(dir.path())) {
        std::ifstream in(file.path());
        std::ostringstream text;
        text << in.rdbuf();
        out.push_back({dir.path().filename().string(), file.path().stem().string(), text.str()});
      }
    }
    return out;
  }();
  return texts;
}

void report_per_package(benchmark::State& state, std::size_t packages) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * packages));
  state.counters["us_per_package"] =
      benchmark::Counter(static_cast<double>(state.iterations() * packages),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}

void bench_parse_fixture_definitions(benchmark::State& state) {
  const auto& texts = fixture();
  if (texts.size() != 36) state.SkipWithError("fixture missing");
  for (auto _ : state) {
    for (const auto& t : texts) {
      auto def = packages::parse_definition(t.yaml);
      benchmark::DoNotOptimize(def);
    }
  }
  report_per_package(state, texts.size());
}
BENCHMARK(bench_parse_fixture_definitions)->Unit(benchmark::kMicrosecond);

void bench_parse_and_compile_fixture_definitions(benchmark::State& state) {
  const auto& texts = fixture();
  if (texts.size() != 36) state.SkipWithError("fixture missing");
  for (auto _ : state) {
    for (const auto& t : texts) {
      auto def = packages::parse_definition(t.yaml);
      packages::auto_answer_context auto_context;
      auto_context.effective_name = t.name;
      auto answers = packages::auto_answers(*def, {}, auto_context);
      for (const auto& q : def->questions) {
        if (!q.optional && answers[q.key].empty()) answers[q.key] = q.type == "bytes" ? "10gb" : "example";
      }
      packages::compile_context context;
      context.repo = "default";
      context.name = t.name;
      context.version = t.version;
      context.effective_name = t.name;
      auto compiled = packages::compile(*def, context, answers);
      if (!compiled) state.SkipWithError(compiled.error().detail.c_str());
      benchmark::DoNotOptimize(compiled);
    }
  }
  report_per_package(state, texts.size());
}
BENCHMARK(bench_parse_and_compile_fixture_definitions)->Unit(benchmark::kMicrosecond);

// What GET /packages?limit=20 does per request: read the snapshot, page, write JSON.
void bench_packages_page_three_repositories(benchmark::State& state) {
  std::vector<std::shared_ptr<const server::catalog_repository>> repos;
  for (const char* name : {"default", "extras", "mine"}) {
    repos.push_back(
        std::make_shared<const server::catalog_repository>(server::load_checkout(name, fs::path(SC_FIXTURE_PACKAGES))));
  }
  auto snapshot = server::build_snapshot(repos);
  if (snapshot->latest.size() != 19) state.SkipWithError("fixture missing");
  static const list_field<server::package_list_entry> fields[] = {
      {"name", [](const server::package_list_entry& e) -> list_value { return std::string_view(e.name); }, false},
      {"description", [](const server::package_list_entry& e) -> list_value { return std::string_view(e.description); },
       false},
  };
  list_query query;
  for (auto _ : state) {
    auto page = paginate(snapshot->latest, query, std::span<const list_field<server::package_list_entry>>(fields));
    std::string body;
    body.reserve(4096);
    json_writer w(body);
    write_list_envelope(w, page, [](json_writer& writer, const server::package_list_entry& e) {
      writer.begin_object().key("repo").value(e.repo).key("name").value(e.name).key("version").value(e.version);
      writer.key("description").value(e.description).key("supplies").value(e.supplies).key("installed").value(false);
      writer.end_object();
    });
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(bench_packages_page_three_repositories)->Unit(benchmark::kMicrosecond);

}  // namespace
