#include "core/pages.hpp"

#include <array>
#include <cctype>

#include "core/json_writer.hpp"
#include "core/names.hpp"
#include "core/packages/repository.hpp"

namespace sc::pages {

namespace {

bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One DNS label of [a-z0-9-], 1–63 long, not starting or ending with '-'.
bool valid_label(std::string_view label) noexcept {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(source_type type) noexcept {
  switch (type) {
    case source_type::container_image:
      return "container_image";
    case source_type::git:
      return "git";
    case source_type::archive:
      break;
  }
  return "archive";
}

result<source_type> parse_source_type(std::string_view text) {
  if (text == "archive") return source_type::archive;
  if (text == "container_image") return source_type::container_image;
  if (text == "git") return source_type::git;
  return problem::unprocessable("source_type", "must be archive, container_image or git");
}

result<void> validate_name(std::string_view name) {
  if (!valid_label(name))
    return problem::unprocessable(
        "name", "must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit");
  return {};
}

result<std::string> validate_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return problem::unprocessable("domain", "must be 1-253 characters");
  std::string lowered(domain);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = lowered;
  std::string_view last;
  while (true) {
    auto dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (!valid_label(label))
      return problem::unprocessable("domain",
                                    "labels must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with "
                                    "'-', separated by single dots");
    last = label;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  bool all_digits = true;
  for (char c : last) all_digits = all_digits && c >= '0' && c <= '9';
  if (all_digits) return problem::unprocessable("domain", "must be a name, not an address");
  return lowered;
}

result<void> validate_repo_url(std::string_view url) {
  if (url.empty()) return problem::unprocessable("repo_url", "is required for git pages");
  if (!url.starts_with("https://") && !url.starts_with("http://") && !url.starts_with("git://") &&
      !url.starts_with("file://"))
    return problem::unprocessable("repo_url", "must be an https, http, git or file URL");
  auto parsed = packages::parse_repository_url(url);
  if (!parsed) {
    problem p = parsed.error();
    for (auto& e : p.errors) e.field = "repo_url";
    return p;
  }
  if (!parsed->username.empty() || !parsed->password.empty())
    return problem::unprocessable("repo_url", "must not carry credentials");
  return {};
}

result<void> validate_branch(std::string_view branch) {
  bool ok = !branch.empty() && branch.size() <= 255 && branch.front() != '-' && branch.front() != '/' &&
            branch.back() != '/' && branch.find("..") == std::string_view::npos &&
            branch.find("//") == std::string_view::npos && !branch.ends_with(".lock");
  for (char c : branch) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '/' || c == '-');
  }
  if (!ok) return problem::unprocessable("branch", "must be a branch name of A-Z, a-z, 0-9, '.', '_', '/' and '-'");
  return {};
}

result<void> validate_image(std::string_view image) {
  bool ok = !image.empty() && image.size() <= 255 && image.front() != '-' && image.front() != '/' &&
            image.find("..") == std::string_view::npos;
  for (char c : image) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '/' || c == ':' ||
                c == '@' || c == '-');
  }
  if (!ok) return problem::unprocessable("image", "must be an image reference such as docker.io/library/nginx:latest");
  return {};
}

result<std::string> validate_image_directory(std::string_view directory) {
  auto refuse = [] {
    return problem::unprocessable("image_directory", "must be an absolute path without '.' or '..' components");
  };
  if (directory.empty() || directory.front() != '/' || directory.size() > 4096 || has_control_characters(directory) ||
      directory.find('\t') != std::string_view::npos)
    return refuse();
  std::string out;
  std::string_view rest = directory.substr(1);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part == "." || part == "..") return refuse();
    if (!part.empty()) {
      if (part.size() > 255) return refuse();
      out += '/';
      out += part;
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return out.empty() ? std::string("/") : out;
}

namespace {

// Every field of `p` checked, and the fields its source needs present.
result<void> check(page& p) {
  if (auto ok = validate_name(p.name); !ok) return ok;
  auto domain = validate_domain(p.domain);
  if (!domain) return domain.error();
  p.domain = std::move(*domain);
  if (has_control_characters(p.repo_url) || has_control_characters(p.image))
    return problem::unprocessable("repo_url", "must not hold control characters");
  switch (p.source) {
    case source_type::git:
      if (auto ok = validate_repo_url(p.repo_url); !ok) return ok;
      if (auto ok = validate_branch(p.branch); !ok) return ok;
      break;
    case source_type::container_image: {
      if (p.image.empty()) return problem::unprocessable("image", "is required for container_image pages");
      if (auto ok = validate_image(p.image); !ok) return ok;
      if (p.image_directory.empty())
        return problem::unprocessable("image_directory", "is required for container_image pages");
      auto directory = validate_image_directory(p.image_directory);
      if (!directory) return directory.error();
      p.image_directory = std::move(*directory);
      break;
    }
    case source_type::archive:
      break;
  }
  // Fields another source would use are still checked when given, so nothing odd is stored.
  if (p.source != source_type::git && !p.repo_url.empty()) {
    if (auto ok = validate_repo_url(p.repo_url); !ok) return ok;
  }
  if (p.source != source_type::git) {
    if (auto ok = validate_branch(p.branch); !ok) return ok;
  }
  if (p.source != source_type::container_image && !p.image.empty()) {
    if (auto ok = validate_image(p.image); !ok) return ok;
  }
  if (p.source != source_type::container_image && !p.image_directory.empty()) {
    auto directory = validate_image_directory(p.image_directory);
    if (!directory) return directory.error();
    p.image_directory = std::move(*directory);
  }
  return {};
}

result<void> apply(page& p, const page_request& r) {
  if (r.source_type) {
    auto type = parse_source_type(*r.source_type);
    if (!type) return type.error();
    p.source = *type;
  }
  if (r.repo_url) p.repo_url = *r.repo_url;
  if (r.branch) p.branch = r.branch->empty() ? std::string("main") : *r.branch;
  if (r.image) p.image = *r.image;
  if (r.image_directory) p.image_directory = *r.image_directory;
  if (r.domain) p.domain = r.domain->empty() ? p.name : *r.domain;
  return {};
}

}  // namespace

result<page> make_page(const page_request& request, std::string_view now) {
  if (!request.name || request.name->empty()) return problem::unprocessable("name", "is required");
  page p;
  p.name = *request.name;
  if (auto ok = validate_name(p.name); !ok) return ok.error();
  p.domain = p.name;
  if (auto applied = apply(p, request); !applied) return applied.error();
  if (auto ok = check(p); !ok) return ok.error();
  p.created_at = p.updated_at = std::string(now);
  return p;
}

result<page> merge_update(page current, const page_request& changes, std::string_view now) {
  if (auto applied = apply(current, changes); !applied) return applied.error();
  if (auto ok = check(current); !ok) return ok.error();
  current.updated_at = std::string(now);
  return current;
}

bool source_changed(const page& before, const page& after) noexcept {
  if (before.source != after.source) return true;
  switch (after.source) {
    case source_type::git:
      return before.repo_url != after.repo_url || before.branch != after.branch;
    case source_type::container_image:
      return before.image != after.image || before.image_directory != after.image_directory;
    case source_type::archive:
      break;
  }
  return false;
}

std::span<const list_field<page>> list_fields() {
  static const std::array<list_field<page>, 9> fields = {{
      {"name", [](const page& p) -> list_value { return std::string_view(p.name); }},
      {"repo_url", [](const page& p) -> list_value { return std::string_view(p.repo_url); }},
      {"branch", [](const page& p) -> list_value { return std::string_view(p.branch); }},
      {"domain", [](const page& p) -> list_value { return std::string_view(p.domain); }},
      {"source_type", [](const page& p) -> list_value { return to_string(p.source); }},
      {"status", [](const page& p) -> list_value { return std::string_view(p.status); }},
      {"image", [](const page& p) -> list_value { return std::string_view(p.image); }},
      {"created_at", [](const page& p) -> list_value { return std::string_view(p.created_at); }},
      {"updated_at", [](const page& p) -> list_value { return std::string_view(p.updated_at); }},
  }};
  return fields;
}

void write_json(json_writer& w, const page& p) {
  w.begin_object();
  w.key("name").value(p.name).key("source_type").value(to_string(p.source));
  w.key("repo_url").value(p.repo_url).key("branch").value(p.branch);
  w.key("image").value(p.image).key("image_directory").value(p.image_directory);
  w.key("domain").value(p.domain).key("status").value(p.status).key("error").value(p.error);
  w.key("network").value(p.network).key("created_at").value(p.created_at).key("updated_at").value(p.updated_at);
  w.end_object();
}

schema::type json_schema() {
  using namespace schema;
  auto timestamp = format(string(), "date-time");
  return component("static_page", object({{"name", string()},
                                          {"source_type", enumeration({"archive", "container_image", "git"})},
                                          {"repo_url", string()},
                                          {"branch", string()},
                                          {"image", string()},
                                          {"image_directory", string()},
                                          {"domain", string()},
                                          {"status", enumeration({status_pending, status_active, status_error})},
                                          {"error", describe(string(), "why provisioning failed; empty otherwise")},
                                          {"network", string()},
                                          {"created_at", timestamp},
                                          {"updated_at", timestamp}}));
}

}  // namespace sc::pages
