#include "core/accounts.hpp"

#include <algorithm>
#include <array>

namespace sc::accounts {

namespace {

bool is_ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool has_control(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return b < 0x20 || b == 0x7F;
  });
}
std::string_view trimmed(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr std::array<std::string_view, 2> grant_names = {"wireguard", "gfeh"};

void check_list(std::vector<field_error>& errors, std::string_view field, const std::vector<std::string>& names,
                std::optional<std::string> (*rule)(std::string_view)) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (auto e = rule(names[i])) errors.push_back({std::string(field) + "[" + std::to_string(i) + "]", *e});
  }
}

// Scope rules that depend on the resulting row (behavior-core.md §2.4).
void check_scope(std::vector<field_error>& errors, const std::string& prefix, bool admin,
                 const std::vector<std::string>& grants, const std::vector<std::string>& networks) {
  if (admin && !grants.empty()) errors.push_back({prefix + "grants", "an administrator already holds every grant"});
  if (!grants.empty() && networks.empty()) {
    errors.push_back({prefix + "networks", "an account holding grants must be scoped to at least one network"});
  }
}

}  // namespace

std::optional<std::string> username_error(std::string_view username) {
  if (username.empty()) return "is required";
  if (username.size() > max_username_length) return "must be at most 64 characters";
  if (!is_ascii_alnum(username.front())) return "must start with a letter or digit";
  for (char c : username) {
    if (!is_ascii_alnum(c) && c != '.' && c != '_' && c != '-') {
      return "may only contain letters, digits, '.', '_' and '-'";
    }
  }
  return std::nullopt;
}

std::optional<std::string> password_error(std::string_view password) {
  if (password.size() < min_password_length) return "password must be at least 8 characters";
  if (password.size() > max_password_length) return "password must be at most 1024 characters";
  for (char c : password) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x21 || b > 0x7E) return "password may only contain printable ASCII characters (no spaces)";
  }
  return std::nullopt;
}

std::optional<std::string> email_error(std::string_view email) {
  if (trimmed(email).empty()) return "email is required";
  if (email.size() > max_email_length) return "must be at most 254 characters";
  // ^[^\s@]+@[^\s@]+\.[^\s@]+$ — exactly one '@', no whitespace, a dot inside the domain part.
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos ||
      has_control(email) || std::any_of(email.begin(), email.end(), is_space)) {
    return "invalid email address";
  }
  std::string_view domain = email.substr(at + 1);
  auto dot = domain.find('.', 1);
  bool dotted = false;
  while (dot != std::string_view::npos) {
    if (dot + 1 < domain.size()) dotted = true;
    dot = domain.find('.', dot + 1);
  }
  if (!dotted) return "invalid email address";
  return std::nullopt;
}

std::optional<std::string> phone_error(std::string_view phone) {
  if (trimmed(phone).empty()) return "phone is required";
  if (phone.size() > max_phone_length) return "must be at most 64 characters";
  std::string_view rest = phone;
  if (rest.front() == '+') rest.remove_prefix(1);
  bool digit = false;
  for (char c : rest) {
    if (is_digit(c)) {
      digit = true;
    } else if (!(c == ' ' || c == '\t' || c == '-' || c == '(' || c == ')' || c == '.')) {
      return "invalid phone number";
    }
  }
  if (!digit) return "invalid phone number";
  return std::nullopt;
}

std::optional<std::string> real_name_error(std::string_view real_name, bool required) {
  if (required && trimmed(real_name).empty()) return "real name is required";
  if (real_name.size() > max_real_name_length) return "must be at most 256 characters";
  if (has_control(real_name)) return "must not contain control characters";
  return std::nullopt;
}

std::optional<std::string> grant_error(std::string_view grant) {
  if (std::find(grant_names.begin(), grant_names.end(), grant) == grant_names.end()) return "unknown grant";
  return std::nullopt;
}

std::optional<std::string> network_error(std::string_view network) {
  if (network.empty() || network.size() > max_network_length || !is_ascii_alnum(network.front())) {
    return "invalid network name in account scope";
  }
  for (char c : network) {
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) return "invalid network name in account scope";
  }
  return std::nullopt;
}

std::span<const std::string_view> known_grants() noexcept {
  return grant_names;
}

bool restricted_route_allowed(std::string_view method, std::string_view path,
                              const std::vector<std::string>& grants) noexcept {
  struct allowed {
    std::string_view grant;  // empty: every restricted account
    std::string_view method;
    std::string_view path;
  };
  static constexpr allowed list[] = {
      {"", "POST", "/account/authenticate"},
      {"", "GET", "/account/me"},
      {"", "GET", "/networks"},
      {"", "GET", "/dns/services"},
      {"", "GET", "/tls/ca.crt"},
      {"", "GET", "/status/ping"},
      {"wireguard", "GET", "/networks/peers"},
      {"wireguard", "POST", "/networks/peers/add"},
      {"wireguard", "POST", "/networks/peers/refresh"},
      {"gfeh", "GET", "/gfeh"},
      {"gfeh", "GET", "/gfeh/principals"},
      {"gfeh", "POST", "/gfeh/principals/add"},
      {"gfeh", "POST", "/gfeh/principals/remove"},
      {"gfeh", "GET", "/gfeh/grants"},
      {"gfeh", "POST", "/gfeh/grants/add"},
      {"gfeh", "POST", "/gfeh/grants/revoke"},
      {"gfeh", "GET", "/gfeh/exposures"},
      {"gfeh", "POST", "/gfeh/exposures/withdraw"},
  };
  for (const allowed& a : list) {
    if (a.method != method || a.path != path) continue;
    if (a.grant.empty() || std::find(grants.begin(), grants.end(), a.grant) != grants.end()) return true;
  }
  return false;
}

std::vector<std::string> normalized(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

problem validation_problem(std::vector<field_error> errors) {
  std::string detail = errors.empty() ? "invalid request" : errors.front().field + ": " + errors.front().message;
  problem p(422, std::move(detail));
  p.errors = std::move(errors);
  return p;
}

result<new_account> prepare_new_account(new_account request, bool first_account) {
  std::vector<field_error> errors;
  if (auto e = username_error(request.username)) errors.push_back({"username", *e});
  if (auto e = password_error(request.password)) errors.push_back({"password", *e});
  if (auto e = email_error(request.email)) errors.push_back({"email", *e});
  if (auto e = phone_error(request.phone)) errors.push_back({"phone", *e});
  if (auto e = real_name_error(request.real_name, true)) errors.push_back({"real_name", *e});
  check_list(errors, "grants", request.grants, grant_error);
  check_list(errors, "networks", request.networks, network_error);
  if (first_account) request.admin = true;
  request.grants = normalized(std::move(request.grants));
  request.networks = normalized(std::move(request.networks));
  // The original silently dropped `admin` for granted accounts; for the first account (always an
  // admin) grants would be contradictory, so both cases are reported by the scope check.
  if (!request.admin && request.grants.empty() && request.networks.empty()) request.networks = {"home"};
  check_scope(errors, "", request.admin, request.grants, request.networks);
  if (!errors.empty()) return validation_problem(std::move(errors));
  return request;
}

result<account_changes> prepare_changes(account_changes changes, const account& current) {
  std::vector<field_error> errors;
  if (changes.password) {
    if (auto e = password_error(*changes.password)) errors.push_back({"fields.password", *e});
  }
  if (changes.email) {
    if (auto e = email_error(*changes.email)) errors.push_back({"fields.email", *e});
  }
  if (changes.phone) {
    if (auto e = phone_error(*changes.phone)) errors.push_back({"fields.phone", *e});
  }
  if (changes.real_name) {
    if (auto e = real_name_error(*changes.real_name, false)) errors.push_back({"fields.real_name", *e});
  }
  if (changes.grants) {
    check_list(errors, "fields.grants", *changes.grants, grant_error);
    changes.grants = normalized(std::move(*changes.grants));
  }
  if (changes.networks) {
    check_list(errors, "fields.networks", *changes.networks, network_error);
    changes.networks = normalized(std::move(*changes.networks));
  }
  if (changes.grants || changes.networks) {
    check_scope(errors, "fields.", current.admin, changes.grants ? *changes.grants : current.grants,
                changes.networks ? *changes.networks : current.networks);
  }
  if (!errors.empty()) return validation_problem(std::move(errors));
  return changes;
}

void apply_changes(account& target, const account_changes& changes, std::string password_hash, std::string now) {
  if (changes.password) target.password_hash = std::move(password_hash);
  if (changes.email) target.email = *changes.email;
  if (changes.phone) target.phone = *changes.phone;
  if (changes.real_name) target.real_name = *changes.real_name;
  if (changes.grants) target.grants = *changes.grants;
  if (changes.networks) target.networks = *changes.networks;
  target.updated_at = std::move(now);
}

void write_json(json_writer& writer, const account& a) {
  writer.begin_object();
  writer.key("username").value(a.username);
  writer.key("email").value(a.email);
  writer.key("phone").value(a.phone);
  writer.key("real_name").value(a.real_name);
  writer.key("admin").value(a.admin);
  writer.key("disabled").value(a.disabled);
  writer.key("grants").value(a.grants);
  writer.key("networks").value(a.networks);
  writer.key("created_at").value(a.created_at);
  writer.key("updated_at").value(a.updated_at);
  writer.end_object();
}

schema::type account_schema() {
  using namespace schema;
  return component("account", object({{"username", string()},
                                      {"email", string()},
                                      {"phone", string()},
                                      {"real_name", string()},
                                      {"admin", boolean()},
                                      {"disabled", boolean()},
                                      {"grants", array(string())},
                                      {"networks", array(string())},
                                      {"created_at", format(string(), "date-time")},
                                      {"updated_at", format(string(), "date-time")}}));
}

namespace {
std::string_view joined_grants(const account& a) {
  return a.grants.empty() ? std::string_view{} : a.grants.front();
}
std::string_view joined_networks(const account& a) {
  return a.networks.empty() ? std::string_view{} : a.networks.front();
}
}  // namespace

std::span<const list_field<account>> list_fields() noexcept {
  // grants/networks sort and search by their first (sorted) element: list_value has no arrays.
  static const std::array<list_field<account>, 11> fields = {{
      {"username", [](const account& a) -> list_value { return std::string_view(a.username); }},
      {"email", [](const account& a) -> list_value { return std::string_view(a.email); }},
      {"phone", [](const account& a) -> list_value { return std::string_view(a.phone); }},
      {"real_name", [](const account& a) -> list_value { return std::string_view(a.real_name); }},
      {"admin", [](const account& a) -> list_value { return a.admin; }},
      {"disabled", [](const account& a) -> list_value { return a.disabled; }},
      {"grants", [](const account& a) -> list_value { return joined_grants(a); }},
      {"networks", [](const account& a) -> list_value { return joined_networks(a); }},
      {"created_at", [](const account& a) -> list_value { return std::string_view(a.created_at); }},
      {"updated_at", [](const account& a) -> list_value { return std::string_view(a.updated_at); }},
      {"password_hash", [](const account& a) -> list_value { return std::string_view(a.password_hash); }, true},
  }};
  return fields;
}

}  // namespace sc::accounts
