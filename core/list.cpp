#include "core/list.hpp"

#include <charconv>
#include <limits>

namespace sc {

std::optional<std::string_view> query_params::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

namespace {

// strconv.Atoi semantics: optional sign, decimal digits, nothing else; failure → 0.
std::int64_t parse_int_or_zero(std::optional<std::string_view> text) {
  if (!text || text->empty()) return 0;
  std::string_view s = *text;
  if (s.front() == '+') s.remove_prefix(1);
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return 0;
  return value;
}

char fold(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = fold(c);
  return out;
}

}  // namespace

list_query parse_list_query(const query_params& query) {
  list_query q;
  std::int64_t limit = parse_int_or_zero(query.find("limit"));
  q.limit = limit <= 0 ? 20 : static_cast<std::size_t>(limit);
  std::int64_t offset = parse_int_or_zero(query.find("offset"));
  q.offset = offset <= 0 ? 0 : static_cast<std::size_t>(offset);
  q.sort_by = std::string(query.find("sort_by").value_or(""));
  q.sort_order = std::string(query.find("sort_order").value_or(""));
  q.search = lowered(query.find("search").value_or(""));
  return q;
}

namespace list_detail {

bool contains_folded(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && fold(haystack[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

std::string lowered_text(const list_value& v) {
  if (auto* s = std::get_if<std::string_view>(&v)) return lowered(*s);
  if (auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return std::get<bool>(v) ? "true" : "false";
}

int compare(const list_value& a, const list_value& b) {
  if (a.index() != b.index()) return a.index() < b.index() ? -1 : 1;
  if (auto* s = std::get_if<std::string_view>(&a)) {
    int c = s->compare(std::get<std::string_view>(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (auto* i = std::get_if<std::int64_t>(&a)) {
    std::int64_t j = std::get<std::int64_t>(b);
    return *i < j ? -1 : (*i > j ? 1 : 0);
  }
  bool x = std::get<bool>(a), y = std::get<bool>(b);
  return x == y ? 0 : (x ? 1 : -1);
}

bool is_descending(std::string_view order) {
  return lowered(order) == "desc";
}
bool is_ascending(std::string_view order) {
  return order.empty() || lowered(order) == "asc";
}

page_counts count_pages(std::size_t total, std::size_t offset, std::size_t limit) {
  page_counts c;
  c.total_count = total;
  c.total_pages = total == 0 ? 1 : total / limit + (total % limit != 0 ? 1 : 0);
  std::size_t clamped = std::min(offset, total);
  c.has_more = limit < total - clamped;  // (offset + limit) < total without overflow
  return c;
}

}  // namespace list_detail

}  // namespace sc
