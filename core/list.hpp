#pragma once
// The generic list contract of every list endpoint (behavior-core.md §4): search → sort → page,
// and the envelope {"entries","has_more","total_pages","total_count"}.
//
// An entity describes itself with a table of `list_field`s. Fields marked `secret` are neither
// searched nor sortable (DESIGN.md: search and sort never touch secrets), unlike the original,
// whose search matched stored password hashes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/query.hpp"

namespace sc {

struct list_query {
  std::string sort_by;
  std::string sort_order;  // "asc", "desc" (any case), or a value to pin first
  std::size_t limit = 20;
  std::size_t offset = 0;
  std::string search;  // lowercased
};

// Lenient, as the original: unparsable or non-positive limit → 20, bad or negative offset → 0.
list_query parse_list_query(const query_params& query);

// What a field yields for searching and sorting. Strings are searched; everything is sortable.
using list_value = std::variant<std::string_view, std::int64_t, bool>;

template <class T>
struct list_field {
  std::string_view name;             // the JSON name `sort_by` uses
  list_value (*get)(const T& item);  // captureless: a function pointer, no allocation per call
  bool secret = false;               // never searched, never sorted by
};

struct page_counts {
  bool has_more = false;
  std::size_t total_pages = 1;
  std::size_t total_count = 0;
};

namespace list_detail {
bool contains_folded(std::string_view haystack, std::string_view lowered_needle);
int compare(const list_value& a, const list_value& b);
std::string lowered_text(const list_value& v);
bool is_descending(std::string_view order);
bool is_ascending(std::string_view order);
page_counts count_pages(std::size_t total, std::size_t offset, std::size_t limit);
}  // namespace list_detail

// One page of `items` (pointers into it; `items` must outlive the result) plus the counts.
template <class T>
struct list_page {
  std::vector<const T*> entries;
  page_counts counts;
};

template <class T>
list_page<T> paginate(const std::vector<T>& items, const list_query& query, std::span<const list_field<T>> fields) {
  std::vector<const T*> kept;
  kept.reserve(items.size());
  for (const T& item : items) {
    bool match = query.search.empty();
    for (std::size_t f = 0; !match && f < fields.size(); ++f) {
      if (fields[f].secret) continue;
      list_value v = fields[f].get(item);
      if (auto* s = std::get_if<std::string_view>(&v)) match = list_detail::contains_folded(*s, query.search);
    }
    if (match) kept.push_back(&item);
  }

  const list_field<T>* key = nullptr;
  for (const auto& f : fields) {
    if (!f.secret && f.name == query.sort_by) key = &f;
  }
  if (key != nullptr) {
    auto get = key->get;
    if (list_detail::is_descending(query.sort_order)) {
      std::stable_sort(kept.begin(), kept.end(),
                       [get](const T* a, const T* b) { return list_detail::compare(get(*a), get(*b)) > 0; });
    } else if (list_detail::is_ascending(query.sort_order)) {
      std::stable_sort(kept.begin(), kept.end(),
                       [get](const T* a, const T* b) { return list_detail::compare(get(*a), get(*b)) < 0; });
    } else {  // pinned: items equal to the given value first, then ascending
      std::string pinned = list_detail::lowered_text(list_value{std::string_view(query.sort_order)});
      std::stable_sort(kept.begin(), kept.end(), [get, &pinned](const T* a, const T* b) {
        bool pa = list_detail::lowered_text(get(*a)) == pinned;
        bool pb = list_detail::lowered_text(get(*b)) == pinned;
        if (pa != pb) return pa;
        return list_detail::compare(get(*a), get(*b)) < 0;
      });
    }
  }

  list_page<T> page;
  page.counts = list_detail::count_pages(kept.size(), query.offset, query.limit);
  std::size_t begin = std::min(query.offset, kept.size());
  std::size_t end = begin + std::min(query.limit, kept.size() - begin);
  page.entries.assign(kept.begin() + static_cast<std::ptrdiff_t>(begin),
                      kept.begin() + static_cast<std::ptrdiff_t>(end));
  return page;
}

}  // namespace sc
