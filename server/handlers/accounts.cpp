// Accounts and sessions (behavior-core.md §5.4–5.5, with DESIGN.md's status codes). Decode with
// json_body, call the identity service, encode. Who may do what beyond the route's auth level
// (self-only updates, the immutable admin flag) is decided here, before any work.

#include "server/app.hpp"
#include "server/handlers/handlers.hpp"
#include "server/identity.hpp"
#include "server/json_body.hpp"

namespace sc::server::handlers {

namespace {

// Usernames in request bodies: long enough for any valid name, short enough to never be a burden;
// the full rule (core/accounts.hpp) applies where a name is created.
constexpr string_rule username_rule{.max_length = 256};
constexpr string_rule password_rule{.max_length = 4096};
constexpr string_rule contact_rule{.max_length = 1024};
constexpr string_rule name_rule{.max_length = 128};

http::response account_response(const accounts::account& a) {
  std::string body;
  json_writer writer(body);
  accounts::write_json(writer, a);
  return http::json_response(std::move(body));
}

// The request of the routes that name one account: `{"username": string}`.
schema::type username_request() {
  return schema::request({{"username", schema::string(username_rule)}});
}

result<std::string> username_body(const request_context& context) {
  auto body = json_body::parse(context);
  if (!body) return body.error();
  std::string username = body->string("username");
  if (auto ok = body->finish(); !ok) return ok.error();
  return username;
}

}  // namespace

reply account_authenticate(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string username = body->string("username");
  std::string password = body->string("password");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());

  auto login =
      co_await context.services.accounts().authenticate(std::move(username), std::move(password), context.peer.address);
  if (!login) co_return http::problem_response(login.error());
  std::string reply_body;
  json_writer writer(reply_body);
  writer.begin_object().key("token").value(login->token).key("account");
  accounts::write_json(writer, login->account);
  writer.end_object();
  auto response = http::json_response(std::move(reply_body));
  response.set(boost::beast::http::field::cache_control, "no-store");
  co_return response;
}

reply account_create(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  accounts::new_account request;
  request.username = body->string("username");
  request.password = body->string("password");
  request.email = body->string("email");
  request.phone = body->string("phone");
  request.real_name = body->string("real_name");
  request.admin = body->optional_boolean("admin").value_or(false);
  request.grants = body->optional_string_list("grants").value_or(std::vector<std::string>{});
  request.networks = body->optional_string_list("networks").value_or(std::vector<std::string>{});
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());

  bool caller_admin = context.caller && context.caller->admin;
  auto created = co_await context.services.accounts().create(std::move(request), caller_admin);
  if (!created) co_return http::problem_response(created.error());
  co_return account_response(*created);
}

reply account_get(request_context& context) {
  auto username = username_body(context);
  if (!username) co_return http::problem_response(username.error());
  const accounts::account* found = context.services.accounts().find(*username);
  if (found == nullptr) co_return http::problem_response(problem::not_found("account not found"));
  co_return account_response(*found);
}

reply account_list(request_context& context) {
  list_query query = parse_list_query(context.query);
  const identity& directory = context.services.accounts();
  auto page = paginate(directory.all(), query, accounts::list_fields());
  std::string body;
  body.reserve(256 + page.entries.size() * 256);
  json_writer writer(body);
  write_list_envelope(writer, page,
                      [&directory](json_writer& w, const accounts::account& a) { w.raw(directory.account_json(a)); });
  co_return http::json_response(std::move(body));
}

reply account_update(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string username = body->string("username");
  accounts::account_changes changes;
  bool admin_present = false;
  if (auto fields = body->object("fields")) {
    admin_present = fields->has("admin");
    changes.password = fields->optional_string("password");
    changes.email = fields->optional_string("email");
    changes.phone = fields->optional_string("phone");
    changes.real_name = fields->optional_string("real_name");
    changes.grants = fields->optional_string_list("grants");
    changes.networks = fields->optional_string_list("networks");
  }
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());

  const principal& caller = *context.caller;
  if (admin_present) {
    co_return http::problem_response(problem::forbidden("admin status cannot be changed after account creation"));
  }
  if (!caller.admin && (username != caller.username || changes.grants || changes.networks)) {
    co_return http::problem_response(problem::forbidden("admin access required"));
  }
  auto updated = co_await context.services.accounts().update(std::move(username), std::move(changes));
  if (!updated) co_return http::problem_response(updated.error());
  co_return account_response(*updated);
}

reply account_me(request_context& context) {
  co_return http::json_response(json_string(
      [&](json_writer& w) { w.begin_object().key("username").value(context.caller->username).end_object(); }));
}

reply account_sessions(request_context& context) {
  co_return http::json_response(json_string([&](json_writer& w) {
    w.begin_array();
    for (const auto& s : context.services.accounts().sessions_of(context.caller->username)) {
      w.begin_object().key("id").value(s.id).key("username").value(s.username);
      w.key("created_at").value(sessions::format_timestamp(s.created_at));
      w.key("last_used").value(sessions::format_timestamp(s.last_used)).end_object();
    }
    w.end_array();
  }));
}

reply account_session_revoke(request_context& context) {
  auto body = json_body::parse(context);
  if (!body) co_return http::problem_response(body.error());
  std::string session_id = body->string("session_id");
  if (auto ok = body->finish(); !ok) co_return http::problem_response(ok.error());
  if (auto revoked = context.services.accounts().revoke(*context.caller, session_id); !revoked) {
    co_return http::problem_response(revoked.error());
  }
  co_return http::empty_response();
}

reply account_disable(request_context& context) {
  auto username = username_body(context);
  if (!username) co_return http::problem_response(username.error());
  if (auto done = context.services.accounts().set_disabled(*username, true); !done) {
    co_return http::problem_response(done.error());
  }
  co_return http::empty_response();
}

reply account_enable(request_context& context) {
  auto username = username_body(context);
  if (!username) co_return http::problem_response(username.error());
  if (auto done = context.services.accounts().set_disabled(*username, false); !done) {
    co_return http::problem_response(done.error());
  }
  co_return http::empty_response();
}

namespace contracts {

const contract& account_authenticate() {
  using namespace schema;
  static const contract c{
      .request = request({{"username", string(username_rule)}, {"password", string(password_rule)}}),
      .response = object({{"token", string()}, {"account", accounts::account_schema()}}),
      .problems = {401, 429}};
  return c;
}

const contract& account_create() {
  using namespace schema;
  static const contract c{.request = request({{"username", string(username_rule)},
                                              {"password", string(password_rule)},
                                              {"email", string(contact_rule)},
                                              {"phone", string(contact_rule)},
                                              {"real_name", string(contact_rule)},
                                              optional("admin", boolean()),
                                              optional("grants", array(string(name_rule), 16)),
                                              optional("networks", array(string(name_rule), 256))}),
                          .response = accounts::account_schema(),
                          .problems = {409, 429}};
  return c;
}

const contract& account_get() {
  static const contract c{.request = username_request(), .response = accounts::account_schema(), .problems = {404}};
  return c;
}

const contract& account_list() {
  static const contract c{.response = schema::page(accounts::account_schema())};
  return c;
}

const contract& account_update() {
  using namespace schema;
  static const contract c{
      .request = request(
          {{"username", string(username_rule)},
           {"fields", request({optional("admin", any("refused (403): set only at creation")),
                               optional("password", string(password_rule)), optional("email", string(contact_rule)),
                               optional("phone", string(contact_rule)), optional("real_name", string(contact_rule)),
                               optional("grants", array(string(name_rule), 16)),
                               optional("networks", array(string(name_rule), 256))})}}),
      .response = accounts::account_schema(),
      .problems = {404, 429}};
  return c;
}

const contract& account_me() {
  using namespace schema;
  static const contract c{.response = object({{"username", string()}})};
  return c;
}

const contract& account_sessions() {
  using namespace schema;
  static const contract c{
      .response = array(component("account_session", object({{"id", string()},
                                                             {"username", string()},
                                                             {"created_at", format(string(), "date-time")},
                                                             {"last_used", format(string(), "date-time")}})))};
  return c;
}

const contract& account_session_revoke() {
  using namespace schema;
  static const contract c{.request = request({{"session_id", string(name_rule)}}), .media_type = "", .problems = {404}};
  return c;
}

const contract& account_disable() {
  static const contract c{.request = username_request(), .media_type = "", .problems = {404}};
  return c;
}

const contract& account_enable() {
  static const contract c{.request = username_request(), .media_type = "", .problems = {404}};
  return c;
}

}  // namespace contracts

}  // namespace sc::server::handlers
