#include "core/names.hpp"

#include <array>

namespace sc {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

}  // namespace

result<void> validate_unit_name(std::string_view name) {
  static constexpr std::array<std::string_view, 7> suffixes = {".service", ".timer", ".mount", ".socket",
                                                               ".target",  ".slice", ".scope"};
  if (name.empty()) return problem::unprocessable("name", "unit name is required");
  if (name.size() > 255) return problem::unprocessable("name", "unit name is longer than 255 bytes");
  if (name.front() == '-' || name.front() == '.') {
    return problem::unprocessable("name", "unit name must not start with '-' or '.'");
  }
  for (char c : name) {
    if (!is_name_char(c) && c != '@') {
      return problem::unprocessable("name", "unit name may only contain letters, digits and @._-");
    }
  }
  for (auto suffix : suffixes) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) return {};
  }
  return problem::unprocessable("name",
                                "unit name must end in .service, .timer, .mount, .socket, .target, "
                                ".slice or .scope");
}

result<void> validate_relative_path(std::string_view path) {
  if (path.empty()) return problem::unprocessable("name", "name is required");
  if (path.size() > 4096) return problem::unprocessable("name", "name is longer than 4096 bytes");
  if (path.front() == '/') return problem::unprocessable("name", "name must be relative");
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return problem::unprocessable("name", "name has an empty, '.' or '..' component");
    }
    if (part.size() > 255) return problem::unprocessable("name", "a name component is longer than 255 bytes");
    for (char c : part) {
      if (!is_name_char(c)) return problem::unprocessable("name", "name may only contain letters, digits and ._-");
    }
    start = end + 1;
  }
  return {};
}

result<std::filesystem::path> join_under(const std::filesystem::path& root, std::string_view relative) {
  if (!root.is_absolute()) return problem::internal_error("join_under: root is not absolute: " + root.string());
  if (relative.find('\0') != std::string_view::npos) return problem::unprocessable("path", "path contains NUL");
  std::filesystem::path base = root.lexically_normal();
  std::filesystem::path joined = (base / std::filesystem::path(relative).relative_path()).lexically_normal();
  if (std::filesystem::path(relative).is_absolute()) {
    return problem::unprocessable("path", "path must be relative");
  }
  // Compare component-wise so that "/data/ab" is not taken to be under "/data/a".
  auto b = base.begin(), j = joined.begin();
  for (; b != base.end() && !b->empty(); ++b, ++j) {
    if (j == joined.end() || *b != *j) return problem::unprocessable("path", "path escapes its root");
  }
  return joined;
}

bool has_control_characters(std::string_view text) noexcept {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

}  // namespace sc
