// POST /audit/log (behavior-core.md §5.9): keyset paging with before_id, newest first by default.
#include "core/audit.hpp"

#include <cstdint>
#include <limits>

#include "adapters/store/audit_store.hpp"
#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/json_body.hpp"

namespace sc::server::handlers {

reply audit_log(request_context& context) {
  // Every member is optional; unlike the original (500 "EOF"), an empty body means "no filters".
  std::string_view text = context.request.body();
  auto body = json_body::parse(text.find_first_not_of(" \t\r\n") == std::string_view::npos ? "{}" : text);
  if (!body) co_return http::problem_response(body.error());
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::int64_t before_id = body->optional_integer("before_id", 0, max).value_or(0);
  std::int64_t offset = body->optional_integer("offset", 0, 1'000'000'000).value_or(0);
  std::int64_t limit = body->optional_integer("limit", std::numeric_limits<std::int64_t>::min(), max).value_or(0);
  std::string account = body->optional_string("account", {.max_length = 256}).value_or("");
  std::string sort_by = body->optional_string("sort_by", {.max_length = 64}).value_or("");
  std::string sort_order = body->optional_string("sort_order", {.max_length = 64}).value_or("");
  std::string search = body->optional_string("search", {.max_length = 256}).value_or("");
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

}  // namespace sc::server::handlers
