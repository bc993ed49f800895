#pragma once
// The blocking façade over the coroutine transport (transport.hpp): one private io_context, each
// call runs its coroutine to completion on the calling thread. For tools and tests that do one
// thing after another; code already on a loop uses transport.hpp directly.
//
//   sc::client::blocking_client controller(sc::client::endpoint::unix_socket(path));
//   auto page = controller.filesystems({});            // typed: result<list_page<filesystem>>
//   auto any = controller.call("POST", "/dns/records/add", record);  // every other endpoint
//
// Every typed call is a thin wrapper of `call` over the same route the table in server/routes.cpp
// has; each keeps the whole JSON entry in `raw` (as JSON text), so a field the struct lacks is not
// lost.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/townctl/client/json.hpp"
#include "tools/townctl/client/transport.hpp"

namespace sc::client {

// ---- typed answers (the main groups)

template <class T>
struct list_page {  // the list envelope (DESIGN.md "Compatibility contract")
  std::vector<T> entries;
  bool has_more = false;
  std::int64_t total_pages = 0;
  std::int64_t total_count = 0;
};

struct list_query {  // sort_by, sort_order, limit, offset, search
  std::optional<std::int64_t> limit;
  std::optional<std::int64_t> offset;
  std::string search;
  std::string sort_by;
  std::string sort_order;  // "asc" or "desc"
};

struct status_summary {  // GET /status/ping
  std::string status;
  bool needs_setup = false;
  std::string username;
  std::string raw;  // the whole entry as compact JSON
};

struct package_entry {  // GET /packages
  std::string repo;
  std::string name;
  std::string version;
  std::string description;
  bool installed = false;
  std::string installed_version;
  std::string raw;  // the whole entry as compact JSON
};

struct package_ref {  // "default/gitea@2.0"
  std::string repo;
  std::string name;
  std::string version;
  // "[repo/]name[@version]"; 422-style error on an empty part.
  static result<package_ref> parse(std::string_view text);
};

struct install_step {  // one frame of an install/uninstall/rollback progress stream
  std::string step;    // "provisioning_volumes", …, "rolled_back"; "" for the final frame
  bool done = false;   // {"done":true}
  std::string error;   // {"error":…}
  std::string reason;  // why a rollback happened
  std::vector<std::string> journal;
};

struct filesystem {  // POST /storage
  std::string name;
  std::string state;
  std::int64_t quota = 0;
  std::int64_t usage = 0;
  std::string raw;  // the whole entry as compact JSON
};

struct repository {  // GET /repository
  std::string name;
  std::string url;
  std::string error;
  std::string raw;  // the whole entry as compact JSON
};

struct unit {  // GET /systemd/units
  std::string name;
  std::string description;
  std::string load_state;
  std::string active_state;
  std::string sub_state;
  std::string package_identifier;
  std::string raw;  // the whole entry as compact JSON
};

struct account {  // GET /account
  std::string username;
  std::string email;
  std::string real_name;
  bool admin = false;
  bool disabled = false;
  std::string raw;  // the whole entry as compact JSON
};

struct session_token {  // POST /account/authenticate
  std::string token;
  account who;
};

struct journal_entry {    // GET /systemd/logs/tail and the /systemd/logs stream
  std::string cursor;     // the entry's position; a stream resumes after it (Last-Event-ID)
  std::string timestamp;  // RFC 3339
  std::string unit;
  std::string message;
  std::string priority;
  std::string raw;  // the whole entry as compact JSON
};

package_entry to_package_entry(simdjson::dom::object object);
filesystem to_filesystem(simdjson::dom::object object);
repository to_repository(simdjson::dom::object object);
unit to_unit(simdjson::dom::object object);
account to_account(simdjson::dom::object object);
journal_entry to_journal_entry(simdjson::dom::object object);
install_step to_install_step(std::string_view frame);

class blocking_client {
 public:
  explicit blocking_client(endpoint where, limits bounds = {});
  ~blocking_client();
  blocking_client(const blocking_client&) = delete;
  blocking_client& operator=(const blocking_client&) = delete;

  const endpoint& where() const noexcept { return where_; }

  // ---- generic: every endpoint
  // The answer whatever its status (transport failures are errors).
  result<reply> send(request what);
  // `method` `path` with `body`, JSON text ("": no body for GET, "{}" for POST); a 2xx answer's
  // JSON (null when empty, a string when it is not JSON, with U+FFFD for bytes that are not
  // UTF-8), otherwise its problem. The document is the caller's: later calls leave it as it is.
  result<json_document> call(std::string_view method, std::string_view path, std::string body = {});
  result<void> receive(request what, head_callback on_head, bytes_callback on_bytes);
  result<void> events(request what, sse_parser& parser, event_callback on_event);
  result<reply> upload(request what, body_source source);

  // ---- typed
  result<status_summary> status();
  result<list_page<package_entry>> packages(const list_query& query);
  result<std::vector<std::string>> installed_packages(const list_query& query);
  // Install (or upgrade to `ref.version`) with `answers`, each step to `on_step` as it happens.
  result<void> install(const package_ref& ref, const std::map<std::string, std::string>& answers,
                       const std::function<void(const install_step&)>& on_step);
  result<void> uninstall(const package_ref& ref, bool purge_volumes,
                         const std::function<void(const install_step&)>& on_step);
  result<list_page<filesystem>> filesystems(const list_query& query);
  result<void> create_filesystem(const std::string& name, std::int64_t quota);
  result<void> remove_filesystem(const std::string& name);
  result<std::vector<repository>> repositories();
  result<void> add_repository(const std::string& name, const std::string& url);
  result<list_page<unit>> units(const list_query& query);
  result<void> unit_action(const std::string& name, const std::string& action);
  // The last `lines` entries of `unit` ("" = the whole system).
  result<std::vector<journal_entry>> logs_tail(const std::string& unit, int lines);
  // The live journal of `unit` from after `last_cursor` ("" = the last `lines` first), each entry
  // to `on_entry` (false stops); ends when the server ends the stream or the connection breaks.
  // `last_cursor` is updated to the last entry handled, to resume with on the next call.
  result<void> follow_logs(const std::string& unit, int lines, std::string& last_cursor,
                           const std::function<bool(const journal_entry&)>& on_entry);
  result<std::map<std::string, std::string>> settings();
  result<void> set_setting(const std::string& key, const std::string& value);
  result<list_page<account>> accounts(const list_query& query);
  // The password goes into the body only (never argv, never an error text).
  result<session_token> authenticate(const std::string& username, const std::string& password);

 private:
  result<void> progress(const std::string& path, std::string body,
                        const std::function<void(const install_step&)>& on_step);
  struct loop;
  std::unique_ptr<loop> loop_;
  endpoint where_;
  limits bounds_;
};

// A query parameter's value percent-encoded (RFC 3986 unreserved characters and '@' kept).
std::string percent_encode(std::string_view text);
// "?limit=…&offset=…" for a GET list (percent-encoded), "" when nothing is set.
std::string query_string(const list_query& query);

}  // namespace sc::client
