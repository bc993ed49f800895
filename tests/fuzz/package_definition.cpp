// A package definition (core/packages/definition.hpp) parsed from arbitrary YAML and, when it
// parses, compiled (core/packages/compile.hpp) with the answers an install would generate plus
// the answers the input supplies. Every outcome is a definition or a 422 naming its fields; a
// compiled package carries no control character into what reaches unit files and argv.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/packages/compile.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/questions.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

bool has_control(std::string_view text) {
  for (char c : text) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

void check_unit_safe(const sc::packages::compiled_package& package) {
  sc::fuzz::check(!has_control(package.image_reference), "no control character in the image");
  for (const auto& arg : package.entrypoint) sc::fuzz::check(!has_control(arg), "no control character in argv");
  for (const auto& arg : package.command) sc::fuzz::check(!has_control(arg), "no control character in argv");
  for (const auto& [key, value] : package.environment) {
    sc::fuzz::check(!has_control(key) && !has_control(value), "no control character in the environment");
  }
  for (const auto& volume : package.volumes) {
    sc::fuzz::check(!has_control(volume.mountpoint), "no control character in a mount point");
  }
  for (const auto* ports : {&package.external_ports, &package.internal_ports}) {
    for (const auto& port : *ports) {
      sc::fuzz::check(port.host >= 0 && port.host <= 65535 && port.container >= 0 && port.container <= 65535,
                      "ports are 0..65535");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The YAML, then (after a NUL) answers as "key=value" lines.
  sc::fuzz::input in(data, size);
  std::string_view yaml = in.piece('\0');
  auto def = sc::packages::parse_definition(yaml);
  if (!def) {
    sc::fuzz::check(def.error().status == 422, "a bad definition is a 422");
    sc::fuzz::check(!def.error().errors.empty(), "a bad definition names its fields");
    sc::fuzz::check_client_problem(def.error(), "parse_definition");
    return 0;
  }
  sc::packages::marker_values given;
  while (!in.empty()) {
    std::string_view line = in.piece('\n');
    auto eq = line.find('=');
    if (eq != std::string_view::npos) given.insert_or_assign(std::string(line.substr(0, eq)), line.substr(eq + 1));
  }
  sc::packages::auto_answer_context context{.effective_name = "fuzz",
                                            .used_ports = {},
                                            .port_free = [](int) { return true; },
                                            .random_bytes =
                                                [](unsigned char* out, std::size_t n) {
                                                  for (std::size_t i = 0; i < n; ++i)
                                                    out[i] = static_cast<unsigned char>(i);
                                                }};
  auto answers = sc::packages::auto_answers(*def, std::move(given), context);
  sc::packages::compile_context where{.repo = "fuzz",
                                      .name = "fuzz",
                                      .version = "1",
                                      .effective_name = "fuzz",
                                      .dns_tld = "home",
                                      .external_host = "host.home",
                                      .internal_host = "10.0.0.1"};
  auto compiled = sc::packages::compile(*def, where, answers);
  if (!compiled) {
    sc::fuzz::check(compiled.error().status == 422, "a definition that does not compile is a 422");
    sc::fuzz::check(!compiled.error().errors.empty(), "a compile failure names its fields");
    sc::fuzz::check_client_problem(compiled.error(), "compile");
    return 0;
  }
  check_unit_safe(*compiled);
  return 0;
}
