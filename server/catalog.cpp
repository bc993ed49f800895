#include "server/catalog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>
#include <utility>

#include "adapters/asio/completion.hpp"
#include "adapters/store/repository_store.hpp"
#include "core/json_reader.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "core/packages/version.hpp"

namespace sc::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_definition_bytes = 1 << 20;

// Reads a regular file that is not a symlink (O_NOFOLLOW): a repository must not be able to make
// the catalog read /etc/shadow through a link.
std::optional<std::string> read_plain_file(const fs::path& path, std::size_t limit, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    error = "cannot open";
    return std::nullopt;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    error = "not a regular file";
    return std::nullopt;
  }
  if (static_cast<std::size_t>(info.st_size) > limit) {
    ::close(fd);
    error = "larger than " + std::to_string(limit) + " bytes";
    return std::nullopt;
  }
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

void append_error(std::string& errors, const std::string& text) {
  if (errors.size() > 4096) return;
  if (!errors.empty()) errors += "; ";
  errors += text;
}

}  // namespace

catalog_repository load_checkout(const std::string& name, const fs::path& checkout) {
  catalog_repository repo;
  repo.name = name;
  std::error_code ec;
  fs::path packages_dir = checkout / "packages";
  auto status = fs::symlink_status(packages_dir, ec);
  if (ec || !fs::is_directory(status)) {
    if (fs::exists(checkout, ec)) repo.load_error = "no packages directory";
    return repo;
  }
  std::vector<fs::path> package_dirs;
  for (const auto& entry : fs::directory_iterator(packages_dir, ec)) {
    if (entry.is_symlink(ec) || !entry.is_directory(ec)) continue;
    std::string package = entry.path().filename().string();
    if (!packages::valid_package_name(package)) {
      log::warning("repository " + name + ": skipping package directory " + package.substr(0, 64));
      continue;
    }
    package_dirs.push_back(entry.path());
  }
  std::sort(package_dirs.begin(), package_dirs.end());
  for (const auto& dir : package_dirs) {
    std::string package = dir.filename().string();
    std::vector<catalog_package> versions;
    for (const auto& file : fs::directory_iterator(dir, ec)) {
      if (file.path().extension() != ".yaml" || file.is_symlink(ec) || !file.is_regular_file(ec)) continue;
      std::string version = file.path().stem().string();
      if (!packages::valid_version(version)) continue;
      std::string error;
      auto text = read_plain_file(file.path(), max_definition_bytes, error);
      if (!text) {
        append_error(repo.load_error, "decoding " + package + "/" + version + ".yaml: " + error);
        continue;
      }
      catalog_package p{name, package, version, std::move(*text), nullptr};
      auto parsed = packages::parse_definition(p.yaml);
      if (parsed) {
        p.definition = std::make_shared<const packages::package_definition>(std::move(*parsed));
      } else {
        append_error(repo.load_error, "decoding " + package + "/" + version + ".yaml: " + parsed.error().detail);
      }
      versions.push_back(std::move(p));
    }
    std::sort(versions.begin(), versions.end(),
              [](const auto& a, const auto& b) { return packages::compare_versions(a.version, b.version) > 0; });
    for (auto& v : versions) repo.packages.push_back(std::move(v));
  }
  std::string error;
  if (auto featured = read_plain_file(checkout / "featured.json", std::size_t{64} * 1024, error)) {
    if (auto names = json::string_array(*featured)) {
      repo.featured = std::move(*names);
    } else {
      append_error(repo.load_error, "featured.json is not a JSON array of names");
    }
  }
  return repo;
}

std::shared_ptr<const catalog_snapshot> build_snapshot(
    const std::vector<std::shared_ptr<const catalog_repository>>& ordered) {
  auto snapshot = std::make_shared<catalog_snapshot>();
  snapshot->repositories = ordered;
  // name → (winning package, its repository); a later repository overwrites an earlier one.
  std::map<std::string_view, std::pair<const catalog_package*, const catalog_repository*>> winners;
  for (const auto& repo : ordered) {
    std::set<std::string_view> seen_here;
    for (const auto& p : repo->packages) {
      // Sorted highest version first: the first valid definition of a name is this repository's.
      if (!p.definition || !seen_here.insert(p.name).second) continue;
      winners[p.name] = {&p, repo.get()};
    }
  }
  snapshot->latest.reserve(winners.size());
  for (const auto& [name, winner] : winners) {
    const auto& [p, repo] = winner;
    package_list_entry entry{p->repo, p->name, p->version, p->definition->description, p->definition->supplies, false};
    entry.featured = std::find(repo->featured.begin(), repo->featured.end(), p->name) != repo->featured.end();
    snapshot->latest.push_back(std::move(entry));
  }
  return snapshot;
}

const catalog_package* catalog_snapshot::find(std::string_view repo, std::string_view name,
                                              std::string_view version) const {
  for (const auto& r : repositories) {
    if (r->name != repo) continue;
    for (const auto& p : r->packages) {
      if (p.name == name && p.version == version) return &p;
    }
  }
  return nullptr;
}

const catalog_package* catalog_snapshot::latest_in(std::string_view repo, std::string_view name) const {
  for (const auto& r : repositories) {
    if (r->name != repo) continue;
    // A repository's packages are by name, then highest version first.
    for (const auto& p : r->packages) {
      if (p.name == name && p.definition) return &p;
    }
  }
  return nullptr;
}

const catalog_package* catalog_snapshot::latest_of(std::string_view name) const {
  auto it = std::lower_bound(latest.begin(), latest.end(), name,
                             [](const auto& e, std::string_view n) { return e.name < n; });
  if (it == latest.end() || it->name != name) return nullptr;
  return find(it->repo, it->name, it->version);
}

const catalog_package* catalog_snapshot::find_any_repo(std::string_view name, std::string_view version) const {
  for (auto r = repositories.rbegin(); r != repositories.rend(); ++r) {
    for (const auto& p : (*r)->packages) {
      if (p.name == name && p.version == version && p.definition) return &p;
    }
  }
  return nullptr;
}

std::vector<std::string> catalog_snapshot::versions(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& r : repositories) {
    for (const auto& p : r->packages) {
      if (p.name == name && p.definition && std::find(out.begin(), out.end(), p.version) == out.end())
        out.push_back(p.version);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return packages::compare_versions(a, b) > 0; });
  return out;
}

// ---------------------------------------------------------------------------------------------

catalog::catalog(asio::io_context& io, store::repository_store& store, pool::work_queue& loading, options opts)
    : io_(io),
      store_(store),
      options_(std::move(opts)),
      loader_(loading),
      snapshot_(std::make_shared<catalog_snapshot>()),
      wake_(io) {}

catalog::~catalog() = default;

// Names were validated when they entered the store; checked again here because this is where a
// name becomes a path (and a stored row could predate a stricter rule).
result<fs::path> catalog::checkout_of(std::string_view name) const {
  if (!packages::valid_repository_name(name)) return problem::unprocessable("name", "invalid repository name");
  return join_under(options_.directory, name);
}

git::options catalog::git_options() const {
  return {options_.directory / ".git-home", options_.git_timeout};
}

std::string catalog::error_of(std::string_view repo) const {
  auto it = errors_.find(repo);
  return it == errors_.end() ? std::string() : it->second;
}

void catalog::rebuild() {
  std::vector<std::shared_ptr<const catalog_repository>> ordered;
  for (const auto& r : store_.list()) {
    auto it = loaded_.find(r.name);
    if (it != loaded_.end()) ordered.push_back(it->second);
  }
  snapshot_ = build_snapshot(ordered);
}

asio::awaitable<result<void>> catalog::load(std::string name) {
  auto path = checkout_of(name);
  if (!path) co_return path.error();
  fs::path checkout = *path;
  // A named job, moved in: GCC 12 miscompiles a lambda temporary inside the co_await expression.
  auto job = [name, checkout] { return load_checkout(name, checkout); };
  auto loaded = co_await loader_.run(std::move(job));
  if (!loaded) co_return loaded.error();
  loaded_[name] = std::make_shared<const catalog_repository>(std::move(*loaded));
  co_return result<void>{};
}

// The server killed (kill -9, power loss) in the middle of an add, a refresh or a remove leaves
// traces no later operation cleans: a clone's `.partial` directory, the checkout of a repository
// whose record was never stored (or already removed), and git's lock files, which would fail every
// later fetch of that checkout ("Another git process seems to be running"). At start no git of
// ours runs, so all of them are removed; the records are the truth, and a recorded repository
// without a checkout is cloned by the first refresh.
void catalog::reconcile_checkouts() {
  std::set<std::string, std::less<>> recorded;
  for (const auto& r : store_.list()) recorded.insert(r.name);
  std::error_code ec;
  std::vector<fs::path> stray;
  for (const auto& entry : fs::directory_iterator(options_.directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == ".git-home") continue;
    std::error_code kind_ec;
    if (entry.is_symlink(kind_ec) || !entry.is_directory(kind_ec) || !recorded.contains(name)) {
      stray.push_back(entry.path());
      continue;
    }
    std::vector<fs::path> locks;
    const fs::path git_dir = entry.path() / ".git";
    std::error_code walk_ec;
    for (fs::recursive_directory_iterator it(git_dir, walk_ec), end; !walk_ec && it != end; it.increment(walk_ec)) {
      if (it->is_regular_file(kind_ec) && it->path().extension() == ".lock") locks.push_back(it->path());
    }
    for (const auto& lock : locks) {
      fs::remove(lock, kind_ec);
      log::warning("repositories: removed a stale git lock " + lock.string());
    }
  }
  for (const auto& path : stray) {
    std::error_code removed_ec;
    fs::remove_all(path, removed_ec);
    log::warning("repositories: removed " + path.string() + ", left by an interrupted clone or removal" +
                 (removed_ec ? ": " + removed_ec.message() : ""));
  }
}

void catalog::start() {
  std::error_code ec;
  fs::create_directories(options_.directory, ec);
  fs::permissions(options_.directory, fs::perms::owner_all, ec);
  reconcile_checkouts();
  // Checkouts already on disk are read synchronously before the loop serves: a few hundred small
  // files, so packages are listed from the first request instead of after the first fetch.
  for (const auto& r : store_.list()) {
    auto checkout = checkout_of(r.name);
    if (!checkout) continue;
    loaded_[r.name] = std::make_shared<const catalog_repository>(load_checkout(r.name, *checkout));
  }
  rebuild();
  asio::co_spawn(io_, background_loop(),
                 asio::bind_cancellation_slot(stop_signal_.slot(), log_escaped{"repository refresh loop"}));
}

void catalog::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_signal_.emit(asio::cancellation_type::terminal);
  wake_.cancel();
  if (refreshed_) refreshed_->set();
}

asio::awaitable<void> catalog::background_loop() {
  // Forced at boot (behavior-ops.md §5.3), then whenever the interval has passed since the
  // persisted last refresh.
  bool force = true;
  while (!stopped_) {
    auto interval = options_.interval ? options_.interval() : std::chrono::seconds(300);
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto due = store_.last_refreshed() + interval.count();
    if (force || now >= due) {
      force = false;
      co_await refresh();
      continue;
    }
    wake_.expires_after(std::chrono::seconds(std::min<std::int64_t>(due - now, 60)));
    auto [ec] = co_await wake_.async_wait(io_result);
    if (ec == asio::error::operation_aborted && stopped_) co_return;
  }
}

asio::awaitable<std::map<std::string, std::string, std::less<>>> catalog::refresh() {
  if (refreshed_) {
    // Join the refresh in progress.
    auto refreshed = refreshed_;
    co_await refreshed->wait();
    co_return errors_;
  }
  refreshed_ = std::make_shared<one_shot_event>(io_.get_executor());
  struct finish {
    catalog& self;
    ~finish() { std::exchange(self.refreshed_, nullptr)->set(); }
  } finisher{*this};

  std::map<std::string, std::string, std::less<>> errors;
  auto list = store_.list();
  for (const auto& repo : list) {
    if (stopped_) break;
    auto checkout = checkout_of(repo.name);
    if (!checkout) {
      errors[repo.name] = checkout.error().detail;
      continue;
    }
    git::credentials auth{repo.username, repo.password};
    auto synced = co_await git::sync(repo.url, *checkout, std::move(auth), git_options());
    if (!synced) {
      errors[repo.name] = synced.error().detail;
      log::warning("repository " + repo.name + ": " + synced.error().detail);
    }
    // Even after a failed fetch, what is on disk is (re)read: a restart keeps serving the last good
    // checkout.
    if (store_.find(repo.name) == nullptr) continue;  // removed while we were fetching
    auto loaded = co_await load(repo.name);
    if (!loaded) {
      errors[repo.name] = loaded.error().detail;
    } else if (!synced) {
      // keep the git error
    } else if (const auto& error = loaded_[repo.name]->load_error; !error.empty()) {
      errors[repo.name] = error;
    }
  }
  rebuild();
  errors_ = errors;
  auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (auto saved = store_.set_last_refreshed(now); !saved) log::warning(saved.error().internal);
  co_return errors;
}

asio::awaitable<result<void>> catalog::add(packages::repository repo) {
  if (store_.find(repo.name) != nullptr) co_return problem::conflict("repository " + repo.name + " already exists");
  auto checkout = checkout_of(repo.name);
  if (!checkout) co_return checkout.error();
  // A directory left by an earlier repository of this name (removed while a refresh was cloning
  // it) is not ours any more: an add always starts from a fresh clone of the new URL.
  if (auto cleared = co_await remove_checkout(*checkout); !cleared) co_return cleared.error();
  git::credentials auth{repo.username, repo.password};
  auto synced = co_await git::sync(repo.url, *checkout, std::move(auth), git_options());
  if (!synced) {
    // git ran and refused (no such repository, authentication failed, …): the URL or credentials
    // the client gave are at fault, so it is a 422 on "url", not a server error. Timeouts (504)
    // and failures to run git at all keep their status.
    if (synced.error().status == 502) co_return problem::unprocessable("url", "cannot clone: " + synced.error().detail);
    co_return synced.error();
  }
  // The clone took a while: another add of the same name may have won meanwhile.
  if (store_.find(repo.name) != nullptr) co_return problem::conflict("repository " + repo.name + " already exists");
  std::string name = repo.name;
  if (auto added = store_.add(std::move(repo)); !added) co_return added.error();
  auto loaded = co_await load(name);
  if (!loaded) {
    errors_[name] = loaded.error().detail;
  } else if (!loaded_[name]->load_error.empty()) {
    errors_[name] = loaded_[name]->load_error;
  } else {
    errors_.erase(name);
  }
  rebuild();
  co_return result<void>{};
}

asio::awaitable<result<void>> catalog::remove(std::string name) {
  if (auto removed = store_.remove(name); !removed) co_return removed.error();
  loaded_.erase(name);
  errors_.erase(name);
  rebuild();
  // The checkout goes too, so a later repository of the same name starts from a fresh clone. A
  // refresh running right now may still be reading it; the next one will not see it.
  if (auto checkout = checkout_of(name)) {
    if (auto cleared = co_await remove_checkout(*checkout); !cleared) {
      log::warning("removing checkout of " + name + ": " + cleared.error().internal);
    }
  }
  co_return result<void>{};
}

// A checkout can hold thousands of files: removing it is disk work for the pool, not the loop.
asio::awaitable<result<void>> catalog::remove_checkout(fs::path checkout) {
  auto job = [checkout] {
    std::error_code ec;
    fs::remove_all(checkout, ec);
    return ec;
  };
  auto removed = co_await loader_.run(std::move(job));
  if (!removed) co_return removed.error();
  if (*removed) co_return problem::internal_error("remove " + checkout.string() + ": " + removed->message());
  co_return result<void>{};
}

result<void> catalog::move(std::string_view name, std::int64_t position) {
  if (auto moved = store_.move(name, position); !moved) return moved.error();
  rebuild();
  return {};
}

std::vector<std::string> read_timezones(const fs::path& zoneinfo) {
  std::vector<std::string> zones;
  std::string error;
  // tzdata.zi lists every zone ("Z <name> …") and link ("L <target> <name>") in one file.
  if (auto text = read_plain_file(zoneinfo / "tzdata.zi", 4 << 20, error)) {
    std::string_view rest = *text;
    while (!rest.empty()) {
      auto end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
      std::string_view name;
      if (line.starts_with("Z ")) {
        name = line.substr(2, line.find(' ', 2) - 2);
      } else if (line.starts_with("L ")) {
        auto second = line.find(' ', 2);
        if (second != std::string_view::npos) name = line.substr(second + 1, line.find(' ', second + 1) - second - 1);
      }
      if (!name.empty()) zones.emplace_back(name);
    }
  }
  std::sort(zones.begin(), zones.end());
  zones.erase(std::unique(zones.begin(), zones.end()), zones.end());
  return zones;
}

asio::awaitable<std::shared_ptr<const std::vector<std::string>>> catalog::timezones() {
  if (!timezones_) {
    auto job = [] { return read_timezones("/usr/share/zoneinfo"); };
    auto zones = co_await loader_.run(std::move(job));
    if (!zones) co_return std::make_shared<const std::vector<std::string>>();
    timezones_ = std::make_shared<const std::vector<std::string>>(std::move(*zones));
  }
  co_return timezones_;
}

}  // namespace sc::server
