#pragma once
// Static pages (issue 16, behavior-ops.md §9 "Pages"): the page record, the rules for every field a
// client sends (names, domains, git URLs, image references, the directory copied out of an image),
// the merge of a partial update, and the list contract of GET /pages. Pure: nothing here touches the
// disk, git or podman; server/pages_service.hpp acts on what passes.
//
// Rules (documented in README "Pages"):
//   * name: 1–63 characters of [a-z0-9-], starting and ending with a letter or digit (a DNS label,
//     so the default domain is the name; it also names the webroot link pages-webroot/<name>);
//   * domain (ValidatePageDomain): lower-cased, 1–253 characters of dot-separated labels of 1–63
//     [a-z0-9-], no label starting or ending with '-', no trailing dot, the last label not all
//     digits (never an IP address); one label alone is allowed (the default domain is the name);
//   * repo_url: https, http, git or file (file for local mirrors and tests; admins only), no
//     credentials in it, no ssh (pages have no key management);
//   * image: an image reference of [A-Za-z0-9._/:@-], not starting with '-', at most 255 bytes;
//   * image_directory: an absolute path without "." or ".." components or control characters;
//   * branch: a git ref name of [A-Za-z0-9._/-], not starting with '-' or '/', without "..".

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/problem.hpp"
#include "core/schema.hpp"

namespace sc::pages {

enum class source_type { archive, container_image, git };
std::string_view to_string(source_type type) noexcept;
// "archive" | "container_image" | "git"; 422 naming `source_type` otherwise.
result<source_type> parse_source_type(std::string_view text);

inline constexpr std::string_view status_pending = "pending";
inline constexpr std::string_view status_active = "active";
inline constexpr std::string_view status_error = "error";

struct page {
  std::string name;
  source_type source = source_type::archive;
  std::string repo_url;
  std::string branch = "main";
  std::string image;
  std::string image_directory;
  std::string domain;
  std::string status = std::string(status_pending);
  std::string error;    // why provisioning failed (no secret: URLs carry none)
  std::string network;  // kept for the reference's schema; pages are served by the ingress
  std::string created_at;
  std::string updated_at;
  // The content generation served now (a subvolume below pages/<domain>); "" before the first
  // content. Internal: never in the API's JSON.
  std::string content;
};

// What a create or update request names; an absent member is nullopt.
struct page_request {
  std::optional<std::string> name;
  std::optional<std::string> source_type;
  std::optional<std::string> repo_url;
  std::optional<std::string> branch;
  std::optional<std::string> image;
  std::optional<std::string> image_directory;
  std::optional<std::string> domain;
};

result<void> validate_name(std::string_view name);
// The domain, lower-cased, or 422 naming `domain`.
result<std::string> validate_domain(std::string_view domain);
result<void> validate_repo_url(std::string_view url);
result<void> validate_branch(std::string_view branch);
result<void> validate_image(std::string_view image);
// The directory without a trailing '/', or 422 naming `image_directory`.
result<std::string> validate_image_directory(std::string_view directory);

// A new page from a create request: defaults (source archive, branch main, domain = name), every
// field validated, and the fields its source needs present (git: repo_url; container_image: image
// and image_directory). Status pending. `now` is the RFC 3339 time of both timestamps.
result<page> make_page(const page_request& request, std::string_view now);
// `current` with the members `changes` names (its `name` is ignored), validated as make_page does.
result<page> merge_update(page current, const page_request& changes, std::string_view now);
// Whether the update changed what the content is made from (then git and image pages provision
// again).
bool source_changed(const page& before, const page& after) noexcept;

// GET /pages: the fields sort and search use (name, repo_url, branch, domain, source_type, status,
// created_at, updated_at, image) and one page's JSON.
std::span<const list_field<page>> list_fields();
void write_json(json_writer& w, const page& p);
// The shape write_json writes (the "static_page" component).
schema::type json_schema();

}  // namespace sc::pages
