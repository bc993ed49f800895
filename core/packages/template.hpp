#pragma once
// The two template languages of the package format (behavior-ops.md §6.2):
//
// 1. `@name@` markers, substituted in every field that takes markers. `@@` is an escape for a
//    literal `@`; `@@@var@` is `@` followed by the value of var. Unknown markers are left in place
//    (dependency markers `@dep_*@` are resolved later, at unit generation). Compile keeps `@@` as
//    `@@` (so a later pass can still see escaped markers); the final pass collapses it.
// 2. File templates (`templates.*.content`): the subset of Go text/template that package authors
//    use — `{{.A.B}}` field paths, `{{index .A.B "key"}}`, `{{/* comments */}}` and the `{{-`/`-}}`
//    trim markers. Anything else is refused when the definition is parsed, so a package never
//    fails late on a template it could not have rendered.

#include <simdjson.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace sc::packages {

using marker_values = std::map<std::string, std::string, std::less<>>;

enum class escape_mode {
  keep,      // `@@` stays `@@` (compile-time pass)
  collapse,  // `@@` becomes `@` (final pass)
};

std::string substitute_markers(std::string_view text, const marker_values& values, escape_mode mode);

// Marker names: [A-Za-z0-9_]+.
bool is_marker_name_char(char c) noexcept;

// 422 naming `field` when `content` uses anything outside the supported subset or is malformed.
result<void> check_file_template(std::string_view content, std::string_view field);

// Renders `content` against `data` (a JSON object tree: .Responses, .Package, .System, .Dep).
// A missing key renders as "<no value>", as Go's text/template does for maps.
result<std::string> render_file_template(std::string_view content, simdjson::dom::element data, std::string_view field);

}  // namespace sc::packages
