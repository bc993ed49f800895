#include "core/packages/template.hpp"

#include <map>
#include <optional>
#include <vector>

#include "core/json_reader.hpp"

namespace sc::packages {

bool is_marker_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string substitute_markers(std::string_view text, const marker_values& values, escape_mode mode) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '@') {
      out.push_back(c);
      ++i;
      continue;
    }
    // A known marker takes precedence over the escape, so `@@@var@` is '@' then var's value: the
    // first '@' is not followed by a name, the second pair is read as the escape, and so on.
    std::size_t end = i + 1;
    while (end < text.size() && is_marker_name_char(text[end])) ++end;
    if (end > i + 1 && end < text.size() && text[end] == '@') {
      auto found = values.find(text.substr(i + 1, end - i - 1));
      if (found != values.end()) {
        out += found->second;
        i = end + 1;
        continue;
      }
    }
    if (i + 1 < text.size() && text[i + 1] == '@') {
      out += mode == escape_mode::keep ? "@@" : "@";
      i += 2;
      continue;
    }
    out.push_back('@');
    ++i;
  }
  return out;
}

namespace {

// One parsed action of a file template.
struct action {
  std::vector<std::string> path;  // field path: {"Dep","db","Host"}; empty for a comment
  std::vector<std::string> keys;  // index arguments
  bool comment = false;
};

struct segment {
  std::string text;
  std::optional<action> act;
};

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool parse_path(std::string_view token, std::vector<std::string>& path) {
  if (token.size() < 2 || token.front() != '.') return false;
  token.remove_prefix(1);
  while (!token.empty()) {
    auto dot = token.find('.');
    std::string_view part = token.substr(0, dot);
    if (part.empty()) return false;
    for (char c : part) {
      if (!is_marker_name_char(c) && c != '-') return false;
    }
    path.emplace_back(part);
    if (dot == std::string_view::npos) break;
    token.remove_prefix(dot + 1);
    if (token.empty()) return false;
  }
  return true;
}

// "quoted" Go string without escapes other than \" and \\.
bool parse_quoted(std::string_view& rest, std::string& out) {
  if (rest.empty() || rest.front() != '"') return false;
  std::size_t i = 1;
  while (i < rest.size() && rest[i] != '"') {
    if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
    out.push_back(rest[i]);
    ++i;
  }
  if (i >= rest.size()) return false;
  rest.remove_prefix(i + 1);
  return true;
}

result<action> parse_action(std::string_view body, std::string_view field) {
  auto fail = [&](std::string message) -> result<action> {
    return problem::unprocessable(std::string(field), std::move(message));
  };
  body = trim(body);
  action a;
  if (body.starts_with("/*")) {
    if (!body.ends_with("*/") || body.size() < 4) return fail("unterminated template comment");
    a.comment = true;
    return a;
  }
  if (body.starts_with("index ")) {
    std::string_view rest = trim(body.substr(6));
    auto space = rest.find_first_of(" \t");
    if (space == std::string_view::npos || !parse_path(rest.substr(0, space), a.path)) {
      return fail("template action {{" + std::string(body.substr(0, 80)) + "}}: index needs a field path");
    }
    rest = trim(rest.substr(space));
    while (!rest.empty()) {
      std::string key;
      if (!parse_quoted(rest, key)) {
        return fail("template action {{" + std::string(body.substr(0, 80)) + "}}: index keys must be quoted strings");
      }
      a.keys.push_back(std::move(key));
      rest = trim(rest);
    }
    if (a.keys.empty()) return fail("template action {{" + std::string(body.substr(0, 80)) + "}}: index needs a key");
    return a;
  }
  if (!parse_path(body, a.path)) {
    return fail("unsupported template action {{" + std::string(body.substr(0, 80)) +
                "}} (supported: {{.Field.Path}}, {{index .Map \"key\"}}, comments)");
  }
  return a;
}

result<std::vector<segment>> parse_template(std::string_view content, std::string_view field) {
  std::vector<segment> out;
  std::string text;
  std::size_t i = 0;
  while (i < content.size()) {
    auto open = content.find("{{", i);
    if (open == std::string_view::npos) {
      text.append(content.substr(i));
      break;
    }
    text.append(content.substr(i, open - i));
    std::size_t body_start = open + 2;
    if (content.substr(body_start).starts_with("- ")) {
      while (!text.empty() && is_space(text.back())) text.pop_back();
      body_start += 2;
    }
    auto close = content.find("}}", body_start);
    if (close == std::string_view::npos) {
      return problem::unprocessable(std::string(field), "unclosed template action");
    }
    std::size_t body_end = close;
    bool trim_after = false;
    if (body_end >= body_start + 2 && content.substr(body_end - 2, 2) == " -") {
      trim_after = true;
      body_end -= 2;
    }
    auto parsed = parse_action(content.substr(body_start, body_end - body_start), field);
    if (!parsed) return parsed.error();
    out.push_back({std::move(text), std::move(*parsed)});
    text.clear();
    i = close + 2;
    if (trim_after) {
      while (i < content.size() && is_space(content[i])) ++i;
    }
  }
  out.push_back({std::move(text), std::nullopt});
  return out;
}

void append_value(std::string& out, std::optional<simdjson::dom::element> v) {
  if (!v || v->is_null()) {
    out += "<no value>";
  } else if (std::string_view text; v->get(text) == simdjson::SUCCESS) {
    out += text;
  } else if (simdjson::dom::object object; v->get(object) == simdjson::SUCCESS) {
    // Go prints a map as map[k:v …], keys sorted.
    std::map<std::string_view, simdjson::dom::element> sorted;
    for (auto field : object) sorted.emplace(field.key, field.value);
    out += "map[";
    bool first = true;
    for (const auto& [key, value] : sorted) {
      if (!first) out.push_back(' ');
      first = false;
      out += key;
      out.push_back(':');
      append_value(out, value);
    }
    out.push_back(']');
  } else {
    out += simdjson::minify(*v);
  }
}

}  // namespace

result<void> check_file_template(std::string_view content, std::string_view field) {
  auto parsed = parse_template(content, field);
  if (!parsed) return parsed.error();
  return {};
}

result<std::string> render_file_template(std::string_view content, simdjson::dom::element data,
                                         std::string_view field) {
  auto parsed = parse_template(content, field);
  if (!parsed) return parsed.error();
  std::string out;
  out.reserve(content.size());
  for (const auto& seg : *parsed) {
    out += seg.text;
    if (!seg.act || seg.act->comment) continue;
    std::optional<simdjson::dom::element> v = data;
    for (const auto& key : seg.act->path) v = v ? json::member(*v, key) : std::nullopt;
    for (const auto& key : seg.act->keys) v = v ? json::member(*v, key) : std::nullopt;
    append_value(out, v);
  }
  return out;
}

}  // namespace sc::packages
