// Settings (behavior-core.md §5.6) and locales (§5.7). Values come from the in-memory cache.
#include "core/settings.hpp"

#include "adapters/store/settings_store.hpp"
#include "server/app.hpp"
#include "server/dns_service.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"

namespace sc::server::handlers {

namespace {

// Keys are at most 128 bytes (core/settings); the bound keeps junk out of error texts and SQLite.
constexpr string_rule key_rule{.max_length = settings::max_key_length, .allow_empty = true, .allow_newlines = false};
// Values are checked per key by core/settings; this only bounds the size (open and free-text keys
// take up to 64 KiB with newlines).
constexpr string_rule value_rule{.max_length = 65'536, .allow_empty = true, .allow_newlines = true};

}  // namespace

reply settings_all(request_context& context) {
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object();
    for (const auto& [key, value] : context.services.system_settings().all()) w.key(key).value(value);
    w.end_object();
  }));
}

reply settings_get(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string key = body->string("key");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto value = context.services.system_settings().get(key);
  if (!value) co_return http::problem_response(problem::not_found("setting \"" + key + "\" not found"));
  co_return http::json_response(json_string(
      [&](json_writer& w) { w.begin_object().key("key").value(key).key("value").value(*value).end_object(); }));
}

reply settings_set(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string key = body->string("key");
  std::string value = body->string("value");
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
  auto current = context.services.system_settings().get("locale");
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object().key("current").value(current && !current->empty() ? *current : std::string_view("en-US"));
    w.key("populated").begin_array();
    for (auto code : settings::populated_locales()) w.value(code);
    w.end_array();
    auto list = [&w](std::span<const settings::locale_info> locales) {
      w.begin_array();
      for (const auto& l : locales) {
        w.begin_object().key("code").value(l.code).key("native_name").value(l.native_name);
        w.key("english_name").value(l.english_name).end_object();
      }
      w.end_array();
    };
    w.key("common_languages");
    list(settings::common_languages());
    w.key("extended_locales");
    list(settings::extended_locales());
    w.end_object();
  }));
}

namespace contracts {

const contract& settings_all() {
  static const contract c{.response = schema::map(schema::string())};
  return c;
}

const contract& settings_get() {
  using namespace schema;
  static const contract c{.request = request({{"key", string(key_rule)}}),
                          .response = object({{"key", string()}, {"value", string()}}),
                          .problems = {404}};
  return c;
}

const contract& settings_set() {
  using namespace schema;
  static const contract c{.request = request({{"key", string(key_rule)}, {"value", string(value_rule)}}),
                          .media_type = ""};
  return c;
}

const contract& locales() {
  using namespace schema;
  static const contract c{.response = [] {
    type locale =
        component("locale_info", object({{"code", string()}, {"native_name", string()}, {"english_name", string()}}));
    return object({{"current", string()},
                   {"populated", array(string())},
                   {"common_languages", array(locale)},
                   {"extended_locales", array(locale)}});
  }()};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
