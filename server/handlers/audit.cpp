// POST /audit/log (behavior-core.md §5.9): keyset paging with before_id, newest first by default.
#include "core/audit.hpp"

#include <cstdint>

#include "adapters/store/audit_store.hpp"
#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"

namespace sc::server::handlers {

reply audit_log(request_context& context) {
  // Every member is optional; unlike the original (500 "EOF"), an empty body means "no filters".
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::int64_t before_id = body->optional_integer("before_id").value_or(0);
  std::int64_t offset = body->optional_integer("offset").value_or(0);
  std::int64_t limit = body->optional_integer("limit").value_or(0);
  std::string account = body->optional_string("account").value_or("");
  std::string sort_by = body->optional_string("sort_by").value_or("");
  std::string sort_order = body->optional_string("sort_order").value_or("");
  std::string search = body->optional_string("search").value_or("");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());

  auto query =
      audit::normalize_query(before_id, offset, limit, std::move(account), sort_by, sort_order, std::move(search));
  auto page = context.services.audit().list(query);
  if (!page) co_return http::problem_response(page.error());

  std::size_t total_pages = page->total_count == 0 ? 1 : (page->total_count + query.limit - 1) / query.limit;
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_object().key("entries").begin_array();
    for (const auto& e : page->entries) {
      w.begin_object().key("id").value(e.id).key("account").value(e.account).key("action").value(e.action);
      w.key("path").value(e.path).key("detail").value(e.detail).key("success").value(e.success);
      w.key("error").value(e.error).key("created_at").value(e.created_at).key("count").value(e.count);
      w.end_object();
    }
    w.end_array().key("has_more").value(page->has_more);
    w.key("total_pages").value(static_cast<std::uint64_t>(total_pages));
    w.key("total_count").value(page->total_count).end_object();
  }));
}

namespace contracts {

const contract& audit_log() {
  using namespace schema;
  static const contract c{
      .request =
          request({optional("before_id", integer(0)), optional("offset", integer(0, 1'000'000'000)),
                   optional("limit", integer()), optional("account", string({.max_length = 256})),
                   optional("sort_by", string({.max_length = 64})), optional("sort_order", string({.max_length = 64})),
                   optional("search", string({.max_length = 256}))}),
      .request_optional = true,
      .response = page(component("audit_entry", object({{"id", integer()},
                                                        {"account", string()},
                                                        {"action", string()},
                                                        {"path", string()},
                                                        {"detail", string()},
                                                        {"success", boolean()},
                                                        {"error", string()},
                                                        {"created_at", format(string(), "date-time")},
                                                        {"count", integer(1)}})))};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
