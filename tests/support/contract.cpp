#include "tests/support/contract.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <mutex>
#include <optional>

namespace sc::test {

namespace {

namespace json = boost::json;

// The document, fetched once per process (every server a suite starts is the same binary).
const json::value* document(const std::function<http_reply()>& fetch) {
  static std::mutex mutex;
  static std::optional<json::value> cached;
  std::lock_guard lock(mutex);
  if (!cached) {
    http_reply reply = fetch();
    if (reply.status != 200) return nullptr;
    boost::system::error_code error;
    json::value parsed = json::parse(reply.body, error);
    if (error) return nullptr;
    cached = std::move(parsed);
  }
  return &*cached;
}

std::string_view kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "?";
}

bool has_type(const json::value& v, std::string_view type) {
  std::string_view k = kind_of(v);
  if (type == k) return true;
  if (type == "number" && k == "integer") return true;
  if (type == "integer" && k == "number") {
    double d = v.as_double();
    return std::floor(d) == d;
  }
  return false;
}

std::size_t code_points(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

class validator {
 public:
  explicit validator(const json::value& doc) : doc_(doc) {}

  void check(const json::value& schema, const json::value& v, const std::string& where) {
    if (!schema.is_object()) return;
    const json::object& s = schema.as_object();
    if (const auto* ref = s.if_contains("$ref")) {
      const json::value* target = resolve(ref->as_string());
      if (target == nullptr) {
        fail(where, "refers to an unknown schema " + std::string(ref->as_string()));
        return;
      }
      check(*target, v, where);
      return;
    }
    if (const auto* alternatives = s.if_contains("oneOf")) {
      std::size_t matches = 0;
      std::vector<std::string> reasons;
      for (const auto& alternative : alternatives->as_array()) {
        validator trial(doc_);
        trial.check(alternative, v, where);
        if (trial.errors.empty()) {
          ++matches;
        } else {
          reasons.push_back(trial.errors.front());
        }
      }
      if (matches != 1) {
        std::string why;
        for (const auto& r : reasons) why += (why.empty() ? "" : " | ") + r;
        fail(where, "matches " + std::to_string(matches) + " of oneOf, not 1 (" + why + ")");
      }
      return;
    }
    if (const auto* type = s.if_contains("type")) {
      bool ok = false;
      std::string wanted;
      if (type->is_string()) {
        ok = has_type(v, type->as_string());
        wanted = type->as_string();
      } else {
        for (const auto& t : type->as_array()) {
          ok = ok || has_type(v, t.as_string());
          wanted += (wanted.empty() ? "" : "|") + std::string(t.as_string());
        }
      }
      if (!ok) {
        fail(where, "is " + std::string(kind_of(v)) + " " + json::serialize(v).substr(0, 80) + ", declared " + wanted);
        return;
      }
    }
    if (const auto* values = s.if_contains("enum")) {
      bool found = false;
      for (const auto& allowed : values->as_array()) found = found || allowed == v;
      if (!found) fail(where, json::serialize(v) + " is not one of " + json::serialize(*values));
    }
    if (v.is_string()) {
      std::size_t length = code_points(v.as_string());
      if (const auto* max = s.if_contains("maxLength"); max && length > max->to_number<std::size_t>()) {
        fail(where, "is longer than maxLength " + json::serialize(*max));
      }
      if (const auto* min = s.if_contains("minLength"); min && length < min->to_number<std::size_t>()) {
        fail(where, "is shorter than minLength " + json::serialize(*min));
      }
    }
    if (v.is_number()) {
      double d = v.to_number<double>();
      if (const auto* min = s.if_contains("minimum"); min && d < min->to_number<double>()) {
        fail(where, "is below minimum " + json::serialize(*min));
      }
      if (const auto* max = s.if_contains("maximum"); max && d > max->to_number<double>()) {
        fail(where, "is above maximum " + json::serialize(*max));
      }
    }
    if (v.is_array()) {
      const json::array& a = v.as_array();
      if (const auto* max = s.if_contains("maxItems"); max && a.size() > max->to_number<std::size_t>()) {
        fail(where, "has more than maxItems " + json::serialize(*max));
      }
      if (const auto* items = s.if_contains("items")) {
        for (std::size_t i = 0; i < a.size(); ++i) check(*items, a[i], where + "[" + std::to_string(i) + "]");
      }
    }
    if (v.is_object()) check_object(s, v.as_object(), where);
  }

  std::vector<std::string> errors;

 private:
  void check_object(const json::object& s, const json::object& o, const std::string& where) {
    const json::object* properties = nullptr;
    if (const auto* p = s.if_contains("properties")) properties = &p->as_object();
    if (const auto* required = s.if_contains("required")) {
      for (const auto& name : required->as_array()) {
        if (!o.contains(name.as_string())) fail(where, "lacks the required member " + std::string(name.as_string()));
      }
    }
    if (const auto* max = s.if_contains("maxProperties"); max && o.size() > max->to_number<std::size_t>()) {
      fail(where, "has more than maxProperties " + json::serialize(*max));
    }
    const json::value* additional = s.if_contains("additionalProperties");
    for (const auto& [key, member] : o) {
      std::string path = where + "." + std::string(key);
      if (properties != nullptr) {
        if (const auto* declared = properties->if_contains(key)) {
          check(*declared, member, path);
          continue;
        }
      }
      if (additional == nullptr) continue;
      if (additional->is_bool()) {
        if (!additional->as_bool()) fail(path, "is not declared (additionalProperties: false)");
        continue;
      }
      if (const auto* names = s.if_contains("propertyNames")) check(*names, json::value(key), path + " (name)");
      check(*additional, member, path);
    }
  }

  const json::value* resolve(std::string_view ref) const {
    constexpr std::string_view prefix = "#/components/schemas/";
    if (!ref.starts_with(prefix)) return nullptr;
    const auto* schemas = doc_.as_object().at("components").as_object().if_contains("schemas");
    return schemas ? schemas->as_object().if_contains(ref.substr(prefix.size())) : nullptr;
  }

  void fail(const std::string& where, const std::string& what) { errors.push_back(where + " " + what); }

  const json::value& doc_;
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The operation for `method path`: an exact path, else the longest prefix route ("/x/{path}").
const json::object* operation(const json::value& doc, std::string_view method, std::string_view path) {
  const json::object& paths = doc.as_object().at("paths").as_object();
  const json::object* item = nullptr;
  if (const auto* exact = paths.if_contains(path)) {
    item = &exact->as_object();
  } else {
    std::size_t best = 0;
    for (const auto& [key, value] : paths) {
      std::string_view k = key;
      if (!k.ends_with("{path}")) continue;
      std::string_view prefix = k.substr(0, k.size() - 6);
      if (path.starts_with(prefix) && prefix.size() > best) {
        best = prefix.size();
        item = &value.as_object();
      }
    }
  }
  if (item == nullptr) return nullptr;
  std::string m = lower(method == "HEAD" ? "GET" : method);
  const auto* op = item->if_contains(m);
  return op ? &op->as_object() : nullptr;
}

std::string media_type(const http_reply& reply) {
  std::string type = reply.header("content-type");
  if (auto semicolon = type.find(';'); semicolon != std::string::npos) type.resize(semicolon);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return lower(type);
}

void check_event(validator& v, const json::object& stream, std::string_view name, std::string_view data,
                 const std::string& where) {
  const auto* events = stream.if_contains("x-events");
  if (events == nullptr) {
    v.errors.push_back(where + " streams, but the document declares no events");
    return;
  }
  std::string event_name = name.empty() ? "message" : std::string(name);
  for (const auto& e : events->as_array()) {
    if (e.as_object().at("event").as_string() != event_name) continue;
    boost::system::error_code error;
    json::value parsed = json::parse(data, error);
    if (error) {
      v.errors.push_back(where + " event " + event_name + ": data is not JSON: " + std::string(data.substr(0, 80)));
      return;
    }
    v.check(e.as_object().at("data"), parsed, where + " event " + event_name);
    return;
  }
  v.errors.push_back(where + " sends the undeclared event " + event_name);
}

// The events of a whole text/event-stream body: blocks separated by a blank line.
void check_stream(validator& v, const json::object& stream, std::string_view body, const std::string& where) {
  std::size_t at = 0;
  while (at < body.size()) {
    std::size_t end = body.find("\n\n", at);
    std::string_view block = body.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    at = end == std::string_view::npos ? body.size() : end + 2;
    std::string name;
    std::string data;
    bool has_data = false;
    for (std::size_t line_at = 0; line_at < block.size();) {
      std::size_t line_end = block.find('\n', line_at);
      std::string_view line = block.substr(line_at, line_end == std::string_view::npos ? line_end : line_end - line_at);
      line_at = line_end == std::string_view::npos ? block.size() : line_end + 1;
      if (line.starts_with("event:")) {
        name = std::string(line.substr(line.starts_with("event: ") ? 7 : 6));
      } else if (line.starts_with("data:")) {
        data += (has_data ? "\n" : "") + std::string(line.substr(line.starts_with("data: ") ? 6 : 5));
        has_data = true;
      }
    }
    if (has_data) check_event(v, stream, name, data, where);
  }
}

}  // namespace

std::vector<std::string> contract_differences(std::string_view method, std::string_view target, const http_reply& reply,
                                              const std::function<http_reply()>& fetch_document) {
  std::string_view path = target.substr(0, target.find('?'));
  // CORS preflights (OPTIONS) are the transport's answer for every path, not an operation.
  if (reply.status == 0 || path == "/openapi.json" || method == "OPTIONS") return {};
  const json::value* doc = document(fetch_document);
  if (doc == nullptr) return {"the server's /openapi.json could not be read"};
  const json::object* op = operation(*doc, method, path);
  const std::string where = std::string(method) + " " + std::string(path) + " " + std::to_string(reply.status);
  if (op == nullptr) {
    // Unknown paths and methods, and requests the transport refuses before routing, are no
    // operation's: a 4xx problem, whose body is still the problem schema.
    if (reply.status < 400 || reply.status >= 500) return {where + ": the document has no such operation"};
    if (media_type(reply) != "application/problem+json") return {where + ": a refusal that is not problem+json"};
    boost::system::error_code error;
    json::value body = json::parse(reply.body, error);
    if (error) return {where + ": the problem is not JSON"};
    validator v(*doc);
    v.check(json::value{{"$ref", "#/components/schemas/problem"}}, body, where + " body");
    return v.errors;
  }
  const json::object& responses = op->at("responses").as_object();
  const auto* declared = responses.if_contains(std::to_string(reply.status));
  if (declared == nullptr && reply.status >= 200 && reply.status < 300) declared = responses.if_contains("200");
  if (declared == nullptr) return {where + ": the status is not declared for this operation"};
  if (method == "HEAD" || reply.body.empty()) return {};
  const std::string type = media_type(reply);
  const auto* content = declared->as_object().if_contains("content");
  if (content == nullptr || content->as_object().empty()) return {where + ": a body where the document declares none"};
  validator v(*doc);
  if (type == "text/event-stream") {
    const auto* stream = content->as_object().if_contains("text/event-stream");
    if (stream == nullptr) return {where + ": a stream the document does not declare"};
    check_stream(v, stream->as_object(), reply.body, where);
    return v.errors;
  }
  if (type != "application/json" && type != "application/problem+json") return {};
  const auto* media = content->as_object().if_contains(type);
  if (media == nullptr) return {where + ": " + type + " is not declared for this status"};
  boost::system::error_code error;
  json::value body = json::parse(reply.body, error);
  if (error) return {where + ": the body is not JSON"};
  v.check(media->as_object().at("schema"), body, where + " body");
  return v.errors;
}

void check_contract(std::string_view method, std::string_view target, const http_reply& reply,
                    const std::function<http_reply()>& fetch_document) {
  for (const auto& difference : contract_differences(method, target, reply, fetch_document)) {
    ADD_FAILURE() << "contract: " << difference;
  }
}

std::vector<std::string> event_differences(std::string_view method, std::string_view path, std::string_view event,
                                           std::string_view data, const std::function<http_reply()>& fetch_document) {
  const json::value* doc = document(fetch_document);
  if (doc == nullptr) return {"the server's /openapi.json could not be read"};
  const json::object* op = operation(*doc, method, path);
  const std::string where = std::string(method) + " " + std::string(path);
  if (op == nullptr) return {where + ": the document has no such operation"};
  const auto* stream =
      op->at("responses").as_object().at("200").as_object().at("content").as_object().if_contains("text/event-stream");
  if (stream == nullptr) return {where + ": a stream the document does not declare"};
  validator v(*doc);
  check_event(v, stream->as_object(), event, data, where);
  return v.errors;
}

}  // namespace sc::test
