#include "tools/townctl/cli/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <optional>

#include "tools/townctl/client/json.hpp"

namespace sc::townctl {

using simdjson::dom::element;

namespace {

std::string cell(element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(v.get_string().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
      return "";
    case simdjson::dom::element_type::BOOL:
      return v.get_bool().value_unsafe() ? "yes" : "no";
    default:
      return client::json_text(v);
  }
}

bool scalar(element v) {
  return !v.is_object() && !v.is_array();
}

std::vector<std::string> split_columns(std::string_view columns) {
  std::vector<std::string> out;
  while (!columns.empty()) {
    auto comma = columns.find(',');
    out.emplace_back(columns.substr(0, comma));
    if (comma == std::string_view::npos) break;
    columns.remove_prefix(comma + 1);
  }
  return out;
}

std::string object_lines(simdjson::dom::object object, const std::string& indent) {
  std::string out;
  for (const auto& [key, v] : client::members(object)) {
    simdjson::dom::object nested;
    if (v.get(nested) == simdjson::SUCCESS && nested.size() != 0 && indent.size() < 4) {
      out += indent + std::string(key) + ":\n" + object_lines(nested, indent + "  ");
    } else {
      out += indent + std::string(key) + ": " + cell(v) + "\n";
    }
  }
  return out;
}

}  // namespace

std::string render_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto line = [&widths](const std::vector<std::string>& row) {
    std::string out;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      std::string text = i < row.size() ? row[i] : std::string();
      if (i + 1 < widths.size()) text.resize(widths[i], ' ');
      out += text;
      if (i + 1 < widths.size()) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> upper;
  for (const auto& h : header) {
    std::string u;
    for (char c : h) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    upper.push_back(u);
  }
  std::string out = line(upper);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string render_human(element answer, std::string_view columns) {
  simdjson::dom::array entries;
  bool listed = answer.get(entries) == simdjson::SUCCESS;
  std::optional<simdjson::dom::object> envelope;
  simdjson::dom::object object;
  if (!listed && answer.get(object) == simdjson::SUCCESS) {
    auto found = client::find_member(object, "entries");
    if (found && found->get(entries) == simdjson::SUCCESS) {
      listed = true;
      envelope = object;
    }
  }
  if (!listed) {
    if (answer.is_null()) return "";
    if (answer.is_object()) return object_lines(object, "");
    if (answer.is_string()) {
      std::string text(answer.get_string().value_unsafe());
      if (!text.empty() && text.back() != '\n') text += '\n';
      return text;
    }
    return cell(answer) + "\n";
  }
  std::string out;
  bool objects = std::any_of(entries.begin(), entries.end(), [](element v) { return v.is_object(); });
  if (!objects) {
    for (element entry : entries) out += cell(entry) + "\n";
  } else {
    std::vector<std::string> header = split_columns(columns);
    if (header.empty()) {
      for (element entry : entries) {
        simdjson::dom::object fields;
        if (entry.get(fields) != simdjson::SUCCESS) continue;
        for (const auto& [name, value] : client::members(fields)) {
          std::string key(name);
          if (scalar(value) && std::find(header.begin(), header.end(), key) == header.end() && header.size() < 8) {
            header.push_back(key);
          }
        }
      }
    }
    std::vector<std::vector<std::string>> rows;
    for (element entry : entries) {
      std::vector<std::string> row;
      simdjson::dom::object fields;
      bool is_object = entry.get(fields) == simdjson::SUCCESS;
      for (const auto& column : header) {
        auto v = is_object ? client::find_member(fields, column) : std::nullopt;
        row.push_back(v ? cell(*v) : std::string());
      }
      rows.push_back(std::move(row));
    }
    out = render_table(header, rows);
  }
  if (envelope) {
    auto more = client::find_member(*envelope, "has_more");
    auto count = client::find_member(*envelope, "total_count");
    if (more && more->is_bool() && more->get_bool().value_unsafe() && count) {
      auto shown = static_cast<std::size_t>(std::distance(entries.begin(), entries.end()));
      out += "(" + std::to_string(shown) + " of " + cell(*count) + "; more with --offset)\n";
    }
  }
  return out;
}

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  }
  return text;
}

namespace {
std::string bar(double fraction, std::size_t width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  auto filled = static_cast<std::size_t>(std::lround(fraction * static_cast<double>(width)));
  return "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
}

std::string duration_text(double seconds) {
  auto s = static_cast<long long>(std::llround(seconds));
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m";
}
}  // namespace

std::string transfer_line(std::uint64_t done, std::uint64_t total, std::chrono::steady_clock::duration elapsed,
                          bool terminal) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  double fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  std::string out = human_bytes(done) + " / " + human_bytes(total) + "  " +
                    std::to_string(static_cast<int>(fraction * 100)) + "%  " +
                    human_bytes(static_cast<std::uint64_t>(rate)) + "/s";
  if (rate > 0 && done < total) out += "  ETA " + duration_text(static_cast<double>(total - done) / rate);
  if (!terminal) return out + "\n";
  return "\r" + bar(fraction, 30) + " " + out + "\x1b[K";
}

std::size_t expected_steps(std::string_view operation) {
  // install: provisioning_volumes, seeding_data, applying_templates, installing_services, starting
  // (+ installing_dependencies); an upgrade adds preparing_upgrade, snapshotting,
  // migrating_volumes, saving_install; uninstall: stopping_services (+ uninstalling_dependencies).
  if (operation == "install") return 5;
  if (operation == "upgrade" || operation == "rollback") return 9;
  if (operation == "uninstall") return 1;
  return 3;
}

std::string step_line(std::size_t index, std::size_t total, std::string_view step, bool terminal) {
  total = std::max(total, index);
  std::string label = "[" + std::to_string(index) + "/" + std::to_string(total) + "] " + std::string(step);
  if (!terminal) return label + "\n";
  double fraction = static_cast<double>(index) / static_cast<double>(total + 1);
  return "\r" + bar(fraction, 30) + " " + label + "\x1b[K";
}

std::string journal_line(element entry) {
  simdjson::dom::object object;
  if (entry.get(object) != simdjson::SUCCESS) return cell(entry) + "\n";
  auto member = [&object](std::string_view key) {
    auto v = client::find_member(object, key);
    return v ? cell(*v) : std::string();
  };
  std::string unit = member("SystemdUnit");
  if (unit.empty()) unit = member("SyslogIdentifier");
  return member("RealtimeTimestamp") + " " + unit + ": " + member("Message") + "\n";
}

}  // namespace sc::townctl
