#pragma once
// The package catalog: the repository list (adapters/store/repository_store), their git checkouts
// and every package definition in them, held in memory as one immutable snapshot. Requests read the
// snapshot (a shared_ptr copy) and never touch git or the disk; refreshes build a new snapshot off
// the request path — git as awaited subprocesses, file reading and YAML parsing on a work pool —
// and swap it in on the loop thread.
//
// Precedence (the API reference, confirmed by the issue): later repositories override earlier ones
// when package names collide — a package name is served from the last repository in list order
// that has it, at that repository's highest version. `by-repo` lists the last repository first.
//
// Loop thread only, except where a function says otherwise.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/asio/one_shot_event.hpp"
#include "adapters/git/git.hpp"
#include "adapters/pool/work_pool.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/repository.hpp"

namespace sc::store {
class repository_store;
}

namespace sc::server {

// One <checkout>/packages/<name>/<version>.yaml.
struct catalog_package {
  std::string repo;
  std::string name;
  std::string version;
  std::string yaml;                                                // the manifest, as stored
  std::shared_ptr<const packages::package_definition> definition;  // null when it does not parse
};

struct catalog_repository {
  std::string name;
  std::vector<catalog_package> packages;  // by name, then highest version first
  std::vector<std::string> featured;      // featured.json
  std::string load_error;                 // definitions that did not parse, a missing packages/ …
};

// One line of GET /packages: the winning version of a package name.
struct package_list_entry {
  std::string repo;
  std::string name;
  std::string version;
  std::string description;
  std::vector<std::string> supplies;
  bool featured = false;
};

struct catalog_snapshot {
  std::vector<std::shared_ptr<const catalog_repository>> repositories;  // list order
  std::vector<package_list_entry> latest;                               // by name

  const catalog_package* find(std::string_view repo, std::string_view name, std::string_view version) const;
  // The highest version of `name` in `repo` whose definition parses; null when it has none.
  const catalog_package* latest_in(std::string_view repo, std::string_view name) const;
  // The winning version of `name` (see precedence above); null when no repository has it.
  const catalog_package* latest_of(std::string_view name) const;
  // The last repository in list order holding exactly name@version.
  const catalog_package* find_any_repo(std::string_view name, std::string_view version) const;
  // Every version of `name` across repositories, highest first, without duplicates.
  std::vector<std::string> versions(std::string_view name) const;
  std::size_t package_count() const noexcept { return latest.size(); }
};

// Reads a checkout (on a pool thread): symlinks are never followed, files over 1 MiB are refused,
// names that cannot be package names or versions are skipped.
catalog_repository load_checkout(const std::string& name, const std::filesystem::path& checkout);
std::shared_ptr<const catalog_snapshot> build_snapshot(
    const std::vector<std::shared_ptr<const catalog_repository>>& ordered);

class catalog {
 public:
  struct options {
    std::filesystem::path directory;  // checkouts at <directory>/<repo>, git's HOME at <directory>/.git-home
    std::chrono::milliseconds git_timeout{std::chrono::minutes(5)};
    // Read before every background wait (the repository_refresh_interval setting).
    std::function<std::chrono::seconds()> interval;
  };

  // `loading` (the work queue checkouts are parsed on) must outlive the catalog.
  catalog(boost::asio::io_context& io, store::repository_store& store, pool::work_queue& loading, options opts);
  ~catalog();
  catalog(const catalog&) = delete;
  catalog& operator=(const catalog&) = delete;

  // Removes what an interrupted add, refresh or remove left behind (see reconcile_checkouts), loads
  // the checkouts already on disk (so packages are served at once), then starts the background
  // loop: a forced refresh now, then one whenever the interval has passed.
  void start();
  // Cancels the background loop and any git it runs (children are killed with their group).
  void stop();

  std::shared_ptr<const catalog_snapshot> snapshot() const noexcept { return snapshot_; }
  const store::repository_store& repositories() const noexcept { return store_; }
  // The last refresh's error for `repo` ("" when none).
  std::string error_of(std::string_view repo) const;
  std::map<std::string, std::string, std::less<>> errors() const { return errors_; }

  // Fetches every repository (clone when missing), reloads, swaps the snapshot. A caller arriving
  // while a refresh runs waits for that one instead of starting another. Returns name → error.
  boost::asio::awaitable<std::map<std::string, std::string, std::less<>>> refresh();

  // Clones first (a failing clone fails the add: 422 on "url" with git's reason, 504 on timeout), then
  // stores the repository at the end of the list and serves its packages. 409 on a duplicate.
  boost::asio::awaitable<result<void>> add(packages::repository repo);
  // IANA time zone names (zones and links of the system's tzdata), read once on the pool, sorted.
  boost::asio::awaitable<std::shared_ptr<const std::vector<std::string>>> timezones();
  // Forgets the repository and removes its checkout (on the pool).
  boost::asio::awaitable<result<void>> remove(std::string name);
  result<void> move(std::string_view name, std::int64_t position);

 private:
  boost::asio::awaitable<void> background_loop();
  boost::asio::awaitable<result<void>> load(std::string name);
  boost::asio::awaitable<result<void>> remove_checkout(std::filesystem::path checkout);
  void rebuild();
  void reconcile_checkouts();
  result<std::filesystem::path> checkout_of(std::string_view name) const;
  git::options git_options() const;

  boost::asio::io_context& io_;
  store::repository_store& store_;
  options options_;
  pool::work_queue& loader_;
  std::map<std::string, std::shared_ptr<const catalog_repository>, std::less<>> loaded_;
  std::shared_ptr<const catalog_snapshot> snapshot_;
  std::map<std::string, std::string, std::less<>> errors_;
  std::shared_ptr<one_shot_event> refreshed_;  // set when the refresh in progress ends; null when none
  boost::asio::steady_timer wake_;
  boost::asio::cancellation_signal stop_signal_;
  bool stopped_ = false;
  std::shared_ptr<const std::vector<std::string>> timezones_;
};

}  // namespace sc::server
