#include "core/storage.hpp"

#include <algorithm>

#include "core/names.hpp"

namespace sc::storage {

namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string_view>& parts, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) {
    if (i > from) out += '/';
    out += parts[i];
  }
  return out;
}

// core/names reports every failure against the field "name"; callers here name their own field.
problem renamed(problem p, std::string_view field) {
  std::string message = p.errors.empty() ? p.detail : p.errors.front().message;
  return problem::unprocessable(std::string(field), "invalid filesystem name: " + message);
}

constexpr std::array<std::string_view, 6> archive_prefixes = {"installed/", "uninstalled/", "archives/",
                                                              "pages/",     "vm-images/",   "user/"};

}  // namespace

result<void> validate_name(std::string_view name, std::string_view field) {
  if (auto ok = validate_relative_path(name); !ok) return renamed(ok.error(), field);
  return {};
}

bool is_reserved(std::string_view name) noexcept {
  return std::any_of(reserved_names.begin(), reserved_names.end(), [name](std::string_view reserved) {
    return name == reserved ||
           (name.size() > reserved.size() && name.starts_with(reserved) && name[reserved.size()] == '/');
  });
}

result<std::string> user_volume_path(std::string_view name, std::string_view field) {
  if (auto ok = validate_name(name, field); !ok) return ok.error();
  if (is_reserved(name)) return problem::unprocessable(std::string(field), "cannot modify reserved filesystem");
  // PATH_MAX counts the terminating NUL: "user/" + name must stay below 4096 bytes.
  constexpr std::string_view prefix = "user/";
  if (prefix.size() + name.size() >= 4096) {
    return problem::unprocessable(std::string(field), "invalid filesystem name: name is longer than 4090 bytes");
  }
  return std::string(prefix) + std::string(name);
}

bool is_package_path(std::string_view name) noexcept {
  return name.starts_with("installed/") || name.starts_with("uninstalled/");
}

result<std::string> package_volume_path(std::string_view internal_name, std::string_view field) {
  if (!is_package_path(internal_name)) {
    return problem::unprocessable(std::string(field), "internal_name must start with installed/ or uninstalled/");
  }
  if (auto ok = validate_name(internal_name, field); !ok) return ok.error();
  return std::string(internal_name);
}

result<std::string> archive_volume_path(std::string_view subvolume, std::string_view field) {
  if (subvolume.empty()) return problem::bad_request(std::string(field) + " field is required");
  if (subvolume == "gfeh" || subvolume.starts_with("gfeh/")) {
    return problem::unprocessable(std::string(field), "gfeh partitions cannot be used with archives");
  }
  if (auto ok = validate_name(subvolume, field); !ok) return ok.error();
  bool prefixed = std::any_of(archive_prefixes.begin(), archive_prefixes.end(),
                              [subvolume](std::string_view p) { return subvolume.starts_with(p); });
  if (prefixed) return std::string(subvolume);
  if (is_reserved(subvolume)) return problem::unprocessable(std::string(field), "cannot use a reserved root");
  return "user/" + std::string(subvolume);
}

std::string_view to_string(volume_state state) noexcept {
  switch (state) {
    case volume_state::user:
      return "user";
    case volume_state::installed:
      return "installed";
    case volume_state::uninstalled:
      return "uninstalled";
  }
  return "user";
}

std::optional<volume_state> parse_volume_state(std::string_view text) noexcept {
  if (text == "user") return volume_state::user;
  if (text == "installed") return volume_state::installed;
  if (text == "uninstalled") return volume_state::uninstalled;
  return std::nullopt;
}

std::optional<volume_entry> classify(std::string_view path) {
  auto parts = split(path);
  if (parts.size() < 2) return std::nullopt;
  // A path with an empty component ("user/", "installed/r/", "user//x") names no volume: it would
  // be listed with an empty or malformed name (found by tests/fuzz/names).
  if (std::any_of(parts.begin(), parts.end(), [](std::string_view part) { return part.empty(); })) return std::nullopt;
  volume_entry entry;
  if (parts[0] == "user") {
    entry.state = volume_state::user;
    entry.name = join(parts, 1, parts.size());
    return entry;
  }
  if (parts[0] != "installed" && parts[0] != "uninstalled") return std::nullopt;
  entry.state = parts[0] == "installed" ? volume_state::installed : volume_state::uninstalled;
  entry.internal_name = std::string(path);
  // installed/<repo>/<name>[/subpackages/<key>]*[/<version>[/<vol…>]]
  if (parts.size() < 3) return std::nullopt;  // bare repository directory
  entry.repo = std::string(parts[1]);
  std::vector<std::string_view> pretty{parts[2]};
  std::size_t i = 3;
  while (i < parts.size() && parts[i] == "subpackages") {
    if (i + 1 >= parts.size()) return std::nullopt;  // trailing "subpackages" container
    pretty.push_back(parts[i + 1]);
    i += 2;
  }
  entry.package = join(pretty, 0, pretty.size());
  std::string effective;
  for (std::size_t k = 0; k < pretty.size(); ++k) {
    if (k > 0) effective += "--dep--";
    effective += pretty[k];
  }
  entry.effective_name = std::move(effective);
  entry.name = entry.package;
  if (i < parts.size()) {
    entry.version = std::string(parts[i]);
    entry.name += "/" + entry.version;
    ++i;
  }
  if (i < parts.size()) {
    entry.volume = join(parts, i, parts.size());
    entry.name += "/" + entry.volume;
  }
  return entry;
}

std::optional<archive_format> parse_archive_format(std::string_view text) noexcept {
  if (text.empty() || text == "tar.gz") return archive_format::tar_gz;
  if (text == "tar.bz2") return archive_format::tar_bz2;
  if (text == "tar.xz") return archive_format::tar_xz;
  return std::nullopt;
}

std::string_view content_type(archive_format format) noexcept {
  switch (format) {
    case archive_format::tar_gz:
      return "application/gzip";
    case archive_format::tar_bz2:
      return "application/x-bzip2";
    case archive_format::tar_xz:
      return "application/x-xz";
  }
  return "application/gzip";
}

std::string_view extension(archive_format format) noexcept {
  switch (format) {
    case archive_format::tar_gz:
      return ".tar.gz";
    case archive_format::tar_bz2:
      return ".tar.bz2";
    case archive_format::tar_xz:
      return ".tar.xz";
  }
  return ".tar.gz";
}

std::string download_filename(std::string_view requested, archive_format format) {
  std::string name;
  for (unsigned char c : requested) {
    if (c < 0x20 || c == 0x7f) continue;
    name += static_cast<char>(c);
  }
  if (auto slash = name.find_last_of("/\\"); slash != std::string::npos) name.erase(0, slash + 1);
  static constexpr std::array<std::string_view, 6> suffixes = {".tar.gz", ".tar.bz2", ".tar.xz",
                                                               ".tgz",    ".tbz2",    ".txz"};
  for (auto suffix : suffixes) {
    if (name.size() >= suffix.size() && name.ends_with(suffix)) {
      name.erase(name.size() - suffix.size());
      break;
    }
  }
  // The header value is unquoted (as the original); anything that would end or split it goes.
  for (char& c : name) {
    if (c == ';' || c == '"' || c == ',' || c == ' ' || c == '=' || static_cast<unsigned char>(c) >= 0x80) c = '_';
  }
  if (name.size() > 200) name.resize(200);
  if (name.empty() || name == "." || name == "..") name = "download";
  name += extension(format);
  return name;
}

result<std::vector<std::string>> member_components(std::string_view path, std::string_view field) {
  if (path.size() > 4096) return problem::unprocessable(std::string(field), "path is longer than 4096 bytes");
  if (path.find('\0') != std::string_view::npos) return problem::unprocessable(std::string(field), "path contains NUL");
  if (!path.empty() && path.front() == '/') return problem::unprocessable(std::string(field), "absolute path refused");
  std::vector<std::string> out;
  for (auto part : split(path)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return problem::unprocessable(std::string(field), "path contains '..'");
    if (part.size() > 255) return problem::unprocessable(std::string(field), "path component is longer than 255 bytes");
    out.emplace_back(part);
  }
  return out;
}

bool symlink_stays_inside(const std::vector<std::string>& link_components, std::string_view target) {
  if (target.empty() || target.front() == '/' || target.find('\0') != std::string_view::npos) return false;
  // Depth of the link's directory below the root; every ".." climbs one level.
  std::ptrdiff_t depth = static_cast<std::ptrdiff_t>(link_components.size()) - 1;
  for (auto part : split(target)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (--depth < 0) return false;
    } else {
      ++depth;
    }
  }
  return true;
}

std::uint64_t extraction_budget(std::uint64_t free_bytes, std::uint64_t quota, std::uint64_t usage) noexcept {
  if (quota == 0) return free_bytes;
  return std::min(free_bytes, quota - std::min(quota, usage));
}

result<std::string> download_path(std::string_view path, std::string_view field) {
  if (path.empty()) return problem::unprocessable(std::string(field), "path must not be empty");
  if (path.front() == '-') return problem::unprocessable(std::string(field), "path must not start with '-'");
  if (has_control_characters(path))
    return problem::unprocessable(std::string(field), "path contains control characters");
  auto parts = member_components(path, field);
  if (!parts) return parts.error();
  std::string out;
  for (const auto& part : *parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  if (out.empty()) out = ".";
  // Normalising can bring a '-' to the front ("./-rf", ".//-x"): check what is returned, not only
  // what was sent (found by tests/fuzz/names).
  if (out.front() == '-') return problem::unprocessable(std::string(field), "path must not start with '-'");
  return out;
}

}  // namespace sc::storage
