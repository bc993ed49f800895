// What every request goes through in the app: CORS (preflights and response headers), routing,
// authentication against the route's level, the handler's deadline and cancellation, logging of
// server errors with the request's id, and the audit log (with its retention loop).
#include <boost/asio/this_coro.hpp>

#include "adapters/asio/completion.hpp"
#include "adapters/pool/work_pool.hpp"
#include "adapters/store/audit_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "core/accounts.hpp"
#include "core/audit.hpp"
#include "core/cors.hpp"
#include "core/log.hpp"
#include "server/app.hpp"
#include "server/app_parts.hpp"
#include "server/connection.hpp"

namespace sc::server {

namespace asio = boost::asio;

http::response app::preflight(const http::request& request) const {
  // Answered before routing, authentication and audit (behavior-core.md §2.6): always 204, and the
  // CORS headers only for an allowed origin, so a foreign page learns nothing.
  http::response res{boost::beast::http::status::no_content, request.version()};
  res.set(boost::beast::http::field::vary, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  std::string_view origin = request[boost::beast::http::field::origin];
  if (!cors::origin_allowed(origin, request[boost::beast::http::field::host], cors_hosts_)) return res;
  res.set(boost::beast::http::field::access_control_allow_origin, origin);
  res.set(boost::beast::http::field::access_control_allow_credentials, "true");
  res.set(boost::beast::http::field::access_control_allow_methods, cors::allow_methods);
  res.set(boost::beast::http::field::access_control_allow_headers, cors::allow_headers);
  res.set(boost::beast::http::field::access_control_max_age, cors::max_age);
  if (request["Access-Control-Request-Private-Network"] == "true") {
    res.set("Access-Control-Allow-Private-Network", "true");
  }
  return res;
}

void app::add_cors_headers(const http::request& request, http::response& response) const {
  // Every response varies by Origin, allowed or not: caches must not serve one origin's answer to
  // another. A disallowed origin gets no CORS headers, but the request still ran (§12.12).
  if (auto vary = response.find(boost::beast::http::field::vary); vary == response.end()) {
    response.set(boost::beast::http::field::vary, "Origin");
  } else {
    response.set(boost::beast::http::field::vary, std::string(vary->value()) + ", Origin");
  }
  std::string_view origin = request[boost::beast::http::field::origin];
  if (origin.empty() || !cors::origin_allowed(origin, request[boost::beast::http::field::host], cors_hosts_)) return;
  response.set(boost::beast::http::field::access_control_allow_origin, origin);
  response.set(boost::beast::http::field::access_control_allow_credentials, "true");
  response.set(boost::beast::http::field::access_control_expose_headers, cors::expose_headers);
  if (request["Access-Control-Request-Private-Network"] == "true") {
    response.set("Access-Control-Allow-Private-Network", "true");
  }
}

void app::record_audit(const request_context& context, const http::response& response, std::string detail) {
  audit::entry e;
  if (context.caller) {
    e.account = context.caller->local_root && context.caller->username.empty() ? std::string(audit::local_root_account)
                                                                               : context.caller->username;
  }
  e.action = std::string(audit::action_for(context.path));
  e.path = std::string(context.path);
  e.detail = std::move(detail);
  e.success = context.response_written || response.result_int() == 200;
  if (!e.success) {
    // The problem's own detail (what the client saw), not the internal text.
    e.error = audit::error_of_response(static_cast<int>(response.result_int()), response.reason(), response.body());
  }
  // Failed anonymous logins are counted per address and window instead of a row each (§8).
  const bool failed_login = !e.success && !context.caller && context.path == "/account/authenticate";
  auto recorded = failed_login ? audit_->record_failed_login(e, context.peer.address, std::chrono::system_clock::now())
                               : audit_->record(e);
  // A failed audit write must not fail the request it describes: it is logged instead.
  if (!recorded) log::error(recorded.error().internal);
  if (audit_->inserted() >= audit_prune_threshold && listeners_) listeners_->audit_prune.cancel();
}

asio::awaitable<void> app::prune_audit_loop() {
  constexpr std::size_t batch = 500;  // a few ms of the write lock per statement
  auto setting = [this](std::string_view key, std::int64_t fallback) {
    const std::int64_t value = settings_store_->integer(key, fallback);
    return value > 0 ? value : fallback;
  };
  while (!stopping_) {
    (void)audit_->take_inserted();
    store::audit_retention retention{setting("audit_retention_days", 90), setting("audit_max_rows", 1'000'000)};
    std::size_t total = 0;
    for (;;) {
      auto job = [pruner = audit_pruner_, retention] {
        return pruner->prune_batch(retention, std::chrono::system_clock::now(), batch);
      };
      auto pruned = co_await maintenance_queue_->run(std::move(job));
      if (!pruned || !*pruned) {
        log::warning("audit retention: " + (!pruned ? pruned.error().detail : pruned->error().internal));
        break;
      }
      total += **pruned;
      if (**pruned < batch || stopping_) break;
    }
    if (total > 0) log::info("audit retention: pruned " + std::to_string(total) + " row(s)");
    if (stopping_) co_return;
    listeners_->audit_prune.expires_after(std::chrono::hours(1));
    (void)co_await listeners_->audit_prune.async_wait(io_result);
  }
}

std::string app::request_urn(std::uint64_t id) const {
  return "urn:request:" + boot_id_.substr(0, 8) + "-" + std::to_string(id);
}

void app::log_server_error(const request_context& context, http::response& response) const {
  std::string urn = request_urn(context.id);
  std::string internal;
  if (auto field = response.find(http::internal_detail_field); field != response.end()) {
    internal = std::string(field->value());
    response.erase(field);
  }
  // The body is a problem we rendered ("{...}\n"): the id goes in as its `instance` member.
  std::string& body = response.body();
  if (response[boost::beast::http::field::content_type] == "application/problem+json") {
    if (auto close = body.rfind('}'); close != std::string::npos && body.find("\"instance\"") == std::string::npos) {
      body.insert(close, ",\"instance\":\"" + urn + "\"");
      response.prepare_payload();
    }
  }
  std::string line = urn + " " + std::string(context.request.method_string()) + " " + std::string(context.path) +
                     " answered " + std::to_string(response.result_int());
  if (!internal.empty()) line += ": " + internal;
  log::error(line);
}

asio::awaitable<http::response> app::dispatch(request_context& context) {
  if (context.request.method() == http::verb::options) co_return preflight(context.request);
  // The detail is taken before the handler runs: handlers may consume the body.
  const bool audited = audit_ && audit::is_audited(context.request.method_string(), context.path);
  std::string detail;
  if (audited) detail = audit::redact_detail(context.request.body());
  http::response response = co_await route_request(context);
  if (response.result_int() >= 500) log_server_error(context, response);
  add_cors_headers(context.request, response);
  if (audited && context.route_index != static_cast<std::size_t>(-1))
    record_audit(context, response, std::move(detail));
  co_return response;
}

asio::awaitable<http::response> app::route_request(request_context& context) {
  const unsigned version = context.request.version();
  router::match found = router_.find(context.request.method(), context.path);
  if (found.found == nullptr) {
    if (found.status == 405) {
      http::response res = http::problem_response(problem::method_not_allowed(), version);
      res.set(boost::beast::http::field::allow, found.allow);
      co_return res;
    }
    co_return http::problem_response(problem::not_found("Not Found"), version);
  }
  context.route_index = found.index;
  context.matched = found.found;
  const route& r = *found.found;

  // Who is calling: the local root peer needs no token; otherwise a Bearer token (exact prefix).
  bool local = context.peer.local_root() || (settings_.trust_loopback && context.peer.loopback);
  bool had_token = false;
  std::string_view authorization = context.request[boost::beast::http::field::authorization];
  if (authorization.starts_with("Bearer ")) {
    had_token = true;
    context.caller = auth_.validate_token(authorization.substr(7));
  }
  if (!context.caller && local) context.caller = principal{"", "", true, true, {}};
  // Grant-holding accounts are fenced in before any auth level is considered (fail closed).
  if (context.caller && !context.caller->grants.empty() &&
      !accounts::restricted_route_allowed(boost::beast::http::to_string(r.method), r.path, context.caller->grants)) {
    co_return http::problem_response(
        problem::forbidden("this account may only use network enrollment and object storage endpoints"), version);
  }

  auto unauthenticated = [&] {
    return http::problem_response(problem::unauthorized(had_token ? "invalid session" : "missing authorization token"),
                                  version);
  };
  switch (r.auth) {
    case auth_level::public_access:
      break;
    case auth_level::local_only:
      if (!local)
        co_return http::problem_response(problem::forbidden("only available to root on the local socket"), version);
      break;
    case auth_level::authenticated:
      if (!context.caller) co_return unauthenticated();
      break;
    case auth_level::admin_or_metrics:
      if (!context.caller && had_token && auth_.is_metrics_credential &&
          auth_.is_metrics_credential(authorization.substr(7)))
        break;
      [[fallthrough]];
    case auth_level::admin:
      if (!context.caller) co_return unauthenticated();
      if (!context.caller->admin)
        co_return http::problem_response(problem::forbidden("admin access required"), version);
      break;
    case auth_level::bootstrap_or_admin:
      if (auth_.bootstrap_open()) break;
      if (!context.caller) co_return unauthenticated();
      if (!context.caller->admin)
        co_return http::problem_response(problem::forbidden("admin access required"), version);
      break;
  }

  // The handler runs under its route's deadline (capped by --max-handler-deadline) with the
  // connection's cancellation slot (server/connection.hpp); the sweep or shutdown cancels it.
  auto deadline = r.deadline;
  if (settings_.max_handler_deadline.count() > 0 &&
      (deadline == no_handler_deadline || deadline > settings_.max_handler_deadline)) {
    deadline = settings_.max_handler_deadline;
  }
  connection* owner = context.owner;
  if (owner != nullptr) {
    owner->cancelled = connection::cancel_reason::none;
    owner->handler_deadline =
        deadline == no_handler_deadline ? connection::clock::time_point::max() : connection::clock::now() + deadline;
    owner->in_handler = true;
  }
  std::optional<http::response> answered;
  std::optional<problem> failure;
  try {
    answered = co_await r.fn(context);
  } catch (const problem_exception& e) {
    failure = e.problem_;
  } catch (const std::exception& e) {
    failure = problem::internal_error(std::string(r.path) + ": " + e.what());
  }
  auto cancelled = connection::cancel_reason::none;
  if (owner != nullptr) {
    owner->in_handler = false;
    owner->handler_deadline = connection::clock::time_point::max();
    cancelled = owner->cancelled;
    owner->cancelled = connection::cancel_reason::none;
  }
  if (cancelled != connection::cancel_reason::none) {
    // The slot stays cancelled until reset; the response must still be written.
    co_await asio::this_coro::reset_cancellation_state();
    // Whatever the cancelled handler answered (a 503 from an interrupted child, an exception from
    // its next await), the client learns why it ended. Work it finished before stays done.
    if (cancelled == connection::cancel_reason::deadline) {
      failure = problem::gateway_timeout("the request did not finish within " + std::to_string(deadline.count()) +
                                         " ms and was cancelled");
      failure->internal =
          std::string(r.path) + ": handler deadline of " + std::to_string(deadline.count()) + " ms passed; cancelled";
    } else {
      failure = problem::unavailable("the server is stopping; the request was cancelled");
      failure->internal = std::string(r.path) + ": cancelled by shutdown";
    }
  } else if (answered) {
    answered->version(version);
    co_return std::move(*answered);
  }
  co_return http::problem_response(*failure, version);
}

}  // namespace sc::server
