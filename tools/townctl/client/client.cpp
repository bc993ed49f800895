#include "tools/townctl/client/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>

namespace sc::client {

namespace asio = boost::asio;
using simdjson::dom::element;

// ---- typed entries

package_entry to_package_entry(simdjson::dom::object object) {
  return {string_member(object, "repo"),
          string_member(object, "name"),
          string_member(object, "version"),
          string_member(object, "description"),
          boolean_member(object, "installed"),
          string_member(object, "installed_version"),
          json_text(object)};
}

filesystem to_filesystem(simdjson::dom::object object) {
  return {string_member(object, "name"), string_member(object, "state"), integer_member(object, "quota"),
          integer_member(object, "usage"), json_text(object)};
}

repository to_repository(simdjson::dom::object object) {
  return {string_member(object, "name"), string_member(object, "url"), string_member(object, "error"),
          json_text(object)};
}

unit to_unit(simdjson::dom::object object) {
  return {string_member(object, "Name"),
          string_member(object, "Description"),
          string_member(object, "LoadState"),
          string_member(object, "ActiveState"),
          string_member(object, "SubState"),
          string_member(object, "package_identifier"),
          json_text(object)};
}

account to_account(simdjson::dom::object object) {
  return {string_member(object, "username"), string_member(object, "email"),     string_member(object, "real_name"),
          boolean_member(object, "admin"),   boolean_member(object, "disabled"), json_text(object)};
}

journal_entry to_journal_entry(simdjson::dom::object object) {
  std::string unit = string_member(object, "SystemdUnit");
  if (unit.empty()) unit = string_member(object, "SyslogIdentifier");
  return {string_member(object, "Cursor"),  string_member(object, "RealtimeTimestamp"), std::move(unit),
          string_member(object, "Message"), string_member(object, "Priority"),          json_text(object)};
}

install_step to_install_step(std::string_view frame) {
  install_step out;
  auto parsed = json_document::parse(frame);
  simdjson::dom::object object;
  if (!parsed || parsed->root().get(object) != simdjson::SUCCESS) {
    out.error = "unreadable progress frame";
    return out;
  }
  out.step = string_member(object, "step");
  out.done = boolean_member(object, "done");
  out.error = string_member(object, "error");
  out.reason = string_member(object, "reason");
  simdjson::dom::array journal;
  if (auto found = find_member(object, "journal"); found && found->get(journal) == simdjson::SUCCESS) {
    for (element line : journal) {
      if (line.is_string()) out.journal.emplace_back(line.get_string().value_unsafe());
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

std::string list_body(const list_query& query) {
  return json_string([&query](json_writer& body) {
    body.begin_object();
    if (query.limit) body.key("limit").value(*query.limit);
    if (query.offset) body.key("offset").value(*query.offset);
    if (!query.search.empty()) body.key("search").value(query.search);
    if (!query.sort_by.empty()) body.key("sort_by").value(query.sort_by);
    if (!query.sort_order.empty()) body.key("sort_order").value(query.sort_order);
    body.end_object();
  });
}

// {"name":…,key:…}: the bodies of the small POST calls.
std::string named_body(std::string_view name, std::string_view key, std::string_view value) {
  return json_string(
      [&](json_writer& body) { body.begin_object().key("name").value(name).key(key).value(value).end_object(); });
}

// A list answer: the envelope, or a bare array (older endpoints).
template <class T, class Convert>
list_page<T> to_page(element answer, Convert convert) {
  list_page<T> page;
  simdjson::dom::array entries;
  bool listed = answer.get(entries) == simdjson::SUCCESS;
  simdjson::dom::object envelope;
  if (!listed && answer.get(envelope) == simdjson::SUCCESS) {
    auto found = find_member(envelope, "entries");
    listed = found && found->get(entries) == simdjson::SUCCESS;
    page.has_more = boolean_member(envelope, "has_more");
    page.total_pages = integer_member(envelope, "total_pages");
    page.total_count = integer_member(envelope, "total_count");
  }
  if (listed) {
    for (element entry : entries) {
      simdjson::dom::object object;
      if (entry.get(object) == simdjson::SUCCESS) page.entries.push_back(convert(object));
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

result<json_document> blocking_client::call(std::string_view method, std::string_view path, std::string body) {
  request what;
  what.method = std::string(method);
  what.target = std::string(path);
  what.body = std::move(body);
  if (what.body.empty() && method == "POST") what.body = "{}";
  auto answer = as_result(send(std::move(what)));
  if (!answer) return answer.error();
  if (answer->body.empty()) return json_document();
  if (answer->content_type.find("json") == std::string::npos) return json_document::string(answer->body);
  std::string failure;
  auto parsed = json_document::parse(answer->body, &failure);
  if (!parsed) return api_error(502, "the answer is not valid JSON: " + failure);
  return std::move(*parsed);
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
  simdjson::dom::object object;
  if (answer->root().get(object) == simdjson::SUCCESS) {
    out.raw = json_text(object);
    out.status = string_member(object, "status");
    out.needs_setup = boolean_member(object, "needs_setup");
    out.username = string_member(object, "username");
  }
  return out;
}

result<list_page<package_entry>> blocking_client::packages(const list_query& query) {
  auto answer = call("GET", "/packages" + query_string(query));
  if (!answer) return answer.error();
  return to_page<package_entry>(answer->root(), to_package_entry);
}

result<std::vector<std::string>> blocking_client::installed_packages(const list_query& query) {
  auto answer = call("GET", "/packages/installed" + query_string(query));
  if (!answer) return answer.error();
  std::vector<std::string> out;
  // The envelope's entries, or a bare array.
  element entries = answer->root();
  bool found = true;
  simdjson::dom::object envelope;
  if (entries.get(envelope) == simdjson::SUCCESS) {
    auto member = find_member(envelope, "entries");
    found = member.has_value();
    if (member) entries = *member;
  }
  simdjson::dom::array array;
  if (found && entries.get(array) == simdjson::SUCCESS) {
    for (element entry : array) {
      if (entry.is_string()) out.emplace_back(entry.get_string().value_unsafe());
    }
  }
  return out;
}

result<void> blocking_client::progress(const std::string& path, std::string body,
                                       const std::function<void(const install_step&)>& on_step) {
  request what;
  what.method = "POST";
  what.target = path;
  what.body = std::move(body);
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
  std::string body = json_string([&ref, &answers](json_writer& writer) {
    writer.begin_object();
    if (!ref.repo.empty()) writer.key("repo").value(ref.repo);
    writer.key("name").value(ref.name);
    if (!ref.version.empty()) writer.key("version").value(ref.version);
    writer.key("responses").begin_object();
    for (const auto& [key, value] : answers) writer.key(key).value(value);
    writer.end_object();
    writer.end_object();
  });
  return progress("/packages/install", std::move(body), on_step);
}

result<void> blocking_client::uninstall(const package_ref& ref, bool purge_volumes,
                                        const std::function<void(const install_step&)>& on_step) {
  std::string body = json_string([&ref, purge_volumes](json_writer& writer) {
    writer.begin_object();
    if (!ref.repo.empty()) writer.key("repo").value(ref.repo);
    writer.key("name").value(ref.name);
    if (purge_volumes) writer.key("purge_volumes").value(true);
    writer.end_object();
  });
  return progress("/packages/uninstall", std::move(body), on_step);
}

result<list_page<filesystem>> blocking_client::filesystems(const list_query& query) {
  auto answer = call("POST", "/storage", list_body(query));
  if (!answer) return answer.error();
  return to_page<filesystem>(answer->root(), to_filesystem);
}

result<void> blocking_client::create_filesystem(const std::string& name, std::int64_t quota) {
  std::string body = json_string([&name, quota](json_writer& writer) {
    writer.begin_object().key("name").value(name).key("quota").value(quota).end_object();
  });
  auto answer = call("POST", "/storage/create", std::move(body));
  if (!answer) return answer.error();
  return {};
}

result<void> blocking_client::remove_filesystem(const std::string& name) {
  std::string body =
      json_string([&name](json_writer& writer) { writer.begin_object().key("name").value(name).end_object(); });
  auto answer = call("POST", "/storage/remove", std::move(body));
  if (!answer) return answer.error();
  return {};
}

result<std::vector<repository>> blocking_client::repositories() {
  auto answer = call("GET", "/repository");
  if (!answer) return answer.error();
  return to_page<repository>(answer->root(), to_repository).entries;
}

result<void> blocking_client::add_repository(const std::string& name, const std::string& url) {
  auto answer = call("POST", "/repository/add", named_body(name, "url", url));
  if (!answer) return answer.error();
  return {};
}

result<list_page<unit>> blocking_client::units(const list_query& query) {
  auto answer = call("GET", "/systemd/units" + query_string(query));
  if (!answer) return answer.error();
  return to_page<unit>(answer->root(), to_unit);
}

result<void> blocking_client::unit_action(const std::string& name, const std::string& action) {
  auto answer = call("POST", "/systemd/status", named_body(name, "action", action));
  if (!answer) return answer.error();
  return {};
}

result<std::vector<journal_entry>> blocking_client::logs_tail(const std::string& unit, int lines) {
  auto answer = call("GET", "/systemd/logs/tail?unit=" + percent_encode(unit) + "&lines=" + std::to_string(lines));
  if (!answer) return answer.error();
  std::vector<journal_entry> out;
  simdjson::dom::object envelope;
  if (answer->root().get(envelope) != simdjson::SUCCESS) return out;
  simdjson::dom::array entries;
  if (auto found = find_member(envelope, "entries"); found && found->get(entries) == simdjson::SUCCESS) {
    for (element entry : entries) {
      simdjson::dom::object object;
      if (entry.get(object) == simdjson::SUCCESS) out.push_back(to_journal_entry(object));
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
    auto parsed = json_document::parse(event.data);
    simdjson::dom::object object;
    if (!parsed || parsed->root().get(object) != simdjson::SUCCESS) return true;
    auto entry = to_journal_entry(object);
    if (!event.id.empty()) last_cursor = event.id;
    return on_entry(entry);
  });
}

result<std::map<std::string, std::string>> blocking_client::settings() {
  auto answer = call("GET", "/settings");
  if (!answer) return answer.error();
  std::map<std::string, std::string> out;
  simdjson::dom::object object;
  if (answer->root().get(object) == simdjson::SUCCESS) {
    for (const auto& [key, value] : members(object)) out[std::string(key)] = text_of(value);
  }
  return out;
}

result<void> blocking_client::set_setting(const std::string& key, const std::string& value) {
  std::string body = json_string([&key, &value](json_writer& writer) {
    writer.begin_object().key("key").value(key).key("value").value(value).end_object();
  });
  auto answer = call("POST", "/settings/set", std::move(body));
  if (!answer) return answer.error();
  return {};
}

result<list_page<account>> blocking_client::accounts(const list_query& query) {
  auto answer = call("GET", "/account" + query_string(query));
  if (!answer) return answer.error();
  return to_page<account>(answer->root(), to_account);
}

result<session_token> blocking_client::authenticate(const std::string& username, const std::string& password) {
  std::string body = json_string([&username, &password](json_writer& writer) {
    writer.begin_object().key("username").value(username).key("password").value(password).end_object();
  });
  auto answer = call("POST", "/account/authenticate", std::move(body));
  if (!answer) return answer.error();
  session_token out;
  simdjson::dom::object object;
  if (answer->root().get(object) == simdjson::SUCCESS) {
    out.token = string_member(object, "token");
    simdjson::dom::object who;
    if (auto found = find_member(object, "account"); found && found->get(who) == simdjson::SUCCESS) {
      out.who = to_account(who);
    }
  }
  if (out.token.empty()) return api_error(502, "the login answer carries no token");
  return out;
}

}  // namespace sc::client
