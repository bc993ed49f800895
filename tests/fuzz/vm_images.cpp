// The VM image download rules (core/vm_images.hpp): URLs and redirect Locations from outside,
// image names, allow-list entries, IP literals and qemu-img's JSON. What is accepted must be what
// is dialled: a parsed URL re-parses to the same host, port and target, an IP literal's host is
// that literal, a refused address is never let through, and every refusal is a 4xx.
//
// Input: byte 0 chooses the base URL a redirect resolves against; the rest is the text.
#include "core/vm_images.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"

namespace {

using sc::fuzz::check;
namespace vm = sc::vm_images;

bool clean(std::string_view text) {
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

void check_target(const vm::fetch_target& t) {
  check(!t.host.empty() && t.port != 0, "a parsed URL has a host and a port");
  check(!t.target.empty() && t.target.front() == '/', "the request target is origin-form");
  check(clean(t.target) && clean(t.host_header) && clean(t.host), "no space or control character reaches the wire");
  if (t.literal) {
    auto again = vm::parse_ip_literal(t.host);
    check(again.has_value() && *again == *t.literal, "a literal host is the address dialled");
  } else {
    check(t.host.find(':') == std::string::npos && !vm::parse_ip_literal(t.host), "a name is not an address");
  }
  auto reparsed = vm::parse_fetch_url(t.text);
  check(reparsed.has_value(), "a parsed URL's text parses again");
  if (reparsed) {
    check(reparsed->host == t.host && reparsed->port == t.port && reparsed->target == t.target &&
              reparsed->https == t.https,
          "parsing is idempotent");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sc::fuzz::input in(data, size);
  const std::uint8_t choice = in.byte();
  std::string_view text = in.rest();

  if (auto url = vm::parse_fetch_url(text)) {
    check_target(*url);
  } else {
    sc::fuzz::check_client_problem(url.error(), "parse_fetch_url");
  }

  static const char* const bases[] = {"http://example.org/dir/image.qcow2", "https://[2606:4700::1111]:8443/a?b=c",
                                      "http://93.184.216.34/"};
  auto base = vm::parse_fetch_url(bases[choice % 3]);
  check(base.has_value(), "the bases parse");
  if (auto next = vm::resolve_redirect(*base, text)) {
    check_target(*next);
  } else {
    sc::fuzz::check_client_problem(next.error(), "resolve_redirect");
  }

  if (auto address = vm::parse_ip_literal(text)) {
    auto again = vm::parse_ip_literal(address->to_string());
    check(again.has_value() && *again == *address, "an address prints as a literal that parses back");
    const bool refused = !vm::check_dial(*address, 80, {});
    check(refused == vm::refusal_reason(*address).has_value(), "the guard refuses exactly the refused ranges");
  }
  if (auto entry = vm::parse_allowed_endpoint(text)) {
    check(!entry->port || *entry->port != 0, "an allowed port is never 0");
  }

  for (auto name : {vm::image_name(text, "x.qcow2"), vm::image_name("", text), vm::existing_image_name(text)}) {
    if (name) {
      check(!name->empty() && name->size() <= 200 && name->front() != '.' && name->front() != '-',
            "an image name is a plain file name");
      check(name->find_first_of("/:\\") == std::string::npos && clean(*name), "an image name is one safe component");
    } else {
      sc::fuzz::check_client_problem(name.error(), "image_name");
    }
  }

  if (auto facts = vm::check_image_info(text, choice)) {
    check(!facts->format.empty(), "an accepted image has a format");
    check(choice == 0 || facts->virtual_size <= choice, "the size limit holds");
  } else {
    sc::fuzz::check_client_problem(facts.error(), "check_image_info");
  }
  return 0;
}
