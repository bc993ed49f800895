#include "server/http.hpp"

namespace sc::http {

namespace fields = beast::http;

std::string format_head(const response& head) {
  // Concatenated by hand: Beast's serializer walks nested buffer views per byte range and was a
  // quarter of the server's instructions per request (callgrind, GET /status/ping).
  std::string out;
  out.reserve(160);
  out += head.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(head.result_int());
  out += ' ';
  out += head.reason();
  out += "\r\n";
  for (const auto& field : head) {
    out += field.name_string();
    out += ": ";
    out += field.value();
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

response json_response(std::string body, unsigned version) {
  response res{fields::status::ok, version};
  res.set(fields::field::content_type, "application/json");
  body.push_back('\n');
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response empty_response(unsigned version) {
  response res{fields::status::ok, version};
  res.prepare_payload();
  return res;
}

response text_response(std::string body, std::string_view content_type, unsigned version) {
  response res{fields::status::ok, version};
  res.set(fields::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response problem_response(const problem& p, unsigned version) {
  response res{static_cast<fields::status>(p.status), version};
  res.set(fields::field::content_type, "application/problem+json");
  if (p.retry_after) res.set(fields::field::retry_after, std::to_string(*p.retry_after));
  if (p.status >= 500) {
    std::string internal = p.internal.empty() ? p.detail : p.internal;
    for (char& c : internal) {
      if (c == '\r' || c == '\n' || c == '\0') c = ' ';
    }
    res.set(internal_detail_field, internal);
  }
  res.body() = render_problem_json(p);
  res.prepare_payload();
  return res;
}

}  // namespace sc::http
