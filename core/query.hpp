#pragma once
// Decoded query-string parameters, in order. Filled by the transport (Boost.URL); read by core.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sc {

struct query_params {
  std::vector<std::pair<std::string, std::string>> items;  // percent-decoded, in request order

  // The first value of `key`, if present (a repeated key keeps its first value, as Go's Get).
  std::optional<std::string_view> find(std::string_view key) const;
};

}  // namespace sc
