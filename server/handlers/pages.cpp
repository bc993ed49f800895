// Static pages (behavior-ops.md §9 "Pages"; issue 16): list, create, upload, update, remove and
// rebuild. The work is server/pages_service.cpp's; these decode, call and encode.
#include "core/pages.hpp"

#include "adapters/store/settings_store.hpp"
#include "core/list.hpp"
#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"
#include "server/pages_service.hpp"

namespace sc::server::handlers {

namespace {

constexpr string_rule name_rule{.max_length = 63, .allow_empty = false, .allow_newlines = false};
constexpr string_rule field_rule{.max_length = 4096, .allow_empty = true, .allow_newlines = false};

// The members a create or update names (page_request_schema declares them).
pages::page_request read_request(json_body& body) {
  pages::page_request r;
  r.source_type = body.optional_string("source_type");
  r.repo_url = body.optional_string("repo_url");
  r.branch = body.optional_string("branch");
  r.image = body.optional_string("image");
  // The reference calls the field "container image": a client that names it so is understood.
  if (!r.image) r.image = body.optional_string("container_image");
  r.image_directory = body.optional_string("image_directory");
  r.domain = body.optional_string("domain");
  return r;
}

// The body of a create and of an update: the name and the members read_request reads.
schema::type page_request_schema() {
  using namespace schema;
  return request({{"name", string(name_rule)},
                  optional("source_type", string(field_rule)),
                  optional("repo_url", string(field_rule)),
                  optional("branch", string(field_rule)),
                  optional("image", string(field_rule)),
                  optional("container_image", describe(string(field_rule), "image, as the reference names it")),
                  optional("image_directory", string(field_rule)),
                  optional("domain", string(field_rule))});
}

http::response page_response(const pages::page& p) {
  return http::json_response(json_string([&](json_writer& w) { pages::write_json(w, p); }));
}

}  // namespace

reply pages_list(request_context& context) {
  list_query query = parse_list_query(context.query);
  auto page = paginate(context.services.pages().all(), query, pages::list_fields());
  co_return http::json_response(json_string([&](json_writer& w) { write_list_envelope(w, page, pages::write_json); }));
}

reply pages_create(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  pages::page_request request = read_request(*body);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  request.name = std::move(name);
  auto created = co_await context.services.pages().create(std::move(request));
  if (!created) co_return http::problem_response(created.error());
  co_return page_response(*created);
}

reply pages_update(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  pages::page_request changes = read_request(*body);
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto updated = co_await context.services.pages().update(std::move(name), std::move(changes));
  if (!updated) co_return http::problem_response(updated.error());
  co_return page_response(*updated);
}

reply pages_remove(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto removed = co_await context.services.pages().remove(std::move(name));
  if (!removed) co_return http::problem_response(removed.error());
  co_return http::empty_response();
}

reply pages_rebuild(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string name = body->string("name");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  auto rebuilt = co_await context.services.pages().rebuild(std::move(name));
  if (!rebuilt) co_return http::problem_response(rebuilt.error());
  co_return page_response(*rebuilt);
}

reply pages_upload(request_context& context) {
  if (context.body == nullptr)
    co_return http::problem_response(problem::internal_error("upload route does not stream"));
  auto& services = context.services;
  const auto limits = storage_service::upload_limits::from(services.system_settings());
  std::string content_type(context.request[boost::beast::http::field::content_type]);
  auto uploaded = co_await services.pages().upload(*context.body, std::move(content_type), limits);
  if (!uploaded) co_return http::problem_response(uploaded.error());
  co_return page_response(*uploaded);
}

namespace contracts {

const contract& pages_list() {
  using namespace schema;
  static const contract c{.response = page(pages::json_schema())};
  return c;
}

const contract& pages_create() {
  static const contract c{.request = page_request_schema(), .response = pages::json_schema(), .problems = {404, 409}};
  return c;
}

const contract& pages_upload() {
  // The body is a multipart form (name, then the archive), not JSON.
  static const contract c{.response = pages::json_schema(), .problems = {404, 408, 409, 415}};
  return c;
}

const contract& pages_update() {
  static const contract c{.request = page_request_schema(), .response = pages::json_schema(), .problems = {404, 409}};
  return c;
}

const contract& pages_remove() {
  using namespace schema;
  static const contract c{.request = request({{"name", string(name_rule)}}), .media_type = "", .problems = {404, 409}};
  return c;
}

const contract& pages_rebuild() {
  using namespace schema;
  static const contract c{
      .request = request({{"name", string(name_rule)}}), .response = pages::json_schema(), .problems = {404, 409}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
