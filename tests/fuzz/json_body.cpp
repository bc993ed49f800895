// The JSON body decoder (server/json_body.hpp) on arbitrary bytes: every body parses into an object
// or is refused with a 400, and every accessor — whatever type the client sent for the member —
// records an error instead of failing, so `finish()` is a 400/422 problem or success. The members
// are read as a route reads them: by a declared request (every kind of declaration once).
#include "server/json_body.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace sc::schema;

type nested(int depth) {
  std::vector<member> members{optional("name", string({.max_length = 64, .allow_empty = false})),
                              optional("text", string({.max_length = 4096, .allow_newlines = true})),
                              optional("flag", boolean()),
                              optional("n", integer(-1000, 1000)),
                              optional("id", integer()),
                              optional("list", array(string(), 4)),
                              optional("map", sc::server::scalar_map(8, 16, 64)),
                              optional("value", any())};
  if (depth < 4) members.push_back(optional("fields", nested(depth + 1)));
  return request(std::move(members));
}

const type& declared() {
  static const type shape = [] {
    // The root also has required members, which are usually absent (and matched case-insensitively).
    type inner = nested(0);
    std::vector<member> members = inner->members;
    members.insert(members.end(),
                   {{"Username", string({.max_length = 256})}, {"admin", boolean()}, {"quota", integer(0)}});
    return request(std::move(members));
  }();
  return shape;
}

void visit(sc::server::json_body& body, int depth) {
  for (const std::string& key : body.keys()) sc::fuzz::check(key.size() <= (std::size_t{1} << 30), "a key is listed");
  (void)body.optional_string("name");
  (void)body.optional_string("text");
  (void)body.optional_boolean("flag");
  (void)body.optional_integer("n");
  (void)body.optional_integer("id");
  (void)body.optional_string_list("list");
  (void)body.optional_scalar_map("map");
  auto value = body.raw("value");
  sc::fuzz::check(body.has("value") || !value || *value == "null", "a present value is present");
  if (depth < 4) {
    if (auto child = body.optional_object("fields")) visit(*child, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = sc::server::json_body::parse(text, declared());
  if (!body) {
    sc::fuzz::check(body.error().status == 400, "an unparsable body is a 400");
    sc::fuzz::check_client_problem(body.error(), "parse");
    return 0;
  }
  visit(*body, 0);
  (void)body->string("Username");
  (void)body->boolean("admin");
  (void)body->integer("quota");
  auto finished = body->finish();
  sc::fuzz::check(!finished == !body->ok(), "finish() agrees with ok()");
  if (!finished) {
    sc::fuzz::check(finished.error().status == 400 || finished.error().status == 422, "field errors are 400 or 422");
    sc::fuzz::check(!finished.error().errors.empty(), "field errors name their fields");
    sc::fuzz::check_client_problem(finished.error(), "finish");
  }
  return 0;
}
