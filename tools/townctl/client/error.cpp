#include "tools/townctl/client/error.hpp"

#include "tools/townctl/client/json.hpp"

namespace sc::client {

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
std::string member_string(simdjson::dom::object object, std::string_view key) {
  auto found = find_member(object, key);
  if (!found || !found->is_string()) return {};
  return std::string(found->get_string().value_unsafe());
}
}  // namespace

api_error parse_problem(int status, std::string_view body) {
  api_error error(status, {});
  error.type = "about:blank#" + std::to_string(status);
  error.title = std::string(reason_phrase(status));
  auto parsed = json_document::parse(body);
  simdjson::dom::object object;
  if (!parsed || parsed->root().get(object) != simdjson::SUCCESS) {
    error.detail = error.title;
    return error;
  }
  if (auto type = member_string(object, "type"); !type.empty()) error.type = std::move(type);
  if (auto title = member_string(object, "title"); !title.empty()) error.title = std::move(title);
  error.detail = member_string(object, "detail");
  // The original's plain `{"error": "..."}` bodies (refresh failures and the like).
  if (error.detail.empty()) error.detail = member_string(object, "error");
  if (error.detail.empty()) error.detail = error.title;
  simdjson::dom::array errors;
  if (auto found = find_member(object, "errors"); found && found->get(errors) == simdjson::SUCCESS) {
    for (simdjson::dom::element item : errors) {
      simdjson::dom::object field;
      if (item.get(field) != simdjson::SUCCESS) continue;
      error.errors.push_back({member_string(field, "field"), member_string(field, "message")});
    }
  }
  simdjson::dom::array journal;
  if (auto found = find_member(object, "journal"); found && found->get(journal) == simdjson::SUCCESS) {
    for (simdjson::dom::element line : journal) {
      if (line.is_string()) error.journal.emplace_back(line.get_string().value_unsafe());
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
