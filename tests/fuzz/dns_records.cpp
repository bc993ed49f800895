// The local zone's record rules (core/dns.hpp): whatever the input, a record that is accepted
// renders as exactly one zone line that starts with its owner, holds no control character and
// opens no directive; a refusal is a client problem (4xx), never a crash or a 5xx.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/dns.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using sc::fuzz::check;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty()) return 0;
  // First byte: the type; the rest: "name\0value".
  constexpr const char* types[] = {"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR"};
  const char* type = types[static_cast<unsigned char>(input[0]) % 7];
  std::string_view rest = input.substr(1);
  auto split = rest.find('\0');
  std::string_view name = rest.substr(0, split);
  std::string_view value = split == std::string_view::npos ? std::string_view() : rest.substr(split + 1);

  auto made = sc::dns::make_record(name, type, value, 0, "home");
  if (!made) {
    sc::fuzz::check_client_problem(made.error(), "make_record");
    return 0;
  }
  sc::dns::zone z{"home", 1, "192.0.2.1", {*made}};
  std::string text = sc::dns::render_zone(z);
  std::string empty = sc::dns::render_zone(sc::dns::zone{"home", 1, "192.0.2.1", {}});
  check(text.size() > empty.size() && text.starts_with(empty), "an accepted record adds to the zone");
  std::string line = text.substr(empty.size());
  check(line.back() == '\n' && line.find('\n') == line.size() - 1, "one record, one line");
  check(line.starts_with(made->name + " "), "the line starts with the owner");
  check(line.find('$') == std::string::npos || made->type == sc::dns::record_type::txt, "no directive");
  for (char c : line.substr(0, line.size() - 1)) {
    auto u = static_cast<unsigned char>(c);
    check(u >= 0x20 && u < 0x7f, "printable ASCII only");
  }
  if (made->type == sc::dns::record_type::txt) {
    // Outside the quoted strings there is nothing but the prefix.
    auto quote = line.find('"');
    check(quote != std::string::npos && line.substr(0, quote) == made->name + " 300 IN TXT ", "TXT is quoted");
  }
  auto again = sc::dns::make_record(made->name, type, made->value, made->ttl, "home");
  check(again.has_value() && again->value == made->value, "canonical forms are fixed points");
  return 0;
}
