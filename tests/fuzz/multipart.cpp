// The streaming multipart/form-data parser (core/multipart.hpp): a Content-Type line, then a body
// fed in chunks whose sizes the input chooses (as the socket delivers them). Events must come in
// order (begin, data*, end per part), no more data may come out than went in, and every refusal is
// a 4xx problem.
#include "core/multipart.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"

namespace {

class ordered_events : public sc::multipart::part_handler {
 public:
  sc::result<void> on_part_begin(const sc::multipart::part_info& part) override {
    sc::fuzz::check(!in_part_, "begin only between parts");
    sc::fuzz::check(part.has_filename || part.filename.empty(), "a filename only when has_filename");
    in_part_ = true;
    ++parts_;
    return {};
  }
  sc::result<void> on_part_data(std::string_view data) override {
    sc::fuzz::check(in_part_, "data only inside a part");
    bytes_ += data.size();
    return {};
  }
  sc::result<void> on_part_end() override {
    sc::fuzz::check(in_part_, "end only inside a part");
    in_part_ = false;
    return {};
  }

  bool in_part_ = false;
  std::size_t parts_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sc::fuzz::input in(data, size);
  std::uint8_t chunking = in.byte();
  std::string_view content_type = in.piece('\n');
  auto boundary = sc::multipart::boundary_of(content_type);
  if (!boundary) {
    sc::fuzz::check(boundary.error().status == 400 || boundary.error().status == 415, "a bad type is 400 or 415");
    sc::fuzz::check_client_problem(boundary.error(), "boundary_of");
    boundary = std::string("fuzz");
  }
  sc::fuzz::check(!boundary->empty() && boundary->size() <= 70, "a boundary is 1..70 bytes");

  sc::multipart::parser parser(*boundary);
  ordered_events events;
  std::string_view body = in.rest();
  const std::size_t chunk = chunking == 0 ? body.size() + 1 : chunking;
  sc::result<void> fed;
  while (!body.empty()) {
    std::string_view piece = body.substr(0, chunk);
    body.remove_prefix(piece.size());
    fed = parser.feed(piece, events);
    if (!fed) break;
  }
  sc::fuzz::check(events.bytes_ <= size, "no more part data than body bytes");
  sc::fuzz::check(events.parts_ <= sc::multipart::parser::max_parts, "at most max_parts parts");
  if (!fed) {
    sc::fuzz::check_client_problem(fed.error(), "feed");
    return 0;
  }
  auto finished = parser.finish();
  if (finished) {
    sc::fuzz::check(parser.done() && !events.in_part_, "a finished body has closed its last part");
  } else {
    sc::fuzz::check_client_problem(finished.error(), "finish");
  }
  return 0;
}
