#pragma once
// Writing and applying the unit files the controller owns, for packages (server/lifecycle.hpp) and
// system services (server/system_services.hpp) alike: files written atomically off the loop, one
// systemd reload, enable, start or restart, and on a failed start the unit's last journal lines.
// The reconcile at start uses `unit_files_differ` to restart only units whose file changed.
// Loop thread only (the file writes run on the given pool queue).

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace sc::pool {
class work_queue;
}
namespace sc::systemd {
class systemd_manager;
}

namespace sc::server {

class systemd_service;

struct unit_file {
  std::string name;              // "<unit>.service", written to <unit_dir>/<name>
  std::string text;              // the unit file (core/service_unit.hpp)
  std::string env_file;          // absolute path of a root-only env file; "" for none
  std::string env_file_content;  // KEY=VALUE lines
};

// Whether any unit or env file on disk is missing or differs from `units`.
bool unit_files_differ(const std::filesystem::path& unit_dir, const std::vector<unit_file>& units);

struct unit_install {
  std::filesystem::path unit_dir;
  std::filesystem::path secrets_dir;  // created 0700 when some unit has an env file
  std::vector<unit_file> units;
  bool start = false;    // enable and start every unit (in order)
  bool restart = false;  // with start: restart instead (a running unit keeps its old command line)
};

// Writes the files on `files`, reloads systemd, and with `start` enables and starts (or restarts)
// the units in order. A unit whose job does not end "done" is a 422 naming it, with its last
// journal lines.
boost::asio::awaitable<result<void>> install_unit_files(systemd_service& systemd, systemd::systemd_manager& manager,
                                                        pool::work_queue& files, unit_install request);

// The unit's last 20 journal lines (for the error of a unit that did not start).
boost::asio::awaitable<std::vector<std::string>> unit_journal_tail(systemd_service& systemd, std::string unit);

}  // namespace sc::server
