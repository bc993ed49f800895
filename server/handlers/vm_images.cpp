// The VM image cache (behavior-ops.md §9, issue 16): list, upload (download and convert, with
// progress as SSE for clients that accept it, as install does) and delete. The work is
// server/vm_image_store.cpp's; these decode, call and encode.
#include "core/vm_images.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <charconv>

#include "adapters/store/settings_store.hpp"
#include "core/json_writer.hpp"
#include "server/app.hpp"
#include "server/connection.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/lifecycle.hpp"
#include "server/sse.hpp"
#include "server/vm_image_store.hpp"

namespace sc::server::handlers {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr std::uint64_t default_max_size = std::uint64_t{64} << 30;

// vm_image_max_size as stored (0 is no limit, unlike a missing or unreadable value).
std::uint64_t max_image_size(app& services) {
  std::uint64_t value = 0;
  if (auto text = services.system_settings().get("vm_image_max_size")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec == std::errc{} && end == text->data() + text->size()) return value;
  }
  return default_max_size;
}

// The upload as its own coroutine, so an event stream can be written beside it; the outcome
// is reported to `progress` (the stream's terminal frame) and kept in `outcome`. `store` is the
// app's, which outlives every request.
asio::awaitable<void> run_upload(vm_image_store& store, vm_image_store::upload_request request,
                                 std::shared_ptr<operation_progress> progress,
                                 std::shared_ptr<result<std::string>> outcome) {
  *outcome = co_await store.upload(std::move(request), progress);
  if (*outcome) {
    progress->succeed();
  } else {
    progress->fail(outcome->error());
  }
}

// The frames operation_progress (server/lifecycle.cpp) publishes for an upload (vm_image_store::upload
// names the steps), all unnamed events.
schema::type progress_schema() {
  using namespace schema;
  auto step = object({{"step", enumeration({"downloading", "inspecting", "converting"})},
                      optional("bytes", describe(integer(0), "downloaded so far")),
                      optional("total", describe(integer(0), "the announced length"))});
  auto done = object({{"done", boolean()}});
  auto failed = object({{"error", string()}, optional("journal", array(string()))});
  return one_of({std::move(step), std::move(done), std::move(failed)});
}

}  // namespace

reply vm_images_list(request_context& context) {
  auto images = co_await context.services.vm_images().list();
  if (!images) co_return http::problem_response(images.error());
  std::string body;
  json_writer writer(body);
  writer.begin_array();
  for (const auto& image : *images) {
    writer.begin_object().key("name").value(image.name).key("size").value(image.size).end_object();
  }
  writer.end_array();
  co_return http::json_response(std::move(body));
}

reply vm_images_upload(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string url_text = body->string("url");
  std::string requested = body->optional_string("name").value_or("");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto url = vm_images::parse_fetch_url(url_text);
  if (!url) co_return http::problem_response(url.error());
  auto name = vm_images::image_name(requested, url->filename);
  if (!name) co_return http::problem_response(name.error());

  vm_image_store::upload_request request;
  request.url = std::move(*url);
  request.name = std::move(*name);
  request.max_size = max_image_size(context.services);
  auto progress = std::make_shared<operation_progress>(context.stream.get_executor());
  auto outcome = std::make_shared<result<std::string>>(problem::internal_error("upload did not run"));

  if (context.request[boost::beast::http::field::accept].find("text/event-stream") != std::string_view::npos) {
    auto subscriber = std::make_shared<sse_subscriber>(context.stream.get_executor(), 64);
    if (context.owner != nullptr) {
      context.owner->state = connection::phase::streaming;
      context.owner->stop_stream = [subscriber] { subscriber->close(); };
    }
    progress->watch(subscriber);
    // Both run to their end: a reader that goes away does not stop the upload; the handler's
    // cancellation (deadline, shutdown) stops both, and the store removes its partial files.
    co_await (serve_sse(context.stream, subscriber, sse_options{}, sse_head(context.request, context.services)) &&
              run_upload(context.services.vm_images(), std::move(request), progress, outcome));
    context.response_written = true;
    co_return http::empty_response();
  }
  co_await run_upload(context.services.vm_images(), std::move(request), progress, outcome);
  if (!*outcome) co_return http::problem_response(outcome->error());
  co_return http::json_response(
      json_string([&](json_writer& w) { w.begin_object().key("name").value(**outcome).end_object(); }));
}

reply vm_images_delete(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string requested = body->string("name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto name = vm_images::existing_image_name(requested);
  if (!name) co_return http::problem_response(name.error());
  auto removed = co_await context.services.vm_images().remove(std::move(*name));
  if (!removed) co_return http::problem_response(removed.error());
  co_return http::empty_response();
}

namespace contracts {

const contract& vm_images_list() {
  using namespace schema;
  static const contract c{
      .response = array(component("vm_image", object({{"name", string()}, {"size", describe(integer(0), "bytes")}}))),
      .problems = {404, 422}};
  return c;
}

const contract& vm_images_upload() {
  using namespace schema;
  static const contract c{.request = request({{"url", string({.max_length = vm_images::max_url_length})},
                                              optional("name", string({.max_length = 255}))}),
                          .response = object({{"name", string()}}),
                          .events = {{"", progress_schema(), "progress (step), then the end: done or error"}},
                          .problems = {404, 409, 502}};
  return c;
}

const contract& vm_images_delete() {
  using namespace schema;
  static const contract c{
      .request = request({{"name", string({.max_length = 4096})}}), .media_type = "", .problems = {404, 409}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
