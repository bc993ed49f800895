#include "server/json_body.hpp"

#include <cstdlib>
#include <limits>

#include "core/json_reader.hpp"
#include "core/log.hpp"
#include "server/router.hpp"

namespace sc::server {

namespace dom = simdjson::dom;

struct json_body::errors {
  std::vector<field_error> list;
  bool missing_or_malformed = false;
};

namespace {

// Stands in for a declaration that is missing, in release builds (debug builds stop instead).
const schema::node& undeclared() {
  static const schema::node fallback{.k = schema::kind::any, .text = {.max_length = 1024}, .closed = false};
  return fallback;
}

}  // namespace

struct json_body::node {
  dom::object object;
  const schema::node* shape = nullptr;  // this object's declaration
  std::string prefix;                   // "" at the root, "fields." below
  std::shared_ptr<errors> sink;
  std::uint64_t generation = 0;

  void check_alive() const {
    // Reading a body after the parser moved on would read another request's bytes.
    if (generation != json::parse_generation()) {
      log::error("json_body used after the next parse (copy values out before co_await)");
      std::abort();
    }
  }
  std::string name(std::string_view field) const { return prefix + std::string(field); }
  // The declaration of member `field`, which the handler reads as `k` (any: whatever it is),
  // required or not. A mismatch is a programming error: the document would not say what the decoder
  // does.
  const schema::node& declared(std::string_view field, schema::kind k, std::optional<bool> required) const {
    const schema::member* m = shape ? shape->find(field) : nullptr;
    const char* wrong = nullptr;
    if (m == nullptr || !m->value) {
      wrong = "is not declared";
    } else if (k != schema::kind::any && m->value->k != k) {
      wrong = "is declared as another type";
    } else if (required && m->required != *required) {
      wrong = m->required ? "is declared required but read as optional" : "is declared optional but read as required";
    }
    if (wrong == nullptr) return *m->value;
    log::error("json_body: request member " + name(field) + " (read as " + std::string(schema::to_string(k)) + ") " +
               wrong + " in the route's contract");
#ifndef NDEBUG
    std::abort();
#else
    return undeclared();
#endif
  }
  // The member, exact name first, then case-insensitively (Go's encoding/json matching).
  std::optional<dom::element> find(std::string_view field) const {
    check_alive();
    dom::element value;
    if (object.at_key(field).get(value) == simdjson::SUCCESS) return value;
    if (object.at_key_case_insensitive(field).get(value) == simdjson::SUCCESS) return value;
    return std::nullopt;
  }
  void missing(std::string_view field) {
    sink->missing_or_malformed = true;
    sink->list.push_back({name(field), "is required"});
  }
  void invalid(std::string_view field, std::string message) {
    sink->list.push_back({name(field), std::move(message)});
  }

  std::optional<std::string> text(std::string_view field, dom::element value, const string_rule& rule) {
    std::string_view s;
    if (value.get_string().get(s) != simdjson::SUCCESS) {
      invalid(field, "must be a string");
      return std::nullopt;
    }
    if (s.size() > rule.max_length) {
      invalid(field, "must be at most " + std::to_string(rule.max_length) + " bytes");
      return std::nullopt;
    }
    if (!rule.allow_empty && s.empty()) {
      invalid(field, "must not be empty");
      return std::nullopt;
    }
    if (has_control_characters(s, rule.allow_newlines)) {
      invalid(field, "must not contain control characters");
      return std::nullopt;
    }
    return std::string(s);
  }
  std::optional<std::int64_t> number(std::string_view field, dom::element value, std::int64_t min, std::int64_t max) {
    std::int64_t n = 0;
    if (value.get_int64().get(n) != simdjson::SUCCESS) {
      if (value.is_uint64() || value.is_double()) {
        invalid(field, value.is_double() ? "must be an integer" : "is out of range");
      } else {
        invalid(field, "must be an integer");
      }
      return std::nullopt;
    }
    if (n < min || n > max) {
      invalid(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return n;
  }
};

bool has_control_characters(std::string_view text, bool allow_newlines) noexcept {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7F) continue;
    if (allow_newlines && (c == '\t' || c == '\n' || c == '\r')) continue;
    return true;
  }
  return false;
}

json_body::json_body(std::unique_ptr<node> n) : node_(std::move(n)) {}
json_body::json_body(json_body&&) noexcept = default;
json_body& json_body::operator=(json_body&&) noexcept = default;
json_body::~json_body() = default;

result<json_body> json_body::parse(const request_context& context) {
  static const schema::type none;
  if (context.matched == nullptr) return parse(context.request.body(), none);
  const contract& c = contract_of(*context.matched);
  std::string_view text = context.request.body();
  // Routes whose members are all optional take an empty body as "no filters" (the original: 500 "EOF").
  if (c.request_optional && text.find_first_not_of(" \t\r\n") == std::string_view::npos) text = "{}";
  return parse(text, c.request);
}

result<json_body> json_body::parse(std::string_view text, const schema::type& declared) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    problem p = problem::bad_request("request body is empty; send a JSON object");
    return p;
  }
  dom::element root;
  if (auto error = json::parse(text).get(root); error != simdjson::SUCCESS) {
    return problem::bad_request(std::string("malformed JSON body: ") + simdjson::error_message(error));
  }
  auto n = std::make_unique<node>();
  if (root.get_object().get(n->object) != simdjson::SUCCESS) {
    return problem::bad_request("request body must be a JSON object");
  }
  n->shape = declared.get();
  n->sink = std::make_shared<errors>();
  n->generation = json::parse_generation();
  return json_body(std::move(n));
}

bool json_body::has(std::string_view field) const {
  node_->declared(field, schema::kind::any, std::nullopt);
  auto value = node_->find(field);
  return value && !value->is_null();
}

std::vector<std::string> json_body::keys() const {
  node_->check_alive();
  std::vector<std::string> out;
  for (auto member : node_->object) out.emplace_back(member.key);
  return out;
}

std::string json_body::string(std::string_view field) {
  return string_as(field, node_->declared(field, schema::kind::string, true));
}

std::string json_body::string_as(std::string_view field, const schema::node& d) {
  const string_rule rule = d.text;
  auto value = node_->find(field);
  if (!value || value->is_null()) {
    node_->missing(field);
    return {};
  }
  return node_->text(field, *value, rule).value_or(std::string{});
}

bool json_body::boolean(std::string_view field) {
  node_->declared(field, schema::kind::boolean, true);
  auto value = node_->find(field);
  if (!value || value->is_null()) {
    node_->missing(field);
    return false;
  }
  bool b = false;
  if (value->get_bool().get(b) != simdjson::SUCCESS) node_->invalid(field, "must be true or false");
  return b;
}

namespace {
constexpr std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t highest = std::numeric_limits<std::int64_t>::max();
}  // namespace

std::int64_t json_body::integer(std::string_view field) {
  return integer_as(field, node_->declared(field, schema::kind::integer, true));
}

std::int64_t json_body::integer_as(std::string_view field, const schema::node& d) {
  const std::int64_t min = d.minimum.value_or(lowest);
  const std::int64_t max = d.maximum.value_or(highest);
  auto value = node_->find(field);
  if (!value || value->is_null()) {
    node_->missing(field);
    return 0;
  }
  return node_->number(field, *value, min, max).value_or(0);
}

std::optional<std::string> json_body::optional_string(std::string_view field) {
  return optional_string_as(field, node_->declared(field, schema::kind::string, false));
}

std::optional<std::string> json_body::optional_string_as(std::string_view field, const schema::node& d) {
  const string_rule rule = d.text;
  auto value = node_->find(field);
  if (!value || value->is_null()) return std::nullopt;
  return node_->text(field, *value, rule);
}

std::optional<bool> json_body::optional_boolean(std::string_view field) {
  node_->declared(field, schema::kind::boolean, false);
  auto value = node_->find(field);
  if (!value || value->is_null()) return std::nullopt;
  bool b = false;
  if (value->get_bool().get(b) != simdjson::SUCCESS) {
    node_->invalid(field, "must be true or false");
    return std::nullopt;
  }
  return b;
}

std::optional<std::int64_t> json_body::optional_integer(std::string_view field) {
  return optional_integer_as(field, node_->declared(field, schema::kind::integer, false));
}

std::optional<std::int64_t> json_body::optional_integer_as(std::string_view field, const schema::node& d) {
  auto value = node_->find(field);
  if (!value || value->is_null()) return std::nullopt;
  return node_->number(field, *value, d.minimum.value_or(lowest), d.maximum.value_or(highest));
}

std::optional<std::vector<std::string>> json_body::optional_string_list(std::string_view field) {
  return optional_string_list_as(field, node_->declared(field, schema::kind::array, false));
}

std::vector<std::string> json_body::string_list(std::string_view field) {
  const schema::node& d = node_->declared(field, schema::kind::array, true);
  if (!has(field)) {
    node_->missing(field);
    return {};
  }
  return optional_string_list_as(field, d).value_or(std::vector<std::string>{});
}

std::optional<std::vector<std::string>> json_body::optional_string_list_as(std::string_view field,
                                                                           const schema::node& d) {
  const string_rule rule = d.items ? d.items->text : undeclared().text;
  const std::size_t max_items = d.max_items != 0 ? d.max_items : 256;
  auto value = node_->find(field);
  if (!value || value->is_null()) return std::nullopt;
  dom::array items;
  if (value->get_array().get(items) != simdjson::SUCCESS) {
    node_->invalid(field, "must be an array of strings");
    return std::nullopt;
  }
  if (items.size() > max_items) {
    node_->invalid(field, "must have at most " + std::to_string(max_items) + " items");
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(items.size());
  std::size_t index = 0;
  bool failed = false;
  for (dom::element item : items) {
    auto text = node_->text(std::string(field) + "[" + std::to_string(index++) + "]", item, rule);
    if (!text) {
      failed = true;
      continue;
    }
    out.push_back(std::move(*text));
  }
  if (failed) return std::nullopt;
  return out;
}

schema::type scalar_map(std::size_t max_items, std::size_t max_key_length, std::size_t max_value_length) {
  auto values = schema::one_of({schema::string({.max_length = max_value_length}), schema::number(), schema::boolean()});
  return schema::map(std::move(values), max_items, max_key_length);
}

std::optional<std::vector<std::pair<std::string, std::string>>> json_body::optional_scalar_map(std::string_view field) {
  return optional_scalar_map_as(field, node_->declared(field, schema::kind::map, false));
}

std::optional<std::vector<std::pair<std::string, std::string>>> json_body::optional_scalar_map_as(
    std::string_view field, const schema::node& d) {
  struct {
    std::size_t max_items = 256;
    std::size_t max_key_length = 128;
    std::size_t max_value_length = std::size_t{64} * 1024;
  } rule;
  if (d.max_items != 0) rule.max_items = d.max_items;
  if (d.max_key_length != 0) rule.max_key_length = d.max_key_length;
  if (d.items && !d.items->alternatives.empty() && d.items->alternatives.front()->text.max_length != 0) {
    rule.max_value_length = d.items->alternatives.front()->text.max_length;
  }
  auto value = node_->find(field);
  if (!value || value->is_null()) return std::nullopt;
  dom::object members;
  if (value->get_object().get(members) != simdjson::SUCCESS) {
    node_->invalid(field, "must be an object");
    return std::nullopt;
  }
  if (members.size() > rule.max_items) {
    node_->invalid(field, "must have at most " + std::to_string(rule.max_items) + " members");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  bool failed = false;
  for (auto [key, member] : members) {
    std::string name = std::string(field) + "." + std::string(key);
    std::string_view text;
    if (key.size() > rule.max_key_length) {
      node_->invalid(name, "the name must be at most " + std::to_string(rule.max_key_length) + " bytes");
      failed = true;
    } else if (member.get_string().get(text) == simdjson::SUCCESS) {
      if (text.size() > rule.max_value_length) {
        node_->invalid(name, "must be at most " + std::to_string(rule.max_value_length) + " bytes");
        failed = true;
      } else {
        out.emplace_back(std::string(key), std::string(text));
      }
    } else if (member.is_number() || member.is_bool()) {
      out.emplace_back(std::string(key), simdjson::minify(member));
    } else if (!member.is_null()) {
      node_->invalid(name, "must be a string, a number or a boolean");
      failed = true;
    }
  }
  if (failed) return std::nullopt;
  return out;
}

std::optional<json_body> json_body::optional_object(std::string_view field) {
  return child(field, false);
}

std::optional<json_body> json_body::child(std::string_view field, bool required) {
  const schema::node& d = node_->declared(field, schema::kind::object, required);
  auto value = node_->find(field);
  if (!value || value->is_null()) return std::nullopt;
  auto child = std::make_unique<node>();
  child->shape = &d;
  if (value->get_object().get(child->object) != simdjson::SUCCESS) {
    node_->invalid(field, "must be an object");
    return std::nullopt;
  }
  child->prefix = node_->name(field) + ".";
  child->sink = node_->sink;
  child->generation = node_->generation;
  return json_body(std::move(child));
}

std::optional<json_body> json_body::object(std::string_view field) {
  auto found = node_->find(field);
  if (!found || found->is_null()) {
    node_->declared(field, schema::kind::object, true);
    node_->missing(field);
    return std::nullopt;
  }
  return child(field, true);
}

std::optional<std::string> json_body::raw(std::string_view field) const {
  node_->declared(field, schema::kind::any, std::nullopt);
  auto value = node_->find(field);
  if (!value) return std::nullopt;
  return simdjson::minify(*value);
}

void json_body::reject(const std::string& field, std::string message) {
  node_->sink->list.push_back({node_->prefix + field, std::move(message)});
}

void json_body::require(const std::string& field) {
  node_->missing(field);
}

bool json_body::ok() const noexcept {
  return node_->sink->list.empty();
}

result<void> json_body::finish() const {
  const errors& e = *node_->sink;
  if (e.list.empty()) return {};
  std::string detail;
  for (const auto& f : e.list) detail += (detail.empty() ? "" : "; ") + f.field + " " + f.message;
  problem p(e.missing_or_malformed ? 400 : 422, std::move(detail));
  p.errors = e.list;
  return p;
}

}  // namespace sc::server
