// The two template languages of the package format (core/packages/template.hpp): `@name@` markers
// and the Go text/template subset of file templates. Input: the template, then (after a NUL) the
// JSON data it renders against. A template the parse-time check accepts must render (a definition
// that passed its check never fails late); every refusal is a 422 naming the field.
#include "core/packages/template.hpp"

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sc::fuzz::input in(data, size);
  std::string_view content = in.piece('\0');
  static simdjson::dom::parser parser;
  simdjson::dom::element values;
  if (parser.parse(in.rest().data(), in.rest().size()).get(values) != simdjson::SUCCESS || !values.is_object()) {
    std::string_view fallback = R"({"Responses":{"a":"1"},"Dep":{"db":{"Host":"h","Ports":{"sql":"5432"}}}})";
    values = parser.parse(fallback.data(), fallback.size()).value_unsafe();
  }

  auto checked = sc::packages::check_file_template(content, "t");
  auto rendered = sc::packages::render_file_template(content, values, "t");
  if (!checked) {
    sc::fuzz::check(checked.error().status == 422 && !checked.error().errors.empty(), "a bad template is a 422");
    sc::fuzz::check(checked.error().errors.front().field == "t", "a bad template names its field");
    sc::fuzz::check_client_problem(checked.error(), "check_file_template");
  } else if (!rendered) {
    // Rendering may refuse what only the data decides (e.g. indexing a string), never the syntax.
    sc::fuzz::check(rendered.error().status == 422, "a render failure is a 422");
  }
  if (!rendered) sc::fuzz::check_client_problem(rendered.error(), "render_file_template");

  sc::packages::marker_values markers{{"a", "A"}, {"port", "8080"}, {"empty", ""}, {"at", "@"}};
  std::string keep = sc::packages::substitute_markers(content, markers, sc::packages::escape_mode::keep);
  std::string collapsed = sc::packages::substitute_markers(keep, markers, sc::packages::escape_mode::collapse);
  (void)sc::packages::substitute_markers(content, markers, sc::packages::escape_mode::collapse);
  // Each marker is replaced once; values are short, so the text cannot grow beyond them.
  sc::fuzz::check(keep.size() <= content.size() * 4 + 16, "marker substitution is linear");
  sc::fuzz::check(collapsed.size() <= keep.size() * 4 + 16, "collapsing is linear");
  return 0;
}
