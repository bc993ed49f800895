// The public /monitoring/grafana/ proxy's path check and the reading of Prometheus's target list
// (core/monitoring.hpp). Whatever the input: an accepted path goes up as a path below the
// upstream's root with no segment that decodes to `.` or `..` or holds a slash, and nothing that
// could end the request line; a refusal is a 400. Target lists are read or refused with a 502,
// never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/monitoring.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

std::string decode(std::string_view segment) {
  std::string out;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size()) {
      out += static_cast<char>(std::stoi(std::string(segment.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += segment[i];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using sc::fuzz::check;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty()) return 0;
  const bool targets = (static_cast<unsigned char>(input[0]) & 1) != 0;
  std::string_view rest = input.substr(1);
  if (targets) {
    auto parsed = sc::monitoring::parse_targets(rest);
    if (!parsed) check(parsed.error().status == 502, "an unreadable target list is a 502");
    return 0;
  }
  auto split = rest.find('\0');
  std::string path = std::string(sc::monitoring::proxy_prefix) + std::string(rest.substr(0, split));
  std::string_view query = split == std::string_view::npos ? std::string_view() : rest.substr(split + 1);
  auto target = sc::monitoring::proxied_target(path, query);
  if (!target) {
    check(target.error().status == 400, "a refused path is a 400");
    return 0;
  }
  check(target->starts_with("/"), "the target is below the upstream's root");
  for (char c : *target) {
    auto u = static_cast<unsigned char>(c);
    check(u > 0x20 && u != 0x7f, "nothing that ends the request line");
  }
  std::string_view target_path(*target);
  target_path = target_path.substr(0, target_path.find('?'));
  check(target_path.find('\\') == std::string_view::npos, "no backslash in the path");
  std::size_t start = 1;
  while (start <= target_path.size()) {
    std::size_t end = target_path.find('/', start);
    if (end == std::string_view::npos) end = target_path.size();
    std::string segment = decode(target_path.substr(start, end - start));
    check(segment != "." && segment != "..", "no dot segment");
    check(segment.find('/') == std::string::npos, "no encoded slash");
    start = end + 1;
  }
  return 0;
}
