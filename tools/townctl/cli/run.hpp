#pragma once
// townctl's behaviour: global options, the endpoint and its token, dispatching a command line
// through the command table (commands.hpp) to the client library, printing, and the exit code.
// Output goes to stdout (answers, progress) and stderr (errors, reconnect notices); escape codes
// only where that stream is a terminal.

namespace sc::townctl {

// The exit codes (README.md "townctl").
enum exit_code : int {
  exit_ok = 0,
  exit_failed = 1,  // refused (400, 413, 422, 429, …) or an operation that failed
  exit_usage = 2,
  exit_auth = 3,         // 401, 403
  exit_not_found = 4,    // 404
  exit_conflict = 5,     // 409
  exit_unavailable = 6,  // 5xx, no connection
};

int run(int argc, const char* const* argv);

}  // namespace sc::townctl
