#include "core/schema.hpp"

#include <set>
#include <utility>

namespace sc::schema {

namespace {

type make(node n) {
  return std::make_shared<const node>(std::move(n));
}

node copy(const type& t) {
  return t ? *t : node{};
}

// The JSON Schema type keyword; none for `any` and `one_of`.
std::string_view type_name(kind k) {
  if (k == kind::map) return "object";
  if (k == kind::any || k == kind::one_of) return {};
  return to_string(k);
}

// The schema itself, never a $ref to it (components are written here once).
void write_body(json_writer& w, const node& n, component_set& components) {
  w.begin_object();
  if (std::string_view name = type_name(n.k); !name.empty()) {
    w.key("type");
    if (n.nullable) {
      w.begin_array().value(name).value("null").end_array();
    } else {
      w.value(name);
    }
  }
  if (!n.description.empty()) w.key("description").value(n.description);
  switch (n.k) {
    case kind::string:
      if (n.text.max_length != 0) w.key("maxLength").value(static_cast<std::uint64_t>(n.text.max_length));
      if (!n.text.allow_empty) w.key("minLength").value(1);
      if (!n.format.empty()) w.key("format").value(n.format);
      if (!n.values.empty()) {
        w.key("enum").begin_array();
        for (const auto& v : n.values) w.value(v);
        if (n.nullable) w.null();
        w.end_array();
      }
      break;
    case kind::integer:
      if (n.minimum) w.key("minimum").value(*n.minimum);
      if (n.maximum) w.key("maximum").value(*n.maximum);
      break;
    case kind::array:
      w.key("items");
      write(w, n.items, components);
      if (n.max_items != 0) w.key("maxItems").value(static_cast<std::uint64_t>(n.max_items));
      break;
    case kind::object: {
      w.key("properties").begin_object();
      std::vector<std::string> required;
      for (const auto& m : n.members) {
        w.key(m.name);
        write(w, m.value, components);
        if (m.required) required.push_back(m.name);
      }
      w.end_object();
      if (!required.empty()) w.key("required").value(required);
      if (n.closed) w.key("additionalProperties").value(false);
      break;
    }
    case kind::map:
      w.key("additionalProperties");
      write(w, n.items, components);
      if (n.max_items != 0) w.key("maxProperties").value(static_cast<std::uint64_t>(n.max_items));
      if (n.max_key_length != 0) {
        w.key("propertyNames").begin_object();
        w.key("maxLength").value(static_cast<std::uint64_t>(n.max_key_length)).end_object();
      }
      break;
    case kind::one_of:
      w.key("oneOf").begin_array();
      for (const auto& alternative : n.alternatives) write(w, alternative, components);
      if (n.nullable) w.begin_object().key("type").value("null").end_object();
      w.end_array();
      break;
    case kind::any:
    case kind::boolean:
    case kind::number:
      break;
  }
  w.end_object();
}

}  // namespace

std::string_view to_string(kind k) noexcept {
  switch (k) {
    case kind::string:
      return "string";
    case kind::integer:
      return "integer";
    case kind::number:
      return "number";
    case kind::boolean:
      return "boolean";
    case kind::array:
      return "array";
    case kind::object:
      return "object";
    case kind::map:
      return "map";
    case kind::one_of:
      return "one_of";
    case kind::any:
      break;
  }
  return "any";
}

const member* node::find(std::string_view name) const noexcept {
  for (const auto& m : members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

type string(string_rule rule) {
  return make({.k = kind::string, .text = rule});
}

type enumeration(std::initializer_list<std::string_view> values) {
  node n{.k = kind::string};
  for (auto v : values) n.values.emplace_back(v);
  return make(std::move(n));
}

type integer(std::optional<std::int64_t> minimum, std::optional<std::int64_t> maximum) {
  return make({.k = kind::integer, .minimum = minimum, .maximum = maximum});
}

type number() {
  return make({.k = kind::number});
}

type boolean() {
  return make({.k = kind::boolean});
}

type any(std::string_view description) {
  return make({.k = kind::any, .description = std::string(description)});
}

type array(type items, std::size_t max_items) {
  return make({.k = kind::array, .items = std::move(items), .max_items = max_items});
}

type object(std::vector<member> members) {
  return make({.k = kind::object, .members = std::move(members)});
}

namespace {

// Request strings always have a limit: an undeclared one is the decoder's default (1 KiB), and the
// document says so.
constexpr std::size_t default_request_string = 1024;

type bounded(const type& t) {
  if (!t) return t;
  if (t->k == kind::string && t->text.max_length == 0) {
    node n = *t;
    n.text.max_length = default_request_string;
    return make(std::move(n));
  }
  if (t->k == kind::array && t->items && t->items->k == kind::string && t->items->text.max_length == 0) {
    node n = *t;
    n.items = bounded(t->items);
    return make(std::move(n));
  }
  return t;
}

}  // namespace

type request(std::vector<member> members) {
  for (auto& m : members) m.value = bounded(m.value);
  return make({.k = kind::object, .members = std::move(members), .closed = false});
}

type map(type values, std::size_t max_items, std::size_t max_key_length) {
  return make({.k = kind::map, .items = std::move(values), .max_items = max_items, .max_key_length = max_key_length});
}

type one_of(std::vector<type> alternatives) {
  return make({.k = kind::one_of, .alternatives = std::move(alternatives)});
}

type page(type entry) {
  return object({{"entries", array(std::move(entry))},
                 {"has_more", boolean()},
                 {"total_pages", integer(0)},
                 {"total_count", integer(0)}});
}

type component(std::string name, const type& t) {
  node n = copy(t);
  n.component = std::move(name);
  return make(std::move(n));
}

type describe(const type& t, std::string_view description) {
  node n = copy(t);
  n.description = std::string(description);
  return make(std::move(n));
}

type nullable(type t) {
  // A component stays one declaration: its nullable use is oneOf [the $ref, null].
  if (t && !t->component.empty()) return make({.k = kind::one_of, .nullable = true, .alternatives = {std::move(t)}});
  node n = copy(t);
  n.nullable = true;
  return make(std::move(n));
}

type format(const type& t, std::string_view name) {
  node n = copy(t);
  n.format = std::string(name);
  return make(std::move(n));
}

member optional(std::string name, type t) {
  return {std::move(name), std::move(t), false};
}

void write(json_writer& w, const type& t, component_set& components) {
  if (!t) {
    w.begin_object().end_object();
    return;
  }
  if (t->component.empty()) {
    write_body(w, *t, components);
    return;
  }
  components.emplace(t->component, t);
  w.begin_object().key("$ref").value("#/components/schemas/" + t->component).end_object();
}

void write_components(json_writer& w, component_set& components) {
  // Writing a component may gather more; write until every gathered one is written, each once.
  std::set<std::string, std::less<>> written;
  for (bool more = true; more;) {
    more = false;
    for (const auto& [name, t] : component_set(components)) {
      if (!written.insert(name).second) continue;
      more = true;
      w.key(name);
      write_body(w, *t, components);
    }
  }
}

}  // namespace sc::schema
