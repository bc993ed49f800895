// The JSON body decoder (server/json_body.hpp) on arbitrary bytes: every body parses into an object
// or is refused with a 400, and every accessor — whatever the member's type — records an error
// instead of failing, so `finish()` is a 400/422 problem or success.
#include "server/json_body.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"

namespace {

void visit(sc::server::json_body& body, int depth) {
  for (const std::string& key : body.keys()) {
    sc::fuzz::check(body.has(key) || !body.raw(key) || *body.raw(key) == "null", "a listed key is present");
    // Each typed read of each member: the type mismatches are what a client sends by mistake.
    (void)body.optional_string(key, {.max_length = 64, .allow_empty = false});
    (void)body.optional_string(key, {.max_length = 4096, .allow_newlines = true});
    (void)body.optional_boolean(key);
    (void)body.optional_integer(key, -1000, 1000);
    (void)body.optional_integer(key);
    (void)body.optional_string_list(key, {}, 4);
    (void)body.raw(key);
    if (depth < 4) {
      if (auto child = body.optional_object(key)) visit(*child, depth + 1);
    }
  }
  // Required members that are usually absent, and case-insensitive matches.
  (void)body.string("Username");
  (void)body.boolean("admin");
  (void)body.integer("quota", 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = sc::server::json_body::parse(text);
  if (!body) {
    sc::fuzz::check(body.error().status == 400, "an unparsable body is a 400");
    sc::fuzz::check_client_problem(body.error(), "parse");
    return 0;
  }
  visit(*body, 0);
  auto finished = body->finish();
  sc::fuzz::check(!finished == !body->ok(), "finish() agrees with ok()");
  if (!finished) {
    sc::fuzz::check(finished.error().status == 400 || finished.error().status == 422, "field errors are 400 or 422");
    sc::fuzz::check(!finished.error().errors.empty(), "field errors name their fields");
    sc::fuzz::check_client_problem(finished.error(), "finish");
  }
  return 0;
}
