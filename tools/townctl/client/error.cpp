#include "tools/townctl/client/error.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace sc::client {

namespace json = boost::json;

error_class api_error::classify() const noexcept {
  if (status == 0 || status >= 500) return error_class::unavailable;
  if (status == 401 || status == 403) return error_class::auth;
  if (status == 404) return error_class::not_found;
  if (status == 409) return error_class::conflict;
  return error_class::refused;
}

std::string api_error::describe() const {
  std::string out;
  if (status != 0) out = std::to_string(status) + " " + (title.empty() ? std::string(reason_phrase(status)) : title);
  if (!detail.empty() && detail != title) out += (out.empty() ? "" : ": ") + detail;
  for (const auto& e : errors) out += "\n  " + e.field + ": " + e.message;
  return out;
}

void throw_exception_from_error(const api_error& e, const boost::source_location& /*location*/) {
  throw api_exception(e);
}

namespace {
std::string member_string(const json::object& object, std::string_view key) {
  const auto* found = object.if_contains(key);
  if (found == nullptr || !found->is_string()) return {};
  return std::string(found->as_string());
}
}  // namespace

api_error parse_problem(int status, std::string_view body) {
  api_error error(status, {});
  error.type = "about:blank#" + std::to_string(status);
  error.title = std::string(reason_phrase(status));
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) {
    error.detail = error.title;
    return error;
  }
  const auto& object = parsed.as_object();
  if (auto type = member_string(object, "type"); !type.empty()) error.type = std::move(type);
  if (auto title = member_string(object, "title"); !title.empty()) error.title = std::move(title);
  error.detail = member_string(object, "detail");
  // The original's plain `{"error": "..."}` bodies (refresh failures and the like).
  if (error.detail.empty()) error.detail = member_string(object, "error");
  if (error.detail.empty()) error.detail = error.title;
  if (const auto* errors = object.if_contains("errors"); errors != nullptr && errors->is_array()) {
    for (const auto& item : errors->as_array()) {
      if (!item.is_object()) continue;
      error.errors.push_back({member_string(item.as_object(), "field"), member_string(item.as_object(), "message")});
    }
  }
  if (const auto* journal = object.if_contains("journal"); journal != nullptr && journal->is_array()) {
    for (const auto& line : journal->as_array()) {
      if (line.is_string()) error.journal.emplace_back(line.as_string());
    }
  }
  return error;
}

api_error transport_error(std::string detail) {
  api_error error(0, std::move(detail));
  error.type = "about:blank#unavailable";
  error.title = "Unavailable";
  return error;
}

}  // namespace sc::client
