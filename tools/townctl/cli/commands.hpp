#pragma once
// townctl's one command table: every endpoint of server/routes.cpp as a subcommand, grouped as the
// API is. `--help` on every command and group, the bash completion and the request each command
// sends are all derived from this table (tests/tools/townctl_commands_test.cpp checks that every
// route has a command). No I/O here.

#include <simdjson.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.hpp"

namespace sc::townctl {

enum class arg_kind {
  text,     // a string
  integer,  // a JSON number
  flag,     // a boolean option without a value (--purge-volumes)
  list,     // repeatable option or trailing positionals → an array of strings
  answers,  // repeatable KEY=VALUE → an object of strings (package answers)
  package,  // [REPO/]NAME[@VERSION] → repo, name, version
  secret,   // never on the command line: read from a terminal prompt (no echo) or a stdin line
};

struct argument {
  std::string_view name;  // the JSON member or query parameter; "fields.email" nests; the option
                          // is --name with '_' and '.' as '-' (or `option` when set)
  arg_kind kind = arg_kind::text;
  bool positional = false;
  bool required = false;
  std::string_view help;
  std::string_view option = {};  // the option's own name when it differs (e.g. "answer")
  bool local = false;            // used by townctl itself, never sent (--follow, --output)
  char short_name = 0;           // a one-letter alias (-f)
};

// How a command runs beyond "send, print the answer".
enum class action {
  request,     // one request, the answer printed (table, lines or --json)
  progress,    // an install-like operation: progress steps over SSE until done
  logs,        // journal tail, or -f: the SSE stream, resumed across reconnects
  upload,      // multipart upload of a file or a directory (tarred first)
  download,    // a streamed archive into a file
  login,       // authenticate and keep the token
  logout,      // forget the token (and revoke the session)
  raw_call,    // call METHOD PATH [JSON]
  completion,  // print the bash completion script
};

struct command {
  std::string_view group;  // "packages"
  std::string_view name;   // "install"; "" for a group that is itself the command (login, logs)
  std::string_view method;
  std::string_view path;
  std::string_view help;
  std::vector<argument> args = {};
  action kind = action::request;
  bool paged = false;               // takes --limit --offset --search --sort-by --sort-order
  std::string_view columns = {};    // table columns of a list answer ("" = the answer's own)
  std::string_view fixed = {};      // members always sent, as JSON ({"action":"start"})
  std::string_view also_path = {};  // a second route the command uses (logs -f: /systemd/logs)

  std::string display_name() const;  // "packages install", "login"
  // The option spelling of an argument: "--new-name".
  static std::string option_of(const argument& arg);
};

const std::vector<command>& command_table();
// The group's commands, in table order (empty when no such group).
std::vector<const command*> commands_of(std::string_view group);
std::vector<std::string_view> group_names();
std::string_view group_help(std::string_view group);

// Help texts: the overview, one group, one command.
std::string overview_help();
std::string group_usage(std::string_view group);
std::string command_usage(const command& c);

// The bash completion script (`complete -F _townctl townctl`), from the table.
std::string bash_completion();

// A request body built from a command line. A member keeps the place where it was first set and
// the value it was last set to (--set and --data may set one again); a dotted name nests.
class request_body {
 public:
  // `name` ("fields.password") set to the string `text`; a member in the way that is not an
  // object becomes an empty one.
  void set_string(std::string_view name, std::string_view text);
  // The same with a value already written as JSON (a number, true).
  void set_json(std::string_view name, std::string json);
  // `text` appended to the array member `key` (not nested), which becomes [] when it is not one.
  void append_string(std::string_view key, std::string_view text);
  // `entry` set to `text` in the object member `key` (neither nested), which becomes {} when it is
  // not one.
  void set_entry(std::string_view key, std::string_view entry, std::string_view text);
  // Each member of `object` set under its own key, dots and all, replacing what was there; an
  // object stays one that later settings can add to.
  void merge(simdjson::dom::object object);

  bool contains(std::string_view key) const;
  // The member `key` (not nested) when it is a string.
  std::optional<std::string> string_member(std::string_view key) const;
  // The members that are strings, in order (the form fields of an upload).
  std::vector<std::pair<std::string, std::string>> string_members() const;
  // Compact JSON, as sent: "{}" when empty.
  std::string json() const;
  void write(json_writer& writer) const;

 private:
  struct member;
  member& at(std::string_view key);          // found, or appended as null
  member& nested_at(std::string_view name);  // through a dotted name, making the objects on the way
  static void assign(member& target, simdjson::dom::element value);
  std::vector<member> members_;
};

struct request_body::member {
  enum class kind { json, string, object };
  std::string key;
  kind type = kind::json;
  std::string value = "null";  // the JSON text (json) or the string (string)
  request_body object;         // (object)
};

// A command line parsed against a command: JSON members (nested by dotted names) or query
// parameters, plus the options every command takes.
struct parsed_args {
  request_body body;                                       // POST commands
  std::vector<std::pair<std::string, std::string>> query;  // GET commands
  std::map<std::string, std::string> local;                // options the client itself uses (follow, output)
  std::vector<std::string> secrets;                        // names of secret arguments to prompt for
  bool help = false;
};

struct usage_error {
  std::string message;
};

// `args` are the words after the command's name. Secret arguments are not read here (their names
// are listed in `secrets` for the caller to prompt for). Errors are usage errors (exit 2).
std::optional<usage_error> parse_arguments(const command& c, const std::vector<std::string>& args, parsed_args& out);

// The request target: the command's path plus the query string of `query` (percent-encoded).
std::string target_of(std::string_view path, const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace sc::townctl
