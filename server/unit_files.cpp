#include "server/unit_files.hpp"

#include <sys/stat.h>

#include "adapters/file_io/small_files.hpp"
#include "adapters/pool/work_pool.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/journal_query.hpp"
#include "server/systemd_service.hpp"

namespace sc::server {

namespace asio = boost::asio;

bool unit_files_differ(const std::filesystem::path& unit_dir, const std::vector<unit_file>& units) {
  for (const auto& unit : units) {
    auto on_disk = file_io::read_small_file(unit_dir / unit.name);
    if (!on_disk || *on_disk != unit.text) return true;
    if (!unit.env_file.empty()) {
      auto env = file_io::read_small_file(unit.env_file);
      if (!env || *env != unit.env_file_content) return true;
    }
  }
  return false;
}

asio::awaitable<result<void>> install_unit_files(systemd_service& systemd, systemd::systemd_manager& manager,
                                                 pool::work_queue& files, unit_install request) {
  std::vector<std::string> names;
  for (const auto& unit : request.units) names.push_back(unit.name);
  // On the pool: each file is fsynced before its rename, which can take tens of milliseconds on a
  // busy disk, and the loop serves everyone else meanwhile.
  auto write_all = [units = std::move(request.units), unit_dir = request.unit_dir,
                    secrets_dir = request.secrets_dir]() -> result<void> {
    std::error_code ec;
    std::filesystem::create_directories(unit_dir, ec);
    for (const auto& unit : units) {
      if (!unit.env_file.empty()) {
        std::filesystem::create_directories(secrets_dir, ec);
        ::chmod(secrets_dir.c_str(), 0700);
        if (auto w = file_io::write_file_atomic(unit.env_file, unit.env_file_content, 0600); !w) return w;
      }
      if (auto w = file_io::write_file_atomic(unit_dir / unit.name, unit.text, 0644); !w) return w;
    }
    return {};
  };
  auto written = co_await files.run(std::move(write_all));
  if (!written) co_return written.error();
  if (!*written) co_return written->error();
  // Enabling works on the files on disk, so one reload after it covers both (a reload costs tens of
  // milliseconds: systemd re-reads every unit).
  if (request.start) {
    if (auto enabled = co_await manager.enable_unit_files(names, false, true); !enabled) co_return enabled.error();
  }
  if (auto reloaded = co_await manager.reload(); !reloaded) co_return reloaded;
  if (!request.start) co_return result<void>{};
  for (const auto& name : names) {
    // Two plain co_awaits: GCC 12 destroys a conditional operator's awaitable twice.
    result<std::string> job;
    if (request.restart) {
      job = co_await manager.restart_unit(name);
    } else {
      job = co_await manager.start_unit(name);
    }
    if (!job) co_return job.error();
    if (*job != "done") {
      problem failure(422, "unit " + name + " did not start (" + *job + ")");
      failure.journal = co_await unit_journal_tail(systemd, name);
      co_return failure;
    }
  }
  co_return result<void>{};
}

asio::awaitable<std::vector<std::string>> unit_journal_tail(systemd_service& systemd, std::string unit) {
  journal_query::tail_query query;
  query.unit = std::move(unit);
  query.lines = 20;
  auto entries = co_await systemd.tail(query);
  std::vector<std::string> lines;
  if (entries) {
    for (const auto& e : *entries) lines.push_back(e.message);
  }
  co_return lines;
}

}  // namespace sc::server
