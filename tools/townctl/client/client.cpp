#include "tools/townctl/client/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <exception>

namespace sc::client {

namespace asio = boost::asio;
namespace json = boost::json;

// ---- field access

std::string string_member(const json::object& object, std::string_view key) {
  const auto* found = object.if_contains(key);
  if (found == nullptr) return {};
  if (found->is_string()) return std::string(found->as_string());
  if (found->is_null()) return {};
  return json::serialize(*found);
}

std::int64_t integer_member(const json::object& object, std::string_view key) {
  const auto* found = object.if_contains(key);
  if (found == nullptr) return 0;
  if (found->is_int64()) return found->as_int64();
  if (found->is_uint64()) return static_cast<std::int64_t>(found->as_uint64());
  if (found->is_double()) return static_cast<std::int64_t>(found->as_double());
  return 0;
}

bool boolean_member(const json::object& object, std::string_view key) {
  const auto* found = object.if_contains(key);
  return found != nullptr && found->is_bool() && found->as_bool();
}

package_entry to_package_entry(const json::object& object) {
  return {string_member(object, "repo"),
          string_member(object, "name"),
          string_member(object, "version"),
          string_member(object, "description"),
          boolean_member(object, "installed"),
          string_member(object, "installed_version"),
          object};
}

filesystem to_filesystem(const json::object& object) {
  return {string_member(object, "name"), string_member(object, "state"), integer_member(object, "quota"),
          integer_member(object, "usage"), object};
}

repository to_repository(const json::object& object) {
  return {string_member(object, "name"), string_member(object, "url"), string_member(object, "error"), object};
}

unit to_unit(const json::object& object) {
  return {string_member(object, "Name"),
          string_member(object, "Description"),
          string_member(object, "LoadState"),
          string_member(object, "ActiveState"),
          string_member(object, "SubState"),
          string_member(object, "package_identifier"),
          object};
}

account to_account(const json::object& object) {
  return {string_member(object, "username"), string_member(object, "email"),     string_member(object, "real_name"),
          boolean_member(object, "admin"),   boolean_member(object, "disabled"), object};
}

journal_entry to_journal_entry(const json::object& object) {
  std::string unit = string_member(object, "SystemdUnit");
  if (unit.empty()) unit = string_member(object, "SyslogIdentifier");
  return {string_member(object, "Cursor"),  string_member(object, "RealtimeTimestamp"), std::move(unit),
          string_member(object, "Message"), string_member(object, "Priority"),          object};
}

install_step to_install_step(std::string_view frame) {
  install_step out;
  boost::system::error_code ec;
  auto parsed = json::parse(frame, ec);
  if (ec || !parsed.is_object()) {
    out.error = "unreadable progress frame";
    return out;
  }
  const auto& object = parsed.as_object();
  out.step = string_member(object, "step");
  out.done = boolean_member(object, "done");
  out.error = string_member(object, "error");
  out.reason = string_member(object, "reason");
  if (const auto* journal = object.if_contains("journal"); journal != nullptr && journal->is_array()) {
    for (const auto& line : journal->as_array()) {
      if (line.is_string()) out.journal.emplace_back(line.as_string());
    }
  }
  return out;
}

result<package_ref> package_ref::parse(std::string_view text) {
  package_ref out;
  if (auto at = text.rfind('@'); at != std::string_view::npos) {
    out.version = std::string(text.substr(at + 1));
    text = text.substr(0, at);
    if (out.version.empty()) return api_error(422, "empty version after '@' in " + std::string(text) + "@");
  }
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    out.repo = std::string(text.substr(0, slash));
    text = text.substr(slash + 1);
    if (out.repo.empty()) return api_error(422, "empty repository before '/'");
  }
  out.name = std::string(text);
  if (out.name.empty()) return api_error(422, "a package is [REPO/]NAME[@VERSION]");
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string query_string(const list_query& query) {
  std::string out;
  auto add = [&out](std::string_view key, std::string_view value) {
    out += out.empty() ? '?' : '&';
    out += key;
    out += '=';
    out += percent_encode(value);
  };
  if (query.limit) add("limit", std::to_string(*query.limit));
  if (query.offset) add("offset", std::to_string(*query.offset));
  if (!query.search.empty()) add("search", query.search);
  if (!query.sort_by.empty()) add("sort_by", query.sort_by);
  if (!query.sort_order.empty()) add("sort_order", query.sort_order);
  return out;
}

namespace {

json::object list_body(const list_query& query) {
  json::object body;
  if (query.limit) body["limit"] = *query.limit;
  if (query.offset) body["offset"] = *query.offset;
  if (!query.search.empty()) body["search"] = query.search;
  if (!query.sort_by.empty()) body["sort_by"] = query.sort_by;
  if (!query.sort_order.empty()) body["sort_order"] = query.sort_order;
  return body;
}

// A list answer: the envelope, or a bare array (older endpoints).
template <class T, class Convert>
list_page<T> to_page(const json::value& answer, Convert convert) {
  list_page<T> page;
  const json::array* entries = nullptr;
  if (answer.is_array()) {
    entries = &answer.as_array();
  } else if (answer.is_object()) {
    const auto& object = answer.as_object();
    if (const auto* found = object.if_contains("entries"); found != nullptr && found->is_array()) {
      entries = &found->as_array();
    }
    page.has_more = boolean_member(object, "has_more");
    page.total_pages = integer_member(object, "total_pages");
    page.total_count = integer_member(object, "total_count");
  }
  if (entries != nullptr) {
    for (const auto& entry : *entries) {
      if (entry.is_object()) page.entries.push_back(convert(entry.as_object()));
    }
    if (page.total_count == 0) page.total_count = static_cast<std::int64_t>(page.entries.size());
  }
  return page;
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> work) {
  std::optional<T> out;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(work), [&out, &failure](const std::exception_ptr& e, T value) {
    failure = e;
    if (!e) out.emplace(std::move(value));
  });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

}  // namespace

struct blocking_client::loop {
  asio::io_context io{1};
};

blocking_client::blocking_client(endpoint where, limits bounds)
    : loop_(std::make_unique<loop>()), where_(std::move(where)), bounds_(bounds) {}
blocking_client::~blocking_client() = default;

result<reply> blocking_client::send(request what) {
  return run(loop_->io, client::send(where_, std::move(what), bounds_));
}

result<json::value> blocking_client::call(std::string_view method, std::string_view path, const json::value& body) {
  request what;
  what.method = std::string(method);
  what.target = std::string(path);
  if (!body.is_null()) {
    what.body = json::serialize(body);
  } else if (method == "POST") {
    what.body = "{}";
  }
  auto answer = as_result(send(std::move(what)));
  if (!answer) return answer.error();
  if (answer->body.empty()) return json::value(nullptr);
  if (answer->content_type.find("json") == std::string::npos) return json::value(json::string(answer->body));
  boost::system::error_code ec;
  auto parsed = json::parse(answer->body, ec);
  if (ec) return api_error(502, "the answer is not valid JSON: " + ec.message());
  return parsed;
}

result<void> blocking_client::receive(request what, head_callback on_head, bytes_callback on_bytes) {
  return run(loop_->io, client::receive(where_, std::move(what), bounds_, std::move(on_head), std::move(on_bytes)));
}

result<void> blocking_client::events(request what, sse_parser& parser, event_callback on_event) {
  return run(loop_->io, client::events(where_, std::move(what), bounds_, parser, std::move(on_event)));
}

result<reply> blocking_client::upload(request what, body_source source) {
  return run(loop_->io, client::upload(where_, std::move(what), bounds_, std::move(source)));
}

result<status_summary> blocking_client::status() {
  auto answer = call("GET", "/status/ping");
  if (!answer) return answer.error();
  status_summary out;
  if (answer->is_object()) {
    out.raw = answer->as_object();
    out.status = string_member(out.raw, "status");
    out.needs_setup = boolean_member(out.raw, "needs_setup");
    out.username = string_member(out.raw, "username");
  }
  return out;
}

result<list_page<package_entry>> blocking_client::packages(const list_query& query) {
  auto answer = call("GET", "/packages" + query_string(query));
  if (!answer) return answer.error();
  return to_page<package_entry>(*answer, to_package_entry);
}

result<std::vector<std::string>> blocking_client::installed_packages(const list_query& query) {
  auto answer = call("GET", "/packages/installed" + query_string(query));
  if (!answer) return answer.error();
  std::vector<std::string> out;
  const json::value* entries = answer->is_object() ? answer->as_object().if_contains("entries") : &*answer;
  if (entries != nullptr && entries->is_array()) {
    for (const auto& entry : entries->as_array()) {
      if (entry.is_string()) out.emplace_back(entry.as_string());
    }
  }
  return out;
}

result<void> blocking_client::progress(const std::string& path, const json::value& body,
                                       const std::function<void(const install_step&)>& on_step) {
  request what;
  what.method = "POST";
  what.target = path;
  what.body = json::serialize(body);
  sse_parser parser;
  std::optional<api_error> failed;
  bool finished = false;
  auto streamed = events(std::move(what), parser, [&](const sse_event& event) {
    auto step = to_install_step(event.data);
    if (on_step) on_step(step);
    if (!step.error.empty()) {
      api_error error(500, step.error);
      error.title = "Operation failed";
      error.journal = step.journal;
      failed = std::move(error);
    }
    finished = finished || step.done || !step.error.empty();
    return true;
  });
  if (!streamed) return streamed.error();
  if (failed) return *failed;
  if (!finished) return transport_error("the progress stream ended before the operation did");
  return {};
}

result<void> blocking_client::install(const package_ref& ref, const std::map<std::string, std::string>& answers,
                                      const std::function<void(const install_step&)>& on_step) {
  json::object body;
  if (!ref.repo.empty()) body["repo"] = ref.repo;
  body["name"] = ref.name;
  if (!ref.version.empty()) body["version"] = ref.version;
  json::object responses;
  for (const auto& [key, value] : answers) responses[key] = value;
  body["responses"] = std::move(responses);
  return progress("/packages/install", body, on_step);
}

result<void> blocking_client::uninstall(const package_ref& ref, bool purge_volumes,
                                        const std::function<void(const install_step&)>& on_step) {
  json::object body;
  if (!ref.repo.empty()) body["repo"] = ref.repo;
  body["name"] = ref.name;
  if (purge_volumes) body["purge_volumes"] = true;
  return progress("/packages/uninstall", body, on_step);
}

result<list_page<filesystem>> blocking_client::filesystems(const list_query& query) {
  auto answer = call("POST", "/storage", list_body(query));
  if (!answer) return answer.error();
  return to_page<filesystem>(*answer, to_filesystem);
}

result<void> blocking_client::create_filesystem(const std::string& name, std::int64_t quota) {
  auto answer = call("POST", "/storage/create", json::object{{"name", name}, {"quota", quota}});
  if (!answer) return answer.error();
  return {};
}

result<void> blocking_client::remove_filesystem(const std::string& name) {
  auto answer = call("POST", "/storage/remove", json::object{{"name", name}});
  if (!answer) return answer.error();
  return {};
}

result<std::vector<repository>> blocking_client::repositories() {
  auto answer = call("GET", "/repository");
  if (!answer) return answer.error();
  return to_page<repository>(*answer, to_repository).entries;
}

result<void> blocking_client::add_repository(const std::string& name, const std::string& url) {
  auto answer = call("POST", "/repository/add", json::object{{"name", name}, {"url", url}});
  if (!answer) return answer.error();
  return {};
}

result<list_page<unit>> blocking_client::units(const list_query& query) {
  auto answer = call("GET", "/systemd/units" + query_string(query));
  if (!answer) return answer.error();
  return to_page<unit>(*answer, to_unit);
}

result<void> blocking_client::unit_action(const std::string& name, const std::string& action) {
  auto answer = call("POST", "/systemd/status", json::object{{"name", name}, {"action", action}});
  if (!answer) return answer.error();
  return {};
}

result<std::vector<journal_entry>> blocking_client::logs_tail(const std::string& unit, int lines) {
  auto answer = call("GET", "/systemd/logs/tail?unit=" + percent_encode(unit) + "&lines=" + std::to_string(lines));
  if (!answer) return answer.error();
  std::vector<journal_entry> out;
  if (!answer->is_object()) return out;
  if (const auto* entries = answer->as_object().if_contains("entries"); entries != nullptr && entries->is_array()) {
    for (const auto& entry : entries->as_array()) {
      if (entry.is_object()) out.push_back(to_journal_entry(entry.as_object()));
    }
  }
  return out;
}

result<void> blocking_client::follow_logs(const std::string& unit, int lines, std::string& last_cursor,
                                          const std::function<bool(const journal_entry&)>& on_entry) {
  request what;
  what.target = "/systemd/logs?unit=" + percent_encode(unit) + "&lines=" + std::to_string(lines);
  what.accept = "text/event-stream";
  what.last_event_id = last_cursor;
  sse_parser parser;
  return events(std::move(what), parser, [&](const sse_event& event) {
    boost::system::error_code ec;
    auto parsed = json::parse(event.data, ec);
    if (ec || !parsed.is_object()) return true;
    auto entry = to_journal_entry(parsed.as_object());
    if (!event.id.empty()) last_cursor = event.id;
    return on_entry(entry);
  });
}

result<std::map<std::string, std::string>> blocking_client::settings() {
  auto answer = call("GET", "/settings");
  if (!answer) return answer.error();
  std::map<std::string, std::string> out;
  if (answer->is_object()) {
    for (const auto& member : answer->as_object())
      out[std::string(member.key())] = string_member(answer->as_object(), member.key());
  }
  return out;
}

result<void> blocking_client::set_setting(const std::string& key, const std::string& value) {
  auto answer = call("POST", "/settings/set", json::object{{"key", key}, {"value", value}});
  if (!answer) return answer.error();
  return {};
}

result<list_page<account>> blocking_client::accounts(const list_query& query) {
  auto answer = call("GET", "/account" + query_string(query));
  if (!answer) return answer.error();
  return to_page<account>(*answer, to_account);
}

result<session_token> blocking_client::authenticate(const std::string& username, const std::string& password) {
  auto answer = call("POST", "/account/authenticate", json::object{{"username", username}, {"password", password}});
  if (!answer) return answer.error();
  session_token out;
  if (answer->is_object()) {
    out.token = string_member(answer->as_object(), "token");
    if (const auto* who = answer->as_object().if_contains("account"); who != nullptr && who->is_object()) {
      out.who = to_account(who->as_object());
    }
  }
  if (out.token.empty()) return api_error(502, "the login answer carries no token");
  return out;
}

}  // namespace sc::client
