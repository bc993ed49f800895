#include "core/sessions.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace sc::sessions {

bool is_well_formed_token(std::string_view token) noexcept {
  if (token.size() != token_length) return false;
  return std::all_of(token.begin(), token.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_expired(const session& s, std::int64_t now, const policy& p) noexcept {
  if (now - s.last_used > p.idle) return true;
  return p.absolute > 0 && now - s.created_at > p.absolute;
}

bool should_persist(const session& s, std::int64_t now, const policy& p) noexcept {
  return now - s.persisted_last_used >= p.persist_interval;
}

std::string format_timestamp(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  ::gmtime_r(&t, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::optional<std::int64_t> parse_timestamp(std::string_view text) noexcept {
  // YYYY-MM-DDTHH:MM:SS then optional .fraction then Z or +00:00.
  if (text.size() < 20) return std::nullopt;
  auto digits = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  std::tm parts{};
  parts.tm_year = *year - 1900;
  parts.tm_mon = *month - 1;
  parts.tm_mday = *day;
  parts.tm_hour = *hour;
  parts.tm_min = *minute;
  parts.tm_sec = *second;
  return static_cast<std::int64_t>(::timegm(&parts));
}

std::optional<std::uint32_t> login_throttle::retry_after(std::string_view source, std::int64_t now) const {
  auto found = failures_.find(std::string(source));
  if (found == failures_.end()) return std::nullopt;
  const auto& times = found->second;
  auto recent = std::count_if(times.begin(), times.end(), [&](std::int64_t t) { return now - t < limits_.window; });
  if (static_cast<std::size_t>(recent) < limits_.max_failures) return std::nullopt;
  // The attempt becomes possible when enough failures have aged out of the window.
  std::int64_t oldest_counted = times[times.size() - static_cast<std::size_t>(recent)];
  std::int64_t wait = oldest_counted + limits_.window - now;
  return static_cast<std::uint32_t>(std::max<std::int64_t>(wait, 1));
}

void login_throttle::record_failure(std::string_view source, std::int64_t now) {
  std::string key(source);
  if (failures_.size() >= limits_.max_sources && !failures_.contains(key)) sweep(now);
  auto& times = failures_[key];
  // Keep only what can still count, so one source's list never grows beyond max_failures.
  std::erase_if(times, [&](std::int64_t t) { return now - t >= limits_.window; });
  times.push_back(now);
  if (times.size() > limits_.max_failures) times.erase(times.begin());
}

void login_throttle::record_success(std::string_view source) {
  failures_.erase(std::string(source));
}

void login_throttle::sweep(std::int64_t now) {
  std::erase_if(failures_,
                [&](const auto& entry) { return entry.second.empty() || now - entry.second.back() >= limits_.window; });
  if (failures_.size() < limits_.max_sources) return;
  auto oldest = std::min_element(failures_.begin(), failures_.end(),
                                 [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
  failures_.erase(oldest);
}

}  // namespace sc::sessions
