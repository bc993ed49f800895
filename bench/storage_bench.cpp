// Micro benches of the upload path's pure parts: the incremental multipart parser over a large
// body fed in socket-sized chunks (bytes/s), and the name rules every storage request runs.
#include <benchmark/benchmark.h>

#include <string>

#include "core/multipart.hpp"
#include "core/storage.hpp"

namespace {

struct counting_handler : sc::multipart::part_handler {
  std::size_t bytes = 0;
  sc::result<void> on_part_begin(const sc::multipart::part_info&) override { return {}; }
  sc::result<void> on_part_data(std::string_view data) override {
    bytes += data.size();
    return {};
  }
  sc::result<void> on_part_end() override { return {}; }
};

void multipart_feed(benchmark::State& state) {
  const std::string boundary = "----bench-boundary-1234567890";
  std::string payload(std::size_t{16} << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 2654435761u) >> 11);
  std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"subvolume\"\r\n\r\nmedia\r\n--" +
                     boundary + "\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"a.tar\"\r\n\r\n" +
                     payload + "\r\n--" + boundary + "--\r\n";
  const auto chunk = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    sc::multipart::parser parser(boundary);
    counting_handler handler;
    for (std::size_t at = 0; at < body.size(); at += chunk) {
      if (!parser.feed(std::string_view(body).substr(at, chunk), handler)) state.SkipWithError("parse failed");
    }
    benchmark::DoNotOptimize(handler.bytes);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(multipart_feed)->Arg(4096)->Arg(65536);

void storage_name_rules(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(sc::storage::user_volume_path("media/photos-2024", "name"));
    benchmark::DoNotOptimize(sc::storage::classify("installed/default/immich/subpackages/db/1.0/data"));
  }
}
BENCHMARK(storage_name_rules);

}  // namespace
