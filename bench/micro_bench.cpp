// Micro benches of the request hot path: route lookup, list paging and envelope building, JSON
// encoding of a 20-entry page (the DOM and the streaming writer), parsing a request body (the DOM
// and the request-body decoder), problem rendering.
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "core/json_writer.hpp"
#include "core/list.hpp"
#include "core/problem.hpp"
#include "server/json_body.hpp"
#include "server/router.hpp"

namespace {

struct account_row {
  std::string username, email, phone, real_name, password_hash;
  bool admin = false;
  std::string created_at = "2025-05-01T12:00:00Z";
};

const sc::list_field<account_row> account_fields[] = {
    {"username", [](const account_row& a) -> sc::list_value { return std::string_view(a.username); }},
    {"email", [](const account_row& a) -> sc::list_value { return std::string_view(a.email); }},
    {"phone", [](const account_row& a) -> sc::list_value { return std::string_view(a.phone); }},
    {"real_name", [](const account_row& a) -> sc::list_value { return std::string_view(a.real_name); }},
    {"password_hash", [](const account_row& a) -> sc::list_value { return std::string_view(a.password_hash); }, true},
    {"admin", [](const account_row& a) -> sc::list_value { return a.admin; }},
    {"created_at", [](const account_row& a) -> sc::list_value { return std::string_view(a.created_at); }},
};

std::vector<account_row> make_accounts(int n) {
  std::vector<account_row> rows;
  for (int i = 0; i < n; ++i) {
    std::string id = std::to_string(i);
    rows.push_back({"user" + id, "user" + id + "@example.com", "555-01" + id, "User Number " + id,
                    "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", i % 5 == 0});
  }
  return rows;
}

// The DOM a boost::json version of the handler would build: the baseline json_writer is measured
// against (the product writes with json_writer only).
boost::json::value account_json(const account_row& a) {
  return boost::json::object{{"username", a.username},
                             {"email", a.email},
                             {"phone", a.phone},
                             {"real_name", a.real_name},
                             {"admin", a.admin},
                             {"disabled", false},
                             {"grants", boost::json::array{}},
                             {"networks", boost::json::array{"home"}},
                             {"created_at", a.created_at},
                             {"updated_at", a.created_at}};
}

void route_match(benchmark::State& state) {
  sc::server::router table(sc::server::build_routes());
  for (auto _ : state) {
    auto hit = table.find(sc::http::verb::get, "/status/ping");
    auto miss = table.find(sc::http::verb::post, "/no/such/route");
    benchmark::DoNotOptimize(hit.found);
    benchmark::DoNotOptimize(miss.status);
  }
}
BENCHMARK(route_match);

void paginate_20_of_n(benchmark::State& state) {
  auto rows = make_accounts(static_cast<int>(state.range(0)));
  sc::query_params query;
  query.items = {{"sort_by", "email"}, {"sort_order", "desc"}, {"search", "user"}};
  auto parsed = sc::parse_list_query(query);
  for (auto _ : state) {
    auto page = sc::paginate<account_row>(rows, parsed, account_fields);
    benchmark::DoNotOptimize(page);
  }
}
BENCHMARK(paginate_20_of_n)->Arg(20)->Arg(1000);

// A 20-entry page as a boost::json DOM, built and serialised (what json_writer replaced).
void json_encode_20_entry_page(benchmark::State& state) {
  auto rows = make_accounts(20);
  auto page = sc::paginate<account_row>(rows, sc::parse_list_query({}), account_fields);
  std::size_t bytes = 0;
  for (auto _ : state) {
    boost::json::array entries;
    for (const account_row* a : page.entries) entries.push_back(account_json(*a));
    boost::json::object body{{"entries", std::move(entries)},
                             {"has_more", page.counts.has_more},
                             {"total_pages", page.counts.total_pages},
                             {"total_count", page.counts.total_count}};
    std::string text = boost::json::serialize(body);
    bytes += text.size();
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(json_encode_20_entry_page);

// The same bytes as json_encode_20_entry_page, written with the streaming writer.
void json_write_20_entry_page(benchmark::State& state) {
  auto rows = make_accounts(20);
  auto page = sc::paginate<account_row>(rows, sc::parse_list_query({}), account_fields);
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text;
    sc::json_writer writer(text);
    sc::write_list_envelope(writer, page, [](sc::json_writer& w, const account_row& a) {
      w.begin_object();
      w.key("username").value(a.username);
      w.key("email").value(a.email);
      w.key("phone").value(a.phone);
      w.key("real_name").value(a.real_name);
      w.key("admin").value(a.admin);
      w.key("disabled").value(false);
      w.key("grants").begin_array().end_array();
      w.key("networks").begin_array().value("home").end_array();
      w.key("created_at").value(a.created_at);
      w.key("updated_at").value(a.created_at);
      w.end_object();
    });
    bytes += text.size();
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(json_write_20_entry_page);

// A typical request body (POST /account/create), read field by field.
constexpr std::string_view create_body =
    R"({"username":"user17","password":"correct horse battery staple","email":"user17@example.com",)"
    R"("phone":"555-0117","real_name":"User Number 17","admin":false,"networks":["home","lab"]})";

void json_parse_body_dom(benchmark::State& state) {
  for (auto _ : state) {
    boost::system::error_code ec;
    auto value = boost::json::parse(create_body, ec);
    const auto& object = value.as_object();
    std::string username(object.at("username").as_string());
    std::string email(object.at("email").as_string());
    bool admin = object.at("admin").as_bool();
    benchmark::DoNotOptimize(username);
    benchmark::DoNotOptimize(email);
    benchmark::DoNotOptimize(admin);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * create_body.size()));
}
BENCHMARK(json_parse_body_dom);

void json_parse_body_decoder(benchmark::State& state) {
  using namespace sc::schema;
  const type create_request = request(
      {{"username", string({.max_length = 64})}, {"email", string({.max_length = 256})}, optional("admin", boolean())});
  for (auto _ : state) {
    auto body = sc::server::json_body::parse(create_body, create_request);
    std::string username = body->string("username");
    std::string email = body->string("email");
    std::optional<bool> admin = body->optional_boolean("admin");
    benchmark::DoNotOptimize(username);
    benchmark::DoNotOptimize(email);
    benchmark::DoNotOptimize(admin);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * create_body.size()));
}
BENCHMARK(json_parse_body_decoder);

void render_problem(benchmark::State& state) {
  auto p = sc::problem::unauthorized("missing authorization token");
  for (auto _ : state) benchmark::DoNotOptimize(sc::render_problem_json(p));
}
BENCHMARK(render_problem);

}  // namespace
