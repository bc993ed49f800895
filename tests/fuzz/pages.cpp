// Every field of a page a client sends (core/pages.hpp): the input is split at NUL bytes into name,
// domain, source type, repo URL, branch, image and image directory. What is accepted must be safe
// to use as a path component, a Caddy host, and git's or podman's argv; what is refused is a 4xx.
#include "core/pages.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/names.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using sc::fuzz::check;

bool safe_component(std::string_view text) {
  return !text.empty() && text.find('/') == std::string_view::npos && text != "." && text != ".." &&
         !text.starts_with('-') && !sc::has_control_characters(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  for (std::size_t start = 0; parts.size() < 7;) {
    auto end = input.find('\0', start);
    parts.emplace_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  parts.resize(7);
  sc::pages::page_request request;
  request.name = parts[0];
  if (!parts[1].empty()) request.domain = parts[1];
  if (!parts[2].empty()) request.source_type = parts[2];
  if (!parts[3].empty()) request.repo_url = parts[3];
  if (!parts[4].empty()) request.branch = parts[4];
  if (!parts[5].empty()) request.image = parts[5];
  if (!parts[6].empty()) request.image_directory = parts[6];

  auto made = sc::pages::make_page(request, "2026-01-01T00:00:00Z");
  if (!made) {
    sc::fuzz::check_client_problem(made.error(), "make_page");
    return 0;
  }
  check(safe_component(made->name) && made->name.size() <= 63, "a page name is one safe component");
  check(made->domain.size() <= 253 && made->domain.find("..") == std::string_view::npos &&
            !made->domain.starts_with('.') && !made->domain.starts_with('-'),
        "a domain is one safe path component");
  for (char c : made->domain) check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.', "ldh");
  check(!made->branch.starts_with('-') && !sc::has_control_characters(made->branch), "branch is no option");
  check(made->image.empty() || !made->image.starts_with('-'), "image is no option");
  check(!sc::has_control_characters(made->repo_url) && !made->repo_url.starts_with('-'), "repo_url is no option");
  if (!made->image_directory.empty()) {
    check(made->image_directory.starts_with('/') && !sc::has_control_characters(made->image_directory),
          "image_directory is absolute");
    for (std::size_t start = 1; start < made->image_directory.size();) {
      auto end = made->image_directory.find('/', start);
      if (end == std::string::npos) end = made->image_directory.size();
      std::string_view part = std::string_view(made->image_directory).substr(start, end - start);
      check(!part.empty() && part != "." && part != "..", "image_directory has no empty, . or .. component");
      start = end + 1;
    }
  }
  auto again = sc::pages::merge_update(*made, request, "2026-01-02T00:00:00Z");
  check(again.has_value(), "a valid page merged with its own request stays valid");
  return 0;
}
