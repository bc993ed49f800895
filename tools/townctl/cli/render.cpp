#include "tools/townctl/cli/render.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>

namespace sc::townctl {

namespace json = boost::json;

namespace {

std::string cell(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.as_string());
    case json::kind::null:
      return "";
    case json::kind::bool_:
      return v.as_bool() ? "yes" : "no";
    default:
      return json::serialize(v);
  }
}

bool scalar(const json::value& v) {
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

std::string object_lines(const json::object& object, const std::string& indent) {
  std::string out;
  for (const auto& member : object) {
    const auto& v = member.value();
    if (v.is_object() && !v.as_object().empty() && indent.size() < 4) {
      out += indent + std::string(member.key()) + ":\n" + object_lines(v.as_object(), indent + "  ");
    } else {
      out += indent + std::string(member.key()) + ": " + cell(v) + "\n";
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

std::string render_human(const json::value& answer, std::string_view columns) {
  const json::array* entries = nullptr;
  const json::object* envelope = nullptr;
  if (answer.is_array()) {
    entries = &answer.as_array();
  } else if (answer.is_object()) {
    const auto* found = answer.as_object().if_contains("entries");
    if (found != nullptr && found->is_array()) {
      entries = &found->as_array();
      envelope = &answer.as_object();
    }
  }
  if (entries == nullptr) {
    if (answer.is_null()) return "";
    if (answer.is_object()) return object_lines(answer.as_object(), "");
    if (answer.is_string()) {
      std::string text(answer.as_string());
      if (!text.empty() && text.back() != '\n') text += '\n';
      return text;
    }
    return cell(answer) + "\n";
  }
  std::string out;
  bool objects = std::any_of(entries->begin(), entries->end(), [](const json::value& v) { return v.is_object(); });
  if (!objects) {
    for (const auto& entry : *entries) out += cell(entry) + "\n";
  } else {
    std::vector<std::string> header = split_columns(columns);
    if (header.empty()) {
      for (const auto& entry : *entries) {
        if (!entry.is_object()) continue;
        for (const auto& member : entry.as_object()) {
          std::string key(member.key());
          if (scalar(member.value()) && std::find(header.begin(), header.end(), key) == header.end() &&
              header.size() < 8) {
            header.push_back(key);
          }
        }
      }
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& entry : *entries) {
      std::vector<std::string> row;
      for (const auto& column : header) {
        const json::value* v = entry.is_object() ? entry.as_object().if_contains(column) : nullptr;
        row.push_back(v == nullptr ? std::string() : cell(*v));
      }
      rows.push_back(std::move(row));
    }
    out = render_table(header, rows);
  }
  if (envelope != nullptr) {
    const auto* more = envelope->if_contains("has_more");
    const auto* count = envelope->if_contains("total_count");
    if (more != nullptr && more->is_bool() && more->as_bool() && count != nullptr) {
      out += "(" + std::to_string(entries->size()) + " of " + cell(*count) + "; more with --offset)\n";
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

std::string journal_line(const json::value& entry) {
  if (!entry.is_object()) return cell(entry) + "\n";
  const auto& object = entry.as_object();
  auto member = [&object](std::string_view key) {
    const auto* v = object.if_contains(key);
    return v == nullptr ? std::string() : cell(*v);
  };
  std::string unit = member("SystemdUnit");
  if (unit.empty()) unit = member("SyslogIdentifier");
  return member("RealtimeTimestamp") + " " + unit + ": " + member("Message") + "\n";
}

}  // namespace sc::townctl
