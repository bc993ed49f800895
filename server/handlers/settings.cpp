// Settings (behavior-core.md §5.6) and locales (§5.7). Values come from the in-memory cache.
#include "core/settings.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include "adapters/store/settings_store.hpp"
#include "server/app.hpp"
#include "server/dns_service.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"

namespace sc::server::handlers {

namespace json = boost::json;

namespace {

// Keys are at most 128 bytes (core/settings); the bound keeps junk out of error texts and SQLite.
constexpr string_rule key_rule{.max_length = settings::max_key_length, .allow_empty = true, .allow_newlines = false};
// Values are checked per key by core/settings; this only bounds the size (open and free-text keys
// take up to 64 KiB with newlines).
constexpr string_rule value_rule{.max_length = 65'536, .allow_empty = true, .allow_newlines = true};

}  // namespace

reply settings_all(request_context& context) {
  json::monotonic_resource arena;
  json::object body(&arena);
  const auto& values = context.services.system_settings().all();
  body.reserve(values.size());
  for (const auto& [key, value] : values) body.emplace(key, value);
  co_return http::json_response(body);
}

reply settings_get(request_context& context) {
  auto body = json_body::parse(context.request.body());
  if (!body) co_return http::problem_response(body.error());
  std::string key = body->string("key", key_rule);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto value = context.services.system_settings().get(key);
  if (!value) co_return http::problem_response(problem::not_found("setting \"" + key + "\" not found"));
  json::monotonic_resource arena;
  json::object out(&arena);
  out["key"] = key;
  out["value"] = *value;
  co_return http::json_response(out);
}

reply settings_set(request_context& context) {
  auto body = json_body::parse(context.request.body());
  if (!body) co_return http::problem_response(body.error());
  std::string key = body->string("key", key_rule);
  std::string value = body->string("value", value_rule);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto stored = settings::validate(key, value);
  if (!stored) co_return http::problem_response(stored.error());
  auto& store = context.services.system_settings();
  if (!store.get(key) && store.all().size() >= settings::max_stored_keys) {
    co_return http::problem_response(problem::unprocessable(
        "key", "at most " + std::to_string(settings::max_stored_keys) + " settings may be stored; this key is new"));
  }
  if (auto written = store.set(key, std::move(*stored)); !written) {
    co_return http::problem_response(written.error());
  }
  context.services.setting_changed(key);
  // The zone follows its settings (the TLD moves every name; the address or the exclusions change
  // the packages' records). The value is stored even when publishing fails (§5.6 step 5).
  if (key == "dns_tld" || key == "dns_host_address" || key == "dns_excluded_services") {
    if (auto published = co_await context.services.dns().publish(); !published) {
      problem failure = published.error();
      failure.detail = "failed to apply " + key + ": " + failure.detail;
      co_return http::problem_response(failure);
    }
  }
  co_return http::empty_response();
}

reply locales(request_context& context) {
  json::monotonic_resource arena;
  json::object body(&arena);
  auto current = context.services.system_settings().get("locale");
  body["current"] = current && !current->empty() ? *current : std::string_view("en-US");
  json::array populated(&arena);
  for (auto code : settings::populated_locales()) populated.emplace_back(code);
  body["populated"] = std::move(populated);
  auto list = [&arena](std::span<const settings::locale_info> locales) {
    json::array out(&arena);
    out.reserve(locales.size());
    for (const auto& l : locales) {
      json::object item(&arena);
      item["code"] = l.code;
      item["native_name"] = l.native_name;
      item["english_name"] = l.english_name;
      out.emplace_back(std::move(item));
    }
    return out;
  };
  body["common_languages"] = list(settings::common_languages());
  body["extended_locales"] = list(settings::extended_locales());
  co_return http::json_response(body);
}

}  // namespace sc::server::handlers
