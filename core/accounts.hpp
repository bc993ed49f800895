#pragma once
// Accounts: the model, its JSON shape (behavior-core.md §5.5) and every validation rule. Pure.
//
// Rules (all failures are field errors → 422 problem+json, never 500):
//   username   1..64 bytes of [A-Za-z0-9._-], first character a letter or digit. Case-sensitive.
//              (The original accepted anything, even ""; names reach logs, audit rows and UIs, so
//              we refuse whitespace, control characters, '/', '@' and the like.)
//   password   8..1024 bytes, every byte printable ASCII 0x21..0x7E (no spaces), as the original;
//              the upper bound keeps hashing cost bounded.
//   email      required, ≤ 254 bytes, `^[^\s@]+@[^\s@]+\.[^\s@]+$`.
//   phone      required, ≤ 64 bytes, `^\+?[\d\s\-().]*\d[\d\s\-().]*$`.
//   real_name  required (non-blank after trimming) on create, ≤ 256 bytes, no control characters;
//              may be set to "" by an update (as the original).
//   grants     ⊆ {wireguard, gfeh}; an administrator holds every grant implicitly, so an admin with
//              grants is refused; an account with grants needs ≥ 1 network.
//   networks   each 1..63 bytes of [a-z0-9-], starting with a letter or digit. Grants and networks are
//              stored sorted and de-duplicated. Ordinary accounts get ["home"] when none are given.
//   The first account ever created is an administrator whatever the request says (DESIGN.md).

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/problem.hpp"
#include "core/schema.hpp"

namespace sc::accounts {

struct account {
  std::string username;
  std::string password_hash;  // PHC string; never serialised, never searched or sorted
  std::string email;
  std::string phone;
  std::string real_name;
  bool admin = false;
  bool disabled = false;
  std::vector<std::string> grants;
  std::vector<std::string> networks;
  std::string created_at;  // RFC 3339 UTC, second precision
  std::string updated_at;
};

// What POST /account/create asks for (password in clear; hashed by the caller after validation).
struct new_account {
  std::string username;
  std::string password;
  std::string email;
  std::string phone;
  std::string real_name;
  bool admin = false;
  std::vector<std::string> grants;
  std::vector<std::string> networks;
};

// The members of POST /account/update's `fields`; absent members are left unchanged.
struct account_changes {
  std::optional<std::string> password;
  std::optional<std::string> email;
  std::optional<std::string> phone;
  std::optional<std::string> real_name;
  std::optional<std::vector<std::string>> grants;
  std::optional<std::vector<std::string>> networks;
  bool empty() const noexcept { return !password && !email && !phone && !real_name && !grants && !networks; }
};

inline constexpr std::size_t max_username_length = 64;
inline constexpr std::size_t min_password_length = 8;
inline constexpr std::size_t max_password_length = 1024;
inline constexpr std::size_t max_email_length = 254;
inline constexpr std::size_t max_phone_length = 64;
inline constexpr std::size_t max_real_name_length = 256;
inline constexpr std::size_t max_network_length = 63;

// Each returns the message for an invalid value, or nullopt when valid.
std::optional<std::string> username_error(std::string_view username);
std::optional<std::string> password_error(std::string_view password);
std::optional<std::string> email_error(std::string_view email);
std::optional<std::string> phone_error(std::string_view phone);
std::optional<std::string> real_name_error(std::string_view real_name, bool required);
std::optional<std::string> grant_error(std::string_view grant);
std::optional<std::string> network_error(std::string_view network);

// The known grants, in registry order.
std::span<const std::string_view> known_grants() noexcept;

// Whether an account restricted by `grants` (a non-admin holding any) may call "METHOD PATH":
// the fail-closed allow-list of behavior-core.md §2.5 (common routes plus each grant's routes).
bool restricted_route_allowed(std::string_view method, std::string_view path,
                              const std::vector<std::string>& grants) noexcept;

// Sorted, de-duplicated.
std::vector<std::string> normalized(std::vector<std::string> names);

// Validates a create request and returns it with `admin` forced on when `first_account`, grants and
// networks normalised, and networks defaulted to ["home"] for ordinary accounts. Field names in the
// errors are the request's member names ("username", "grants[1]", …).
result<new_account> prepare_new_account(new_account request, bool first_account);

// Validates changes against the account they apply to (`fields.` prefixed field names) and returns
// them normalised. Grants/networks are checked against the resulting row.
result<account_changes> prepare_changes(account_changes changes, const account& current);

// Applies prepared changes (except the password, which the caller hashes) and stamps updated_at.
void apply_changes(account& target, const account_changes& changes, std::string password_hash, std::string now);

// An administrator that is not disabled (the bootstrap predicate's unit).
inline bool is_enabled_admin(const account& a) noexcept {
  return a.admin && !a.disabled;
}

// The account JSON, fields in the exact order of behavior-core.md §5.5; grants is always an array.
// Written straight into the response (core/json_writer.hpp); password_hash is never written.
void write_json(json_writer& writer, const account& a);
// What write_json writes (the "account" component of /openapi.json).
schema::type account_schema();

// Searchable/sortable fields of GET /account. password_hash is listed as secret: never searched,
// never sortable.
std::span<const list_field<account>> list_fields() noexcept;

// A 422 problem carrying `errors` (the detail names the first field).
problem validation_problem(std::vector<field_error> errors);

}  // namespace sc::accounts
