#pragma once
// Contract tests (issue 17): every reply the test clients receive (tests/support/http_client) is
// checked against the published OpenAPI document, /openapi.json of the server under test, as a
// client generator reads it:
//   * the operation exists (method and path), and the status is one it declares;
//   * a JSON body (application/json, application/problem+json) matches the status's schema;
//   * a stream (text/event-stream) has only declared events, each `data:` matching its schema.
// A difference is a test failure naming the route, the member and the rule. So a field that
// changes without its declaration (core/schema.hpp, beside the handler) fails the build.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/http_client.hpp"

namespace sc::test {

// The differences between `reply` and the document for `method target` (empty: it conforms).
// `fetch_document` fetches /openapi.json the first time (the document is cached per process).
std::vector<std::string> contract_differences(std::string_view method, std::string_view target, const http_reply& reply,
                                              const std::function<http_reply()>& fetch_document);

// The same, as test failures (ADD_FAILURE), one per difference.
void check_contract(std::string_view method, std::string_view target, const http_reply& reply,
                    const std::function<http_reply()>& fetch_document);

// One event of a stream, for suites that read streams themselves (e.g. live logs).
std::vector<std::string> event_differences(std::string_view method, std::string_view path, std::string_view event,
                                           std::string_view data, const std::function<http_reply()>& fetch_document);

}  // namespace sc::test
