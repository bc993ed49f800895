#include "core/service_unit.hpp"

#include <cctype>

namespace sc::units {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool plain_argument_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' || c == ':' || c == '=' ||
         c == ',' || c == '+' || c == '@' || c == '-';
}

// The body of a quoted systemd value: C escapes for quotes, backslashes and control characters,
// `%%` for a literal '%' (specifiers are expanded inside quotes too).
std::string escape_quoted(std::string_view text, bool dollars) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '%':
        out += "%%";
        break;
      case '$':
        out += dollars ? "$$" : "$";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(hex_digits[c >> 4]);
          out.push_back(hex_digits[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  return out;
}

// A value that must stay on its line: control characters dropped, nothing else changed (names and
// numbers; Description= goes through unit_text).
std::string one_line(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) out.push_back(ch);
  }
  while (!out.empty() && out.back() == '\\') out.pop_back();
  return out;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out.push_back(' ');
    out += one_line(n);
  }
  return out;
}

std::string command_line(const unit_command& command) {
  return (command.ignore_failure ? "-" : "") + systemd_command_line(command.argv);
}

}  // namespace

std::string unit_text(std::string_view text) {
  std::string out;
  for (char ch : text.substr(0, 200)) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) continue;
    if (c == '%') out.push_back('%');
    out.push_back(ch);
  }
  while (!out.empty() && out.back() == '\\') out.pop_back();  // no line continuation
  return out;
}

std::string systemd_quote(std::string_view argument) {
  if (argument == ";") return "\\;";
  bool plain = !argument.empty();
  for (char c : argument) plain = plain && plain_argument_char(c);
  if (plain) return std::string(argument);
  return "\"" + escape_quoted(argument, true) + "\"";
}

std::string systemd_command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out.push_back(' ');
    out += systemd_quote(a);
  }
  return out;
}

std::string render_service_unit(const service_unit& unit) {
  std::string u;
  u += "# " + one_line(unit.comment) + "\n";
  u += "[Unit]\n";
  u += "Description=" + unit_text(unit.description) + "\n";
  if (!unit.wants.empty()) u += "Wants=" + join(unit.wants) + "\n";
  if (!unit.after.empty()) u += "After=" + join(unit.after) + "\n";
  if (!unit.part_of.empty()) u += "PartOf=" + one_line(unit.part_of) + "\n";
  if (!unit.before.empty()) u += "Before=" + one_line(unit.before) + "\n";
  if (unit.no_start_limit) u += "StartLimitIntervalSec=0\n";
  u += "\n[Service]\n";
  u += "Type=" + one_line(unit.type) + "\n";
  if (!unit.slice.empty()) u += "Slice=" + one_line(unit.slice) + "\n";
  for (const auto& e : unit.environment) u += "Environment=\"" + escape_quoted(e, false) + "\"\n";
  if (unit.delegate) {
    u += "Delegate=yes\n";
    u += "KillMode=mixed\n";
  }
  for (const auto& c : unit.exec_start_pre) u += "ExecStartPre=" + command_line(c) + "\n";
  u += "ExecStart=" + command_line(unit.exec_start) + "\n";
  if (unit.exec_reload) u += "ExecReload=" + command_line(*unit.exec_reload) + "\n";
  for (const auto& c : unit.exec_stop) u += "ExecStop=" + command_line(c) + "\n";
  for (const auto& c : unit.exec_stop_post) u += "ExecStopPost=" + command_line(c) + "\n";
  u += "Restart=" + one_line(unit.restart) + "\n";
  u += "RestartSec=" + std::to_string(unit.restart_delay.count()) + "\n";
  if (!unit.success_exit_status.empty()) u += "SuccessExitStatus=" + one_line(unit.success_exit_status) + "\n";
  if (unit.start_timeout) u += "TimeoutStartSec=" + std::to_string(unit.start_timeout->count()) + "\n";
  if (unit.stop_timeout) u += "TimeoutStopSec=" + std::to_string(unit.stop_timeout->count()) + "\n";
  if (!unit.wanted_by.empty()) {
    u += "\n[Install]\n";
    u += "WantedBy=" + one_line(unit.wanted_by) + "\n";
  }
  return u;
}

}  // namespace sc::units
