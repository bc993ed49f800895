// Every name that reaches a path, a unit file or argv (core/names.hpp, core/storage.hpp). What is
// accepted must be safe by construction: no control character, no traversal, no option-like name,
// and a join stays under its root; what is refused is a 422 (or another 4xx).
#include "core/names.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/storage.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using sc::fuzz::check;

bool traverses(std::string_view path) {
  if (path.starts_with('/')) return true;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return true;
    start = end + 1;
  }
  return false;
}

void check_refusal(const sc::problem& p, const char* what) {
  sc::fuzz::check_client_problem(p, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);

  if (auto unit = sc::validate_unit_name(name)) {
    check(!name.empty() && name.size() <= 255 && name.front() != '-' && name.front() != '.', "unit name shape");
    check(!sc::has_control_characters(name) && name.find('/') == std::string_view::npos, "unit name characters");
  } else {
    check_refusal(unit.error(), "validate_unit_name");
  }

  if (auto relative = sc::validate_relative_path(name)) {
    check(!traverses(name) && name.size() <= 4096, "a valid relative path does not traverse");
    auto joined = sc::join_under("/srv/root", name);
    check(joined.has_value(), "a valid relative path joins");
    std::string text = joined->string();
    check(text == "/srv/root" || text.starts_with("/srv/root/"), "a join stays under its root");
  } else {
    check_refusal(relative.error(), "validate_relative_path");
  }
  if (auto joined = sc::join_under("/srv/root", name)) {
    std::string text = joined->string();
    check(text == "/srv/root" || text.starts_with("/srv/root/"), "join_under stays under its root");
  }

  if (auto valid = sc::storage::validate_name(name, "name")) {
    check(!traverses(name) && !sc::has_control_characters(name), "a valid storage name is a clean relative path");
  } else {
    check(valid.error().status == 422, "a bad storage name is a 422");
    check_refusal(valid.error(), "validate_name");
  }
  for (auto [path, what] : {std::pair{sc::storage::user_volume_path(name, "name"), "user_volume_path"},
                            std::pair{sc::storage::package_volume_path(name, "name"), "package_volume_path"},
                            std::pair{sc::storage::archive_volume_path(name, "subvolume"), "archive_volume_path"}}) {
    if (path) {
      check(!traverses(*path) && sc::validate_relative_path(*path).has_value(), what);
      check(!path->starts_with("gfeh"), "nothing reaches gfeh");
    } else {
      check_refusal(path.error(), what);
    }
  }
  if (auto entry = sc::storage::classify(name)) {
    check(!entry->name.empty(), "a classified volume has a name");
  }

  if (auto components = sc::storage::member_components(name, "path")) {
    for (const auto& part : *components) {
      check(!part.empty() && part != "." && part != ".." && part.size() <= 255, "member components are clean");
      check(part.find('/') == std::string::npos && part.find('\0') == std::string::npos, "member components");
    }
    // The link target is the input's second half, so the fuzzer controls both.
    std::string_view target = name.substr(name.size() / 2);
    if (sc::storage::symlink_stays_inside(*components, target)) {
      check(!target.starts_with('/'), "an absolute symlink target never stays inside");
    }
  } else {
    check_refusal(components.error(), "member_components");
  }
  if (auto download = sc::storage::download_path(name, "path")) {
    check(!download->starts_with('-'), "a download path is never an option");
  } else {
    check_refusal(download.error(), "download_path");
  }
  for (auto format : {sc::storage::archive_format::tar_gz, sc::storage::archive_format::tar_xz}) {
    std::string file = sc::storage::download_filename(name, format);
    check(!file.empty() && file.find_first_of("/;\"\\, \r\n") == std::string::npos, "a download filename is a token");
    check(!sc::has_control_characters(file), "a download filename has no control characters");
  }
  return 0;
}
