#include "core/problem.hpp"

#include <cctype>

#include "core/json_writer.hpp"

namespace sc {

problem problem::bad_request(std::string detail) {
  return problem(400, std::move(detail));
}
problem problem::unauthorized(std::string detail) {
  return problem(401, std::move(detail));
}
problem problem::forbidden(std::string detail) {
  return problem(403, std::move(detail));
}
problem problem::not_found(std::string detail) {
  return problem(404, std::move(detail));
}
problem problem::method_not_allowed() {
  return problem(405, "Method Not Allowed");
}
problem problem::conflict(std::string detail) {
  return problem(409, std::move(detail));
}
problem problem::payload_too_large(std::string detail) {
  return problem(413, std::move(detail));
}
problem problem::unsupported_media_type(std::string detail) {
  return problem(415, std::move(detail));
}
problem problem::unprocessable(std::string field, std::string message) {
  problem p(422, field + ": " + message);
  p.errors.push_back({std::move(field), std::move(message)});
  return p;
}
problem problem::too_many_requests(std::string detail, std::uint32_t retry_after_seconds) {
  problem p(429, std::move(detail));
  p.retry_after = retry_after_seconds;
  return p;
}
problem problem::unavailable(std::string detail) {
  return problem(503, std::move(detail));
}
problem problem::bad_gateway(std::string detail) {
  return problem(502, std::move(detail));
}
problem problem::gateway_timeout(std::string detail) {
  return problem(504, std::move(detail));
}
problem problem::internal_error(std::string internal) {
  problem p(500, "internal error");
  p.internal = std::move(internal);
  return p;
}

void throw_exception_from_error(const problem& p, const boost::source_location&) {
  throw problem_exception(p);
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

namespace {

bool iequals_at(std::string_view text, std::size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
  }
  return true;
}

bool ends_secret_value(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '"' || c == '\'' || c == '}' || c == ']';
}

// "scheme://user:pass@host" → "scheme://[REDACTED]@host": repository URLs carry credentials in
// their userinfo (behavior-ops.md §5.1), and such a URL may be quoted in a detail or a request body.
std::string redact_url_userinfo(std::string text) {
  for (std::size_t at = text.find("://"); at != std::string::npos; at = text.find("://", at + 3)) {
    std::size_t start = at + 3;
    std::size_t end = start;
    while (end < text.size() && !ends_secret_value(text[end]) && text[end] != '/' && text[end] != '@') ++end;
    if (end < text.size() && text[end] == '@' && end > start) text.replace(start, end - start, "[REDACTED]");
  }
  return text;
}

}  // namespace

std::string redact_secrets(std::string_view text) {
  static constexpr std::string_view words[] = {"password", "credential", "secret", "token"};
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::string_view matched;
    for (auto word : words) {
      if (iequals_at(text, i, word)) {
        matched = word;
        break;
      }
    }
    if (matched.empty()) {
      out.push_back(text[i++]);
      continue;
    }
    // keyword [quote] [spaces] (':'|'=') [spaces] [quote] value
    std::size_t j = i + matched.size();
    if (j < text.size() && (text[j] == '"' || text[j] == '\'')) ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    if (j >= text.size() || (text[j] != ':' && text[j] != '=')) {
      out.append(text.substr(i, matched.size()));
      i += matched.size();
      continue;
    }
    std::size_t separator = j;
    ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    if (j < text.size() && (text[j] == '"' || text[j] == '\'')) ++j;
    std::size_t value_start = j;
    while (j < text.size() && !ends_secret_value(text[j])) ++j;
    if (j == value_start) {  // nothing to hide
      out.append(text.substr(i, j - i));
      i = j;
      continue;
    }
    out.append(text.substr(i, separator + 1 - i));
    out.append("[REDACTED]");
    i = j;
  }
  return redact_url_userinfo(out);
}

std::string render_problem_json(const problem& p) {
  std::string out;
  out.reserve(160);
  json_writer w(out);
  w.begin_object();
  w.key("type").value("about:blank#" + std::to_string(p.status));
  w.key("title").value(reason_phrase(p.status));
  w.key("status").value(p.status);
  w.key("detail").value(redact_secrets(p.detail.empty() ? reason_phrase(p.status) : std::string_view(p.detail)));
  if (!p.errors.empty()) {
    w.key("errors").begin_array();
    for (const auto& e : p.errors) {
      w.begin_object().key("field").value(e.field).key("message").value(redact_secrets(e.message)).end_object();
    }
    w.end_array();
  }
  if (!p.journal.empty()) {
    w.key("journal").begin_array();
    for (const auto& line : p.journal) w.value(redact_secrets(line));
    w.end_array();
  }
  w.end_object();
  out.push_back('\n');
  return out;
}

}  // namespace sc
