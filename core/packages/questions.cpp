#include "core/packages/questions.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "core/names.hpp"

namespace sc::packages {

namespace {

std::optional<std::uint64_t> parse_unsigned(std::string_view text) noexcept {
  std::uint64_t n = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<std::uint64_t> scaled(std::string_view digits, std::uint64_t unit) noexcept {
  auto n = parse_unsigned(digits);
  if (!n || *n > std::numeric_limits<std::uint64_t>::max() / unit) return std::nullopt;
  return *n * unit;
}

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void default_random(unsigned char* buffer, std::size_t size) {
  std::size_t filled = 0;
  while (filled < size) {
    ssize_t n = ::getrandom(buffer + filled, size - filled, 0);
    if (n > 0) filled += static_cast<std::size_t>(n);
  }
}

std::string hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0xF]);
  }
  return out;
}

}  // namespace

std::optional<std::uint64_t> parse_bytes(std::string_view text) noexcept {
  if (auto n = parse_unsigned(text)) return n;
  std::string unit;
  while (!text.empty() && std::isalpha(static_cast<unsigned char>(text.back()))) {
    unit.insert(unit.begin(), static_cast<char>(std::tolower(static_cast<unsigned char>(text.back()))));
    text.remove_suffix(1);
  }
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  if (unit == "k") return scaled(text, 1ULL << 10);
  if (unit == "m") return scaled(text, 1ULL << 20);
  if (unit == "g") return scaled(text, 1ULL << 30);
  if (unit == "t") return scaled(text, 1ULL << 40);
  if (unit == "b") return parse_unsigned(text);
  return std::nullopt;
}

std::optional<std::uint64_t> parse_duration(std::string_view text) noexcept {
  if (auto n = parse_unsigned(text)) return n;
  if (text.size() < 2) return std::nullopt;
  std::string_view digits = text.substr(0, text.size() - 1);
  switch (text.back()) {
    case 's':
      return parse_unsigned(digits);
    case 'm':
      return scaled(digits, 60);
    case 'h':
      return scaled(digits, 3600);
    case 'd':
      return scaled(digits, 86400);
    default:
      return std::nullopt;
  }
}

std::optional<bool> parse_bool(std::string_view text) noexcept {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

std::optional<std::string> normalize_answer(const question_spec& question, std::string_view answer) {
  if (has_control_characters(answer) || answer.size() > std::size_t{64} * 1024) return std::nullopt;
  const std::string& type = question.type;
  if (type == "port") {
    auto n = parse_unsigned(answer);
    if (!n || *n < 1 || *n > 65535) return std::nullopt;
    return std::to_string(*n);
  }
  if (type == "hostname") {
    std::string host = lowered(answer);
    if (host.empty() || host.size() > 63 || !(host.front() >= 'a' && host.front() <= 'z')) return std::nullopt;
    for (char c : host) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return std::nullopt;
    }
    return host;
  }
  if (type == "volume") {
    if (answer.empty()) return std::nullopt;
    for (char c : answer) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return std::nullopt;
    }
    return std::string(answer);
  }
  if (type == "bytes") {
    auto n = parse_bytes(answer);
    if (!n) return std::nullopt;
    return std::to_string(*n);
  }
  if (type == "duration") {
    auto n = parse_duration(answer);
    if (!n) return std::nullopt;
    return std::to_string(*n);
  }
  if (type == "boolean") {
    auto b = parse_bool(answer);
    if (!b) return std::nullopt;
    return std::string(*b ? "true" : "false");
  }
  if (type == "archive" || type == "secret" || type == "oauth") {
    if (answer.empty()) return std::nullopt;
  }
  return std::string(answer);
}

marker_values auto_answers(const package_definition& def, marker_values given, auto_answer_context& context) {
  if (!context.random_bytes) context.random_bytes = default_random;
  for (const auto& q : def.questions) {
    if (q.optional) continue;
    std::string& answer = given[q.key];
    if (answer.empty() && q.default_value && *q.default_value != "auto") {
      answer = *q.default_value;
      if (q.type == "boolean") {
        if (auto b = parse_bool(answer)) answer = *b ? "true" : "false";
      }
    }
    bool wants_auto = answer.empty() || answer == "auto";
    if (!wants_auto) continue;
    if (q.type == "port") {
      answer.clear();
      for (int attempt = 0; attempt < 100 && answer.empty(); ++attempt) {
        unsigned char r[4];
        context.random_bytes(r, sizeof r);
        std::uint32_t v = (std::uint32_t(r[0]) << 24) | (std::uint32_t(r[1]) << 16) | (std::uint32_t(r[2]) << 8) | r[3];
        int port = 10000 + static_cast<int>(v % 50001);
        if (context.used_ports.contains(port)) continue;
        if (context.port_free && !context.port_free(port)) continue;
        context.used_ports.insert(port);
        answer = std::to_string(port);
      }
    } else if (q.type == "hostname") {
      unsigned char r[2];
      context.random_bytes(r, sizeof r);
      answer = context.effective_name + "-" + hex(r, sizeof r);
    } else if (q.type == "secret") {
      unsigned char r[32];
      context.random_bytes(r, sizeof r);
      answer = hex(r, sizeof r);
    } else if (q.type == "boolean") {
      auto b = q.default_value ? parse_bool(*q.default_value) : std::optional<bool>(false);
      // An unparseable default stays as given: compile reports it as the wrong type.
      answer = b ? (*b ? "true" : "false") : q.default_value.value_or("");
    }
  }
  return given;
}

}  // namespace sc::packages
