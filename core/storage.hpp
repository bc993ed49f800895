#pragma once
// Storage rules (behavior-ops.md §2–4, §11): which names may become subvolume paths, how the
// subvolume tree is classified into user and package volumes, the archive formats, and the paths
// that archive members and download requests may name. Pure: every name is decided here before an
// adapter turns it into a path or argv.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::storage {

// Roots under the btrfs base that the API never lets a user name (§3.2). `subpackages` is
// reserved too, although it is not a root subvolume.
inline constexpr std::array<std::string_view, 10> reserved_names = {
    "installed", "uninstalled", "archives", "pages", "snapshots", "vm-images", "user", "tls", "subpackages", "gfeh"};
// The root subvolumes created at start when missing (§2).
inline constexpr std::array<std::string_view, 9> root_subvolumes = {
    "installed", "uninstalled", "archives", "pages", "snapshots", "vm-images", "user", "tls", "gfeh"};

// ValidateFilesystemName (§3.2): `[A-Za-z0-9._-]` components, no empty/"."/".." component, no
// leading '/', no NUL, at most 255 bytes per component and 4096 in all. 422 naming `field` when it fails.
result<void> validate_name(std::string_view name, std::string_view field);

// True for a reserved name or anything below one ("user", "gfeh/x").
bool is_reserved(std::string_view name) noexcept;

// The subvolume path of a user filesystem: validates the submitted name *before* the prefix,
// refuses reserved names (422 "cannot modify reserved filesystem"), returns "user/<name>".
result<std::string> user_volume_path(std::string_view name, std::string_view field);

// An internal package volume path ("installed/…" or "uninstalled/…" and at least one more
// component), validated as a whole so that "installed/../user/x" is refused.
result<std::string> package_volume_path(std::string_view internal_name, std::string_view field);
bool is_package_path(std::string_view name) noexcept;

// The subvolume an archive is uploaded to or downloaded from (§4.1 step 6): "gfeh" and below are
// refused; names not already under installed/, uninstalled/, archives/, pages/, vm-images/ or
// user/ get "user/" prepended. The result is a validated relative path.
result<std::string> archive_volume_path(std::string_view subvolume, std::string_view field);

enum class volume_state { user, installed, uninstalled };
std::string_view to_string(volume_state state) noexcept;
// "user" | "installed" | "uninstalled"; nullopt for anything else ("" is the caller's business).
std::optional<volume_state> parse_volume_state(std::string_view text) noexcept;

// One subvolume as the list shows it (§3.4): `name` is what the user sees ("media",
// "immich/db/1.0/data"), `internal_name` the full path for package volumes (empty for user ones).
struct volume_entry {
  std::string name;
  std::string internal_name;
  volume_state state = volume_state::user;
  std::uint64_t quota = 0;  // bytes, 0 = unlimited
  std::uint64_t usage = 0;  // referenced bytes (qgroup rfer)
  // Package volumes only: the parts of the path.
  std::string repo;
  std::string package;         // pretty name, "immich/db"
  std::string effective_name;  // "immich--dep--db"
  std::string version;         // empty for bare package directories
  std::string volume;          // empty for bare package and version directories
};

// Classifies a subvolume path relative to the base; nullopt for roots, hidden roots (archives,
// pages, vm-images, tls, gfeh), bare repository directories and trailing "subpackages".
std::optional<volume_entry> classify(std::string_view path);

// Archive formats the download writes (§4.2). Upload detects its format by content.
enum class archive_format { tar_gz, tar_bz2, tar_xz };
// "" → tar.gz; "tar.gz" | "tar.bz2" | "tar.xz"; nullopt otherwise.
std::optional<archive_format> parse_archive_format(std::string_view text) noexcept;
std::string_view content_type(archive_format format) noexcept;
std::string_view extension(archive_format format) noexcept;  // ".tar.gz"

// The download filename (§4.2): basename only, control characters removed, an archive suffix
// stripped, "download" when nothing is left, then the format's extension. Characters that could
// break the unquoted header value (';', '"', '\\', ',', spaces) become '_'.
std::string download_filename(std::string_view requested, archive_format format);

// A path inside an archive or a download request, normalised to its components: "./" and "."
// components are dropped; an absolute path, a ".." component, NUL, a component over 255 bytes or
// a path over 4096 bytes is refused (422 naming `field`). An empty result means "the root".
result<std::vector<std::string>> member_components(std::string_view path, std::string_view field);

// True when a symlink stored at `link_components` with target `target` resolves (lexically,
// relative to the link's directory) to a place at or under the extraction root. Absolute targets
// never do.
bool symlink_stays_inside(const std::vector<std::string>& link_components, std::string_view target);

// How many bytes an upload may unpack into a volume: its quota headroom (quota minus usage, never
// below 0) when it has a quota, capped by the filesystem's free bytes; the free bytes otherwise.
std::uint64_t extraction_budget(std::uint64_t free_bytes, std::uint64_t quota, std::uint64_t usage) noexcept;

// Validates a download path (§4.2): member rules plus no leading '-' (never an option to anyone).
result<std::string> download_path(std::string_view path, std::string_view field);

}  // namespace sc::storage
