#include "core/settings.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/dns.hpp"

namespace sc::settings {

namespace {

constexpr std::uint64_t mebibyte = 1024ull * 1024;
constexpr std::uint64_t exbibyte = 1ull << 60;

constexpr std::array<default_value, 20> default_values = {{
    {"default_quota", "53687091200"},
    {"max_archive_size", "1073741824"},
    {"archive_unpack_timeout", "600"},
    {"locale", "en-US"},
    {"proton_image", "quay.io/town/proton:latest"},
    {"dns_tld", "home"},
    {"dns_resolution_mode", "auto"},
    {"dns_local_forwarders", "false"},
    {"peer_ttl", "7200"},
    {"gfeh_partition_quota", "0"},
    {"auto_update_enabled", "1"},
    // Absolute session lifetime in seconds (beyond the 7-day sliding idle expiry): 30 days.
    {"session_lifetime", "2592000"},
    // How often package repositories are fetched in the background, in seconds (behavior-ops §5.3).
    {"repository_refresh_interval", "300"},
    // Live log viewers (GET /systemd/logs) served at once; one more is answered 503.
    {"log_stream_max_viewers", "20000"},
    // Bytes all password hashes together may use; 0 takes the --password-hash-memory flag (128 MiB).
    {"password_hash_memory", "0"},
    // Audit retention (issue 10 §8): rows older than this many days, or beyond this many rows (the
    // oldest first), are pruned in the background.
    {"audit_retention_days", "90"},
    {"audit_max_rows", "1000000"},
    // How long an install waits for its app to run (unit active, container running, every
    // published port accepting), in seconds, before it undoes itself (issue 13).
    {"package_start_timeout", "120"},
    // How many earlier versions an upgrade keeps (snapshots of their volumes, units and answers) to
    // roll back to; 0 keeps none once the upgrade is verified (issue 14).
    {"package_keep_snapshots", "1"},
    // The largest VM image download, and the largest disk it may describe (POST /vm-images/upload;
    // issue 16): 64 GiB; 0 is no limit.
    {"vm_image_max_size", "68719476736"},
}};

constexpr std::array<std::string_view, 48> populated = {
    "en-US", "ar-AE", "ar-EG", "ar-SA", "bn-BD", "bn-IN", "cs-CZ", "da-DK", "de-AT", "de-CH", "de-DE", "en-AU",
    "en-CA", "en-GB", "en-IN", "en-NZ", "en-ZA", "es-AR", "es-ES", "es-MX", "fi-FI", "fr-BE", "fr-CA", "fr-CH",
    "fr-FR", "hi-IN", "hr-HR", "hu-HU", "it-IT", "ja-JP", "ko-KR", "nl-BE", "nl-NL", "pl-PL", "pt-BR", "pt-PT",
    "ro-RO", "ru-RU", "sa-IN", "sk-SK", "sl-SI", "sv-SE", "th-TH", "tr-TR", "uk-UA", "vi-VN", "zh-CN", "zh-TW",
};

constexpr std::array<locale_info, 21> common = {{
    {"ar-SA", "العربية", "Arabic"},
    {"bn-BD", "বাংলা", "Bengali"},
    {"de-DE", "Deutsch", "German"},
    {"en-US", "English", "English"},
    {"es-ES", "Español", "Spanish"},
    {"fr-FR", "Français", "French"},
    {"hi-IN", "हिन्दी", "Hindi"},
    {"it-IT", "Italiano", "Italian"},
    {"ja-JP", "日本語", "Japanese"},
    {"ko-KR", "한국어", "Korean"},
    {"nl-NL", "Nederlands", "Dutch"},
    {"pl-PL", "Polski", "Polish"},
    {"pt-BR", "Português", "Portuguese"},
    {"ru-RU", "Русский", "Russian"},
    {"sa-IN", "संस्कृतम्", "Sanskrit"},
    {"sv-SE", "Svenska", "Swedish"},
    {"th-TH", "ไทย", "Thai"},
    {"tr-TR", "Türkçe", "Turkish"},
    {"uk-UA", "Українська", "Ukrainian"},
    {"vi-VN", "Tiếng Việt", "Vietnamese"},
    {"zh-CN", "中文", "Chinese"},
}};

// Kept sorted by code at compile time, so new entries may go anywhere.
constexpr auto extended = [] {
  auto table = std::to_array<locale_info>({
      {"af-ZA", "Afrikaans", "Afrikaans"},
      {"am-ET", "አማርኛ", "Amharic"},
      {"ar-AE", "العربية (الإمارات)", "Arabic (United Arab Emirates)"},
      {"ar-EG", "العربية (مصر)", "Arabic (Egypt)"},
      {"ar-MA", "العربية (المغرب)", "Arabic (Morocco)"},
      {"az-AZ", "Azərbaycan", "Azerbaijani"},
      {"be-BY", "Беларуская", "Belarusian"},
      {"bg-BG", "Български", "Bulgarian"},
      {"bn-IN", "বাংলা (ভারত)", "Bengali (India)"},
      {"bs-BA", "Bosanski", "Bosnian"},
      {"ca-ES", "Català", "Catalan"},
      {"cs-CZ", "Čeština", "Czech"},
      {"cy-GB", "Cymraeg", "Welsh"},
      {"da-DK", "Dansk", "Danish"},
      {"de-AT", "Deutsch (Österreich)", "German (Austria)"},
      {"de-CH", "Deutsch (Schweiz)", "German (Switzerland)"},
      {"el-GR", "Ελληνικά", "Greek"},
      {"en-AU", "English (Australia)", "English (Australia)"},
      {"en-CA", "English (Canada)", "English (Canada)"},
      {"en-GB", "English (United Kingdom)", "English (United Kingdom)"},
      {"en-IE", "English (Ireland)", "English (Ireland)"},
      {"en-IN", "English (India)", "English (India)"},
      {"en-NZ", "English (New Zealand)", "English (New Zealand)"},
      {"en-ZA", "English (South Africa)", "English (South Africa)"},
      {"es-AR", "Español (Argentina)", "Spanish (Argentina)"},
      {"es-CL", "Español (Chile)", "Spanish (Chile)"},
      {"es-CO", "Español (Colombia)", "Spanish (Colombia)"},
      {"es-MX", "Español (México)", "Spanish (Mexico)"},
      {"es-US", "Español (Estados Unidos)", "Spanish (United States)"},
      {"et-EE", "Eesti", "Estonian"},
      {"eu-ES", "Euskara", "Basque"},
      {"fa-IR", "فارسی", "Persian"},
      {"fi-FI", "Suomi", "Finnish"},
      {"fil-PH", "Filipino", "Filipino"},
      {"fr-BE", "Français (Belgique)", "French (Belgium)"},
      {"fr-CA", "Français (Canada)", "French (Canada)"},
      {"fr-CH", "Français (Suisse)", "French (Switzerland)"},
      {"ga-IE", "Gaeilge", "Irish"},
      {"gl-ES", "Galego", "Galician"},
      {"gu-IN", "ગુજરાતી", "Gujarati"},
      {"he-IL", "עברית", "Hebrew"},
      {"hr-HR", "Hrvatski", "Croatian"},
      {"hu-HU", "Magyar", "Hungarian"},
      {"hy-AM", "Հայերեն", "Armenian"},
      {"id-ID", "Bahasa Indonesia", "Indonesian"},
      {"is-IS", "Íslenska", "Icelandic"},
      {"ka-GE", "ქართული", "Georgian"},
      {"kk-KZ", "Қазақ", "Kazakh"},
      {"km-KH", "ខ្មែរ", "Khmer"},
      {"kn-IN", "ಕನ್ನಡ", "Kannada"},
      {"ky-KG", "Кыргызча", "Kyrgyz"},
      {"lo-LA", "ລາວ", "Lao"},
      {"lt-LT", "Lietuvių", "Lithuanian"},
      {"lv-LV", "Latviešu", "Latvian"},
      {"mk-MK", "Македонски", "Macedonian"},
      {"ml-IN", "മലയാളം", "Malayalam"},
      {"mn-MN", "Монгол", "Mongolian"},
      {"mr-IN", "मराठी", "Marathi"},
      {"ms-MY", "Bahasa Melayu", "Malay"},
      {"mt-MT", "Malti", "Maltese"},
      {"my-MM", "မြန်မာ", "Burmese"},
      {"nb-NO", "Norsk bokmål", "Norwegian Bokmål"},
      {"ne-NP", "नेपाली", "Nepali"},
      {"nl-BE", "Nederlands (België)", "Dutch (Belgium)"},
      {"nn-NO", "Norsk nynorsk", "Norwegian Nynorsk"},
      {"pa-IN", "ਪੰਜਾਬੀ", "Punjabi"},
      {"pt-PT", "Português (Portugal)", "Portuguese (Portugal)"},
      {"ro-RO", "Română", "Romanian"},
      {"si-LK", "සිංහල", "Sinhala"},
      {"sk-SK", "Slovenčina", "Slovak"},
      {"sl-SI", "Slovenščina", "Slovenian"},
      {"sq-AL", "Shqip", "Albanian"},
      {"sr-RS", "Српски", "Serbian"},
      {"sw-KE", "Kiswahili", "Swahili"},
      {"ta-IN", "தமிழ்", "Tamil"},
      {"te-IN", "తెలుగు", "Telugu"},
      {"tg-TJ", "Тоҷикӣ", "Tajik"},
      {"tk-TM", "Türkmen", "Turkmen"},
      {"ur-PK", "اردو", "Urdu"},
      {"uz-UZ", "Oʻzbek", "Uzbek"},
      {"xh-ZA", "isiXhosa", "Xhosa"},
      {"yo-NG", "Yorùbá", "Yoruba"},
      {"zh-HK", "中文 (香港)", "Chinese (Hong Kong)"},
      {"zh-TW", "中文 (台灣)", "Chinese (Taiwan)"},
      {"zu-ZA", "isiZulu", "Zulu"},
      {"ha-NG", "Hausa", "Hausa"},
      {"ig-NG", "Igbo", "Igbo"},
      {"so-SO", "Soomaali", "Somali"},
      {"rw-RW", "Kinyarwanda", "Kinyarwanda"},
  });
  std::sort(table.begin(), table.end(), [](const locale_info& a, const locale_info& b) { return a.code < b.code; });
  return table;
}();

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Control characters (< 0x20, 0x7F); TAB/LF/CR pass when `allow_newlines`.
bool has_control(std::string_view text, bool allow_newlines) noexcept {
  for (unsigned char c : text) {
    if (allow_newlines && (c == '\t' || c == '\n' || c == '\r')) continue;
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

problem invalid_value(std::string message) {
  return problem::unprocessable("value", std::move(message));
}

result<std::string> bounded_integer(std::string_view key, std::string_view value, std::uint64_t min, std::uint64_t max,
                                    std::string_view unit) {
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size()) {
    return invalid_value(std::string(key) + " must be a whole number of " + std::string(unit));
  }
  if (number < min || number > max) {
    return invalid_value(std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         " " + std::string(unit));
  }
  return std::to_string(number);
}

result<std::string> bounded_bytes(std::string_view key, std::string_view value, std::uint64_t min, std::uint64_t max) {
  auto bytes = parse_byte_size(value);
  if (!bytes) return invalid_value("invalid byte value for \"" + std::string(key) + "\"");
  if (*bytes < min || *bytes > max) {
    return invalid_value(std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         " bytes");
  }
  return std::to_string(*bytes);
}

std::optional<bool> parse_go_bool(std::string_view text) noexcept {
  static constexpr std::string_view truthy[] = {"1", "t", "T", "TRUE", "true", "True"};
  static constexpr std::string_view falsy[] = {"0", "f", "F", "FALSE", "false", "False"};
  text = trim(text);
  for (auto t : truthy) {
    if (text == t) return true;
  }
  for (auto f : falsy) {
    if (text == f) return false;
  }
  return std::nullopt;
}

// Any other key the dashboard or a tool keeps (the original stores them verbatim, e.g. `motd`).
bool valid_open_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > max_key_length) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(key.front())) return false;
  return std::all_of(key.begin(), key.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-' || c == ':'; });
}

constexpr std::string_view free_text_keys[] = {"dns_rbl_config", "dns_dnsbl_config", "dns_excluded_services",
                                               "dismissed_upgrades_hash"};
constexpr std::string_view other_known_keys[] = {"monitoring_backend", "dns_host_address"};

}  // namespace

std::span<const default_value> defaults() noexcept {
  return default_values;
}

std::optional<std::string_view> default_of(std::string_view key) noexcept {
  for (const auto& d : default_values) {
    if (d.key == key) return d.value;
  }
  return std::nullopt;
}

bool is_known_key(std::string_view key) noexcept {
  if (default_of(key)) return true;
  for (auto k : free_text_keys) {
    if (k == key) return true;
  }
  for (auto k : other_known_keys) {
    if (k == key) return true;
  }
  return false;
}

bool is_valid_key(std::string_view key) noexcept {
  return is_known_key(key) || valid_open_key(key);
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) noexcept {
  text = trim(text);
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  std::string_view number = text.substr(0, i);
  std::string_view unit = trim(text.substr(i));
  if (number.empty() || number.front() == '.' || number.back() == '.') return std::nullopt;
  if (std::count(number.begin(), number.end(), '.') > 1) return std::nullopt;

  struct multiplier {
    std::string_view name;
    long double factor;
  };
  static constexpr multiplier units[] = {
      {"", 1},         {"b", 1},         {"k", 1e3L},     {"kb", 1e3L},     {"ki", 0x1p10L}, {"kib", 0x1p10L},
      {"m", 1e6L},     {"mb", 1e6L},     {"mi", 0x1p20L}, {"mib", 0x1p20L}, {"g", 1e9L},     {"gb", 1e9L},
      {"gi", 0x1p30L}, {"gib", 0x1p30L}, {"t", 1e12L},    {"tb", 1e12L},    {"ti", 0x1p40L}, {"tib", 0x1p40L},
      {"p", 1e15L},    {"pb", 1e15L},    {"pi", 0x1p50L}, {"pib", 0x1p50L}, {"e", 1e18L},    {"eb", 1e18L},
      {"ei", 0x1p60L}, {"eib", 0x1p60L},
  };
  const multiplier* found = nullptr;
  for (const auto& u : units) {
    if (iequals(u.name, unit)) found = &u;
  }
  if (found == nullptr) return std::nullopt;

  if (number.find('.') == std::string_view::npos && found->factor == 1) {
    std::uint64_t exact = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), exact);
    if (ec != std::errc{} || end != number.data() + number.size()) return std::nullopt;
    if (exact > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return exact;
  }
  // Integral part and fraction in long double: exact for every value we accept (≤ 2^63 needs 64 bits
  // of mantissa, which x86-64 long double has); rounding down matches "at most" semantics.
  long double value = 0;
  long double scale = 1;
  bool fraction = false;
  for (char c : number) {
    if (c == '.') {
      fraction = true;
      continue;
    }
    if (fraction) {
      scale /= 10;
      value += static_cast<long double>(c - '0') * scale;
    } else {
      value = value * 10 + static_cast<long double>(c - '0');
      if (value > 0x1p64L) return std::nullopt;
    }
  }
  long double bytes = std::floor(value * found->factor);
  if (bytes > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

bool is_valid_tld(std::string_view label) noexcept {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  bool all_digits = true;
  for (char c : label) {
    bool digit = c >= '0' && c <= '9';
    if (!digit && !(c >= 'a' && c <= 'z') && c != '-') return false;
    if (!digit) all_digits = false;
  }
  return !all_digits;
}

std::span<const std::string_view> populated_locales() noexcept {
  return populated;
}
std::span<const locale_info> common_languages() noexcept {
  return common;
}
std::span<const locale_info> extended_locales() noexcept {
  return extended;
}

bool is_supported_locale(std::string_view code) noexcept {
  if (std::find(populated.begin(), populated.end(), code) != populated.end()) return true;
  for (const auto& l : common) {
    if (l.code == code) return true;
  }
  for (const auto& l : extended) {
    if (l.code == code) return true;
  }
  return false;
}

result<std::string> validate(std::string_view key, std::string_view value) {
  if (key.empty()) return problem::unprocessable("key", "is required");
  if (!is_valid_key(key)) {
    // The key is echoed only when it is printable and short: a detail never carries junk.
    std::string shown = (key.size() > max_key_length || has_control(key, false)) ? std::string("(invalid)")
                                                                                 : "\"" + std::string(key) + "\"";
    problem p = problem::unprocessable("key", "invalid setting key " + shown);
    p.detail = "invalid setting key " + shown +
               ": 1 to 128 letters, digits, '.', '_', '-' or ':', starting with a letter or digit";
    return p;
  }

  // 0 means no limit for both (no quota on a new volume; no size bound on an upload).
  if (key == "default_quota") return bounded_bytes(key, value, 0, exbibyte);
  if (key == "max_archive_size") return bounded_bytes(key, value, 0, exbibyte);
  if (key == "gfeh_partition_quota") return bounded_bytes(key, value, 0, exbibyte);
  if (key == "vm_image_max_size") return bounded_bytes(key, value, 0, exbibyte);
  if (key == "archive_unpack_timeout") return bounded_integer(key, value, 1, 86'400, "seconds");
  if (key == "peer_ttl") return bounded_integer(key, value, 60, 31'536'000, "seconds");
  if (key == "session_lifetime") return bounded_integer(key, value, 3600, 31'536'000, "seconds");
  if (key == "repository_refresh_interval") return bounded_integer(key, value, 60, 604'800, "seconds");
  if (key == "log_stream_max_viewers") return bounded_integer(key, value, 0, 1'000'000, "viewers");
  if (key == "password_hash_memory") {
    auto bytes = bounded_bytes(key, value, 0, 1ull << 40);
    if (bytes && *bytes != "0" && std::stoull(*bytes) < 8 * mebibyte) {
      return invalid_value("password_hash_memory must be 0 (the flag's value) or at least 8 MiB");
    }
    return bytes;
  }
  if (key == "audit_retention_days") return bounded_integer(key, value, 1, 36'500, "days");
  if (key == "package_start_timeout") return bounded_integer(key, value, 5, 3600, "seconds");
  if (key == "package_keep_snapshots") return bounded_integer(key, value, 0, 100, "snapshots");
  if (key == "audit_max_rows") return bounded_integer(key, value, 1'000, 1'000'000'000, "rows");
  if (key == "locale") {
    if (!is_supported_locale(value)) return invalid_value("unsupported locale; see GET /locales");
    return std::string(value);
  }
  if (key == "proton_image") {
    if (value.empty() || value.size() > 512) return invalid_value("proton_image must be 1 to 512 bytes");
    for (unsigned char c : value) {
      if (c <= 0x20 || c == 0x7F) return invalid_value("proton_image must not contain spaces or control characters");
    }
    return std::string(value);
  }
  if (key == "dns_host_address") {
    if (value.empty()) return std::string();
    auto address = dns::canonical_address(value);
    if (!address) return invalid_value("dns_host_address must be an IPv4 or IPv6 address, or empty (detected)");
    return *address;
  }
  if (key == "dns_tld") {
    std::string folded(value);
    for (char& c : folded) c = lower(c);
    if (!is_valid_tld(folded)) {
      return invalid_value(
          "dns_tld must be one DNS label: 1 to 63 letters, digits or '-', not starting or ending with '-', not all "
          "digits");
    }
    return folded;
  }
  if (key == "dns_resolution_mode") {
    if (value != "auto" && value != "recursive" && value != "forward") {
      return invalid_value(
          "invalid value for \"dns_resolution_mode\": must be \"auto\", \"recursive\", or \"forward\"");
    }
    return std::string(value);
  }
  if (key == "dns_local_forwarders") {
    auto parsed = parse_go_bool(value);
    if (!parsed) return invalid_value("invalid value for \"dns_local_forwarders\": must be true or false");
    return std::string(*parsed ? "true" : "false");
  }
  if (key == "auto_update_enabled") {
    auto parsed = parse_go_bool(value);
    if (!parsed) return invalid_value("invalid value for \"auto_update_enabled\": must be 1 or 0");
    return std::string(*parsed ? "1" : "0");
  }
  if (key == "monitoring_backend") {
    if (value != "uplot" && value != "grafana") {
      return invalid_value("invalid value for \"monitoring_backend\": must be \"uplot\" or \"grafana\"");
    }
    return std::string(value);
  }
  for (auto k : free_text_keys) {
    if (k == key) {
      if (value.size() > max_open_value_bytes) return invalid_value("must be at most 65536 bytes");
      if (has_control(value, true)) return invalid_value("must not contain control characters");
      return std::string(value);
    }
  }
  // Any other key: stored verbatim, as the original does (a multi-line `motd` included).
  if (value.size() > max_open_value_bytes) return invalid_value("must be at most 65536 bytes");
  if (has_control(value, true)) return invalid_value("must not contain control characters");
  return std::string(value);
}

}  // namespace sc::settings
