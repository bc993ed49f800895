#include "core/packages/repository.hpp"

#include "core/names.hpp"
#include "core/packages/version.hpp"

namespace sc::packages {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

result<parsed_repository_url> parse_repository_url(std::string_view url) {
  auto bad = [](std::string message) -> result<parsed_repository_url> {
    return problem::unprocessable("url", "invalid url: " + std::move(message));
  };
  if (url.empty()) return bad("is empty");
  if (url.size() > 2048) return bad("longer than 2048 characters");
  if (has_control_characters(url) || url.find(' ') != std::string_view::npos)
    return bad("contains spaces or control characters");
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return bad("needs a scheme (https://, http://, ssh://, git:// or file://)");
  std::string_view scheme = url.substr(0, sep);
  if (scheme != "https" && scheme != "http" && scheme != "ssh" && scheme != "git" && scheme != "file") {
    return bad("scheme must be https, http, ssh, git or file");
  }
  std::string_view rest = url.substr(sep + 3);
  auto path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  parsed_repository_url out;
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    out.username = percent_decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) out.password = percent_decode(userinfo.substr(colon + 1));
  }
  if (scheme == "file") {
    if (!authority.empty() && authority != "localhost") return bad("file URLs take no host");
    if (path.empty() || path.find("/../") != std::string_view::npos || path.ends_with("/.."))
      return bad("needs an absolute path without '..'");
  } else if (authority.empty() || authority.front() == '-' || authority.front() == ':') {
    return bad("needs a host");
  }
  out.url = std::string(scheme) + "://" + std::string(authority) + std::string(path);
  return out;
}

std::string repository_name_from_url(std::string_view url) {
  while (url.ends_with('/')) url.remove_suffix(1);
  auto slash = url.rfind('/');
  std::string_view last = slash == std::string_view::npos ? url : url.substr(slash + 1);
  if (last.ends_with(".git")) last.remove_suffix(4);
  return std::string(last);
}

bool valid_repository_name(std::string_view name) noexcept {
  return valid_package_name(name);
}

}  // namespace sc::packages
