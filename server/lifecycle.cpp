#include "server/lifecycle.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "adapters/asio/completion.hpp"
#include "adapters/btrfs/btrfs.hpp"
#include "adapters/crypto/password.hpp"
#include "adapters/file_io/beneath.hpp"
#include "adapters/git/git.hpp"
#include "adapters/podman/podman.hpp"
#include "adapters/pool/work_pool.hpp"
#include "adapters/process/spawn.hpp"
#include "adapters/store/package_store.hpp"
#include "adapters/store/settings_store.hpp"
#include "adapters/systemd/systemd_manager.hpp"
#include "core/ingress.hpp"
#include "core/journal_query.hpp"
#include "core/json_reader.hpp"
#include "core/json_writer.hpp"
#include "core/log.hpp"
#include "core/packages/definition.hpp"
#include "core/packages/preflight.hpp"
#include "core/packages/preview.hpp"
#include "server/catalog.hpp"
#include "server/sse.hpp"
#include "server/storage_service.hpp"
#include "server/systemd_service.hpp"
#include "server/unit_files.hpp"

namespace sc::server {

namespace asio = boost::asio;
using packages::install_plan;

namespace {

std::string key_of(std::string_view repo, std::string_view effective_name) {
  return std::string(repo) + "/" + std::string(effective_name);
}

std::string parent_of(std::string_view relative) {
  auto slash = relative.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(relative.substr(0, slash));
}

bool cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

// One TCP connect to 127.0.0.1:port, bounded by `timeout`.
// The names in the directory open at `fd` (not . and ..), at most `at_most` of them; read on a
// duplicate, so the caller's fd keeps its position.
result<std::vector<std::string>> directory_entries(int fd, std::size_t at_most = static_cast<std::size_t>(-1)) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR* dir = copy >= 0 ? ::fdopendir(copy) : nullptr;
  if (dir == nullptr) {
    int error = errno;
    if (copy >= 0) ::close(copy);
    return problem::internal_error("reading a directory: " + std::generic_category().message(error));
  }
  std::vector<std::string> names;
  while (names.size() < at_most) {
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

asio::awaitable<bool> accepts_connections(int port, std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  asio::steady_timer timer(executor);
  timer.expires_after(timeout);
  bool connected = false;
  bool done = false;
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec && !done) {
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  auto [ec] = co_await socket.async_connect(
      asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)), io_result);
  done = true;
  connected = !ec;
  timer.cancel();
  boost::system::error_code ignored;
  socket.close(ignored);
  // Let the timer's handler run before its captures go.
  timer.expires_after(std::chrono::milliseconds(0));
  co_await timer.async_wait(io_result);
  co_return connected;
}

// Releases a package's claim when phase A fails (kept when phase B takes it over).
// A package as an install names it (behavior-ops.md §6.3, §6.6): repo "" means the repository the
// catalog serves the name from, version "" the highest version (in that repository, when named).
const catalog_package* find_package(const catalog_snapshot& snapshot, std::string_view repo, std::string_view name,
                                    std::string_view version) {
  if (repo.empty()) return version.empty() ? snapshot.latest_of(name) : snapshot.find_any_repo(name, version);
  if (!version.empty()) return snapshot.find(repo, name, version);
  for (const auto& r : snapshot.repositories) {
    if (r->name != repo) continue;
    for (const auto& p : r->packages) {
      if (p.name == name) return &p;  // highest version first
    }
  }
  return nullptr;
}

template <class Shared>
struct busy_claim {
  std::shared_ptr<Shared> shared;
  std::string key;
  ~busy_claim() {
    if (shared) shared->busy.erase(key);
  }
  void keep() { shared.reset(); }
};

// An install's plan in shared_state::planned until phase A returns (by then it is journaled).
template <class Shared>
struct planned_claim {
  std::shared_ptr<Shared> shared;
  std::string key;
  ~planned_claim() {
    if (shared) shared->planned.erase(key);
  }
};

}  // namespace

// ---- operation_progress

void operation_progress::publish(std::string frame) {
  auto shared = std::make_shared<const std::string>(format_sse_event(frame));
  frames_.push_back(std::move(frame));
  for (const auto& watcher : watchers_) watcher->push(shared);
}

void operation_progress::step(std::string_view key) {
  if (finished_) return;
  publish(json_string([&](json_writer& w) { w.begin_object().key("step").value(key).end_object(); }));
}

void operation_progress::step(std::string_view key, std::uint64_t done, std::optional<std::uint64_t> total) {
  if (finished_) return;
  publish(json_string([&](json_writer& w) {
    w.begin_object().key("step").value(key).key("bytes").value(done);
    if (total) w.key("total").value(*total);
    w.end_object();
  }));
}

void operation_progress::succeed() {
  if (finished_) return;
  publish(R"({"done":true})");
  finished_ = true;
  for (const auto& watcher : watchers_) watcher->close();
  watchers_.clear();
  done_.cancel();
}

void operation_progress::fail(const problem& failure) {
  if (finished_) return;
  publish(json_string([&](json_writer& w) {
    w.begin_object().key("error").value(redact_secrets(failure.detail));
    if (!failure.journal.empty()) {
      w.key("journal").begin_array();
      for (const auto& line : failure.journal) w.value(redact_secrets(line));
      w.end_array();
    }
    w.end_object();
  }));
  failure_ = failure;
  finished_ = true;
  for (const auto& watcher : watchers_) watcher->close();
  watchers_.clear();
  done_.cancel();
}

void operation_progress::rolled_back(const problem& reason) {
  if (finished_) return;
  publish(json_string([&](json_writer& w) {
    w.begin_object().key("step").value("rolled_back").key("reason").value(redact_secrets(reason.detail));
    w.key("journal").begin_array();
    for (const auto& line : reason.journal) w.value(redact_secrets(line));
    w.end_array().end_object();
  }));
}

void operation_progress::watch(const std::shared_ptr<sse_subscriber>& subscriber) {
  for (const auto& frame : frames_) subscriber->push(std::make_shared<const std::string>(format_sse_event(frame)));
  if (finished_) {
    subscriber->close();
  } else {
    watchers_.push_back(subscriber);
  }
}

asio::awaitable<result<void>> operation_progress::finished() {
  auto state = co_await asio::this_coro::cancellation_state;
  while (!finished_) {
    if (cancelled(state)) co_return problem::unavailable("stopped waiting for the operation");
    done_.expires_at(asio::steady_timer::time_point::max());
    auto [ec] = co_await done_.async_wait(io_result);
    (void)ec;
  }
  if (failure_) co_return *failure_;
  co_return result<void>{};
}

// ---- lifecycle

lifecycle::lifecycle(asio::io_context& io, store::database& db, catalog& packages, storage_service& storage,
                     systemd_service& systemd, store::settings_store& settings, pool::work_queue& files, options opts)
    : io_(io),
      db_(db),
      catalog_(packages),
      storage_(storage),
      systemd_(systemd),
      settings_(settings),
      files_(files),
      options_(std::move(opts)) {}

lifecycle::~lifecycle() {
  shared_->on_idle = nullptr;
}

result<void> lifecycle::open() {
  auto opened = store::package_store::open(db_);
  if (!opened) return opened.error();
  store_ = std::move(*opened);
  std::error_code ec;
  std::filesystem::create_directories(options_.secrets_dir, ec);
  ::chmod(options_.secrets_dir.c_str(), 0700);
  return {};
}

std::optional<std::string> lifecycle::installed_version(std::string_view repo, std::string_view effective_name) const {
  const auto* record = store_->find(repo, effective_name);
  if (record == nullptr) return std::nullopt;
  return record->plan.package.version;
}

std::vector<packages::package_upgrade> lifecycle::upgrades() const {
  auto snapshot = catalog_.snapshot();
  std::vector<packages::installed_package> installed;
  installed.reserve(store_->installed().size());
  for (const auto& record : store_->installed()) {
    const auto& ref = record.plan.package;
    packages::installed_package entry;
    entry.package = ref;
    entry.installed_manifest = record.manifest;
    if (const auto* same = snapshot->find(ref.repo, ref.name, ref.version)) entry.repository_manifest = same->yaml;
    if (const auto* latest = snapshot->latest_in(ref.repo, ref.name)) entry.latest_version = latest->version;
    installed.push_back(std::move(entry));
  }
  return packages::find_upgrades(installed);
}

namespace {

constexpr std::string_view dismissed_upgrades_key = "dismissed_upgrades_hash";

std::string upgrades_hash(std::span<const packages::package_upgrade> upgrades) {
  return crypto::sha256_hex(packages::upgrades_hash_text(upgrades));
}

}  // namespace

result<void> lifecycle::dismiss_upgrades() {
  return settings_.set(dismissed_upgrades_key, upgrades_hash(upgrades()));
}

bool lifecycle::upgrades_dismissed(std::span<const packages::package_upgrade> upgrades) const {
  auto dismissed = settings_.get(dismissed_upgrades_key);
  return dismissed && *dismissed == upgrades_hash(upgrades);
}

void lifecycle::spawn_operation(std::string key, asio::awaitable<void> body) {
  server::spawn_operation(io_, shared_, std::move(key), std::move(body), "package operation");
}

void lifecycle::start(std::function<systemd::bus_connection*()> bus) {
  bus_ = std::move(bus);
  spawn_operation("", recover_and_reconcile());
}

void lifecycle::stop(std::function<void()> on_idle) {
  if (stopped_) return;
  stopped_ = true;
  cancel_operations(*shared_, std::move(on_idle));
}

asio::awaitable<result<systemd::systemd_manager*>> lifecycle::manager() {
  auto* bus = bus_ ? bus_() : nullptr;
  if (bus == nullptr) co_return problem::unavailable("systemd is not reachable: no D-Bus connection");
  co_return co_await systemd_.manager(bus);
}

result<void> lifecycle::journal_step(std::int64_t id, std::string_view kind, std::string_view step) {
  if (auto stepped = store_->step(id, step); !stepped) return stepped;
  if (!options_.die_at_step.empty() && options_.die_at_step == std::string(kind) + ":" + std::string(step)) {
    log::warning("SC_TEST_DIE_AT_STEP: dying at " + options_.die_at_step);
    ::kill(::getpid(), SIGKILL);
  }
  return {};
}

std::vector<const packages::install_plan*> lifecycle::other_plans(std::string_view key) const {
  std::vector<const packages::install_plan*> out;
  for (const auto& record : store_->installed()) {
    if (key_of(record.plan.package.repo, record.plan.package.effective_name) != key) out.push_back(&record.plan);
  }
  for (const auto& operation : store_->operations()) {
    if (key_of(operation.plan.package.repo, operation.plan.package.effective_name) != key) {
      out.push_back(&operation.plan);
    }
  }
  for (const auto& [other, plan] : shared_->planned) {
    if (other != key) out.push_back(&plan);
  }
  return out;
}

result<install_plan> lifecycle::plan_for(const std::shared_ptr<const catalog_snapshot>& snapshot,
                                         const catalog_package& package, const install_request& request) const {
  const catalog_package* found = &package;
  const std::string repo = found->repo;
  const std::string effective = packages::instance_effective_name(found->name, request.instance);
  // Answers: the request's, then (reinstalling over kept volumes) the last answers for questions
  // the request left out, so generated secrets stay what the kept data expects. An upgrade keeps
  // the installed version's answers to the questions the new one still asks, and its
  // dependencies' answers.
  packages::marker_values answers = request.responses;
  std::map<std::string, packages::marker_values, std::less<>> dependency_answers;
  if (const auto* record = store_->find(repo, effective); record != nullptr) {
    const auto& installed_main = record->plan.main();
    for (const auto* source : {&installed_main.answers, &installed_main.secret_answers}) {
      for (const auto& [k, v] : *source) {
        bool asked = std::any_of(found->definition->questions.begin(), found->definition->questions.end(),
                                 [&answer_key = k](const auto& q) { return q.key == answer_key; });
        if (asked && !answers.contains(k)) answers[k] = v;
      }
    }
    for (const auto& c : record->plan.containers) {
      if (&c == &installed_main) continue;
      auto& kept = dependency_answers[c.ref.effective_name];
      kept.insert(c.answers.begin(), c.answers.end());
      kept.insert(c.secret_answers.begin(), c.secret_answers.end());
    }
  } else if (request.reuse_volumes && !request.skip_response_reuse) {
    if (auto last = store_->last_answers(repo, effective); last) {
      for (const auto* source : {&last->answers, &last->secret_answers}) {
        for (const auto& [k, v] : *source) {
          bool asked = std::any_of(found->definition->questions.begin(), found->definition->questions.end(),
                                   [&answer_key = k](const auto& q) { return q.key == answer_key; });
          if (asked && !answers.contains(k)) answers[k] = v;
        }
      }
    }
  }

  const std::string key = key_of(repo, effective);
  packages::auto_answer_context generate;
  generate.effective_name = effective;
  for (const packages::install_plan* other : other_plans(key)) {
    for (int port : other->host_ports()) generate.used_ports.insert(port);
  }
  generate.port_free = [](int port) { return podman::tcp_ports_in_use({port}).empty(); };

  packages::plan_request plan_request;
  plan_request.package = {repo, found->name, found->version, effective};
  plan_request.definition = found->definition.get();
  plan_request.answers = std::move(answers);
  plan_request.dependency_answers = std::move(dependency_answers);
  plan_request.generate = &generate;
  plan_request.default_quota = static_cast<std::uint64_t>(settings_.integer("default_quota", 0));
  if (auto tld = settings_.get("dns_tld"); tld && !tld->empty()) plan_request.dns_tld = std::string(*tld);
  char host_name[256] = {};
  if (::gethostname(host_name, sizeof host_name - 1) == 0) plan_request.host_name = host_name;
  plan_request.resolve = [snapshot](std::string_view repo_name, std::string_view name,
                                    std::string_view version) -> std::optional<packages::resolved_definition> {
    const catalog_package* p = find_package(*snapshot, repo_name, name, version);
    if (p == nullptr || !p->definition) return std::nullopt;
    return packages::resolved_definition{p->repo, p->name, p->version, p->definition};
  };
  auto plan = packages::make_plan(plan_request);
  if (!plan) return plan;
  if (auto assigned = assign_ingress_addresses(*plan, key); !assigned) return assigned.error();
  return plan;
}

result<void> lifecycle::assign_ingress_addresses(install_plan& plan, std::string_view key) const {
  std::set<std::string, std::less<>> used;
  for (const packages::install_plan* other : other_plans(key)) {
    for (const auto& c : other->containers) {
      if (!c.ingress_address.empty()) used.insert(c.ingress_address);
    }
  }
  const auto* installed = store_->find(plan.package.repo, plan.package.effective_name);
  for (auto& c : plan.containers) {
    if (c.ingress_port() == 0) continue;
    auto subnet = ingress::parse_subnet(options_.render.ingress_subnet);
    if (!subnet) return problem::internal_error("the ingress subnet is not usable: " + subnet.error().detail);
    // An upgrade or a reinstall over the record keeps the address the proxy already dials.
    std::string keep;
    if (installed != nullptr) {
      for (const auto& old : installed->plan.containers) {
        if (old.dependency_key == c.dependency_key) keep = old.ingress_address;
      }
    }
    auto address = ingress::allocate_address(*subnet, used, keep);
    if (!address) return address.error();
    used.insert(*address);
    c.ingress_address = std::move(*address);
  }
  return {};
}

result<std::string> lifecycle::upgrade_preview(const catalog_package& package, std::string_view instance,
                                               const packages::package_definition* installed) const {
  const std::string effective = packages::instance_effective_name(package.name, instance);
  const auto* record = store_->find(package.repo, effective);
  if (record == nullptr || !package.definition) return std::string();
  install_request request;
  request.repo = package.repo;
  request.name = package.name;
  request.version = package.version;
  request.instance = std::string(instance);
  auto plan = plan_for(catalog_.snapshot(), package, request);
  if (!plan) return plan.error();
  packages::upgrade_diff_input input;
  input.from = &record->plan;
  input.to = &*plan;
  input.from_definition = installed;
  input.to_definition = package.definition.get();
  for (const install_plan* side : {&record->plan, static_cast<const install_plan*>(&*plan)}) {
    auto rendered = packages::render_podman_units(*side, options_.render);
    if (!rendered) return rendered.error();
    auto& units = side == &record->plan ? input.from_units : input.to_units;
    for (auto& unit : *rendered) units.emplace_back(std::move(unit.unit_name), std::move(unit.unit));
  }
  return packages::upgrade_diff(input);
}

namespace {

// Of `plan`'s host ports, those something on the host listens on now, leaving out the ones the
// installed version `own` publishes (it stops before the new one starts).
std::set<int> ports_bound_for(const install_plan& plan, const install_plan* own) {
  std::vector<int> ports = plan.host_ports();
  if (own != nullptr) {
    auto theirs = own->host_ports();
    std::erase_if(ports, [&theirs](int port) { return std::binary_search(theirs.begin(), theirs.end(), port); });
  }
  return podman::tcp_ports_in_use(ports);
}

}  // namespace

asio::awaitable<bool> lifecycle::running_now(const install_plan& plan) {
  auto mgr = co_await manager();
  if (!mgr) co_return false;
  auto active = co_await (*mgr)->get_unit_property(packages::service_unit_name(plan.main().ref), "ActiveState");
  co_return active && (*active == "active" || *active == "activating" || *active == "reloading");
}

// ---- install, phase A

asio::awaitable<result<std::shared_ptr<operation_progress>>> lifecycle::install(install_request request) {
  if (stopped_) co_return problem::unavailable("the controller is shutting down");
  auto snapshot = catalog_.snapshot();
  const catalog_package* found = find_package(*snapshot, request.repo, request.name, request.version);
  if (found == nullptr) {
    co_return problem::not_found("package " + (request.repo.empty() ? "" : request.repo + "/") + request.name +
                                 (request.version.empty() ? "" : "@" + request.version) + " not found");
  }
  if (!found->definition) co_return problem::unprocessable("name", "the package definition does not parse");
  if (found->definition->runtime == packages::runtime_kind::vm) {
    // VM packages are out of scope (issue 16), but the answer says what this host lacks for one.
    std::string missing;
    for (const auto& m : podman::vm_host_missing()) missing += (missing.empty() ? "" : "; ") + m;
    co_return problem::unprocessable("name", missing.empty() ? "VM packages cannot be installed by this controller yet"
                                                             : "this host cannot run VM packages: " + missing);
  }
  const std::string repo = found->repo;
  const std::string effective = packages::instance_effective_name(found->name, request.instance);
  const std::string key = key_of(repo, effective);
  if (busy_.contains(key)) co_return problem::conflict("another operation on " + key + " is in progress");
  busy_.insert(key);
  busy_claim<shared_state> claim{shared_, key};

  // Another version over an installed one is an upgrade; the same version again is refused.
  const bool upgrade = store_->find(repo, effective) != nullptr;
  if (const auto* record = store_->find(repo, effective);
      record != nullptr && record->plan.package.version == found->version) {
    co_return problem::conflict(key + " is already installed (version " + record->plan.package.version +
                                "); uninstall it first");
  }
  if (!request.import_from_version.empty()) {
    if (request.import_from_version == found->version) {
      co_return problem::unprocessable("import_from_version", "the version being installed cannot be imported from");
    }
    if (const auto* record = store_->find(repo, effective);
        record != nullptr && record->plan.package.version != request.import_from_version) {
      co_return problem::unprocessable(
          "import_from_version",
          "an upgrade takes its volumes from the installed version (" + record->plan.package.version + ")");
    }
  }

  auto plan = plan_for(snapshot, *found, request);
  if (!plan) co_return plan.error();
  shared_->planned.insert_or_assign(key, *plan);
  planned_claim<shared_state> planned{shared_, key};
  for (const auto& c : plan->containers) {
    if (!c.archives.empty()) {
      co_return problem::unprocessable("name", "seeding volumes from archive images is not supported yet");
    }
  }

  // Preflight: the facts from outside, then the one decision.
  packages::preflight_facts facts;
  podman::options podman_options{options_.podman, options_.podman_timeout};
  auto missing = co_await podman::missing_images(podman_options, packages::images_of(*plan));
  if (!missing) co_return missing.error();
  for (const auto& image : *missing) {
    // Not in the local store: pull it now, before the stream opens (a failure is the client's 422).
    process::spawn_request pull;
    pull.argv = {options_.podman, "pull", "--quiet", image};
    pull.timeout = options_.pull_timeout;
    auto pulled = co_await process::run_process(std::move(pull));
    if (pulled && pulled->ok()) continue;
    facts.images_missing.insert(image);
  }
  // Whether the installed version runs now: a rollback of the upgrade starts it again only then.
  bool was_running = false;
  if (upgrade) {
    const auto* record = store_->find(repo, effective);
    if (record == nullptr) co_return problem::conflict(key + " was uninstalled meanwhile");
    const install_plan installed_plan = record->plan;
    was_running = co_await running_now(installed_plan);
  }
  struct statvfs fs {};
  if (::statvfs(storage_.volumes().base().c_str(), &fs) == 0) {
    facts.available_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    facts.reserved_bytes = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize / 20;
  }
  // Taken after the awaits above, and used before the next one: the records are pointed at, and a
  // concurrent install that finishes meanwhile reallocates them. Installs still in flight count as
  // installed: two at once must not both take one host port.
  facts.installed = other_plans(key);
  const auto* installed_record = store_->find(repo, effective);
  facts.host_ports_bound = ports_bound_for(*plan, installed_record != nullptr ? &installed_record->plan : nullptr);
  if (auto checked = packages::preflight(*plan, facts); !checked) co_return checked.error();
  if (auto roots = co_await storage_.ready(); !roots) co_return roots.error();

  // Kept data comes back before anything is provisioned (§6.3 step 2).
  const std::string installed_tree = packages::installed_root(repo, effective);
  const std::string uninstalled_tree = packages::uninstalled_root(repo, effective);
  auto exists = [this](const std::string& relative) {
    auto root = storage_.volumes().root();
    return root && file_io::open_beneath(*root, relative, O_PATH | O_DIRECTORY).has_value();
  };
  if (upgrade) {
    const auto* record = store_->find(repo, effective);
    if (record == nullptr) co_return problem::conflict(key + " was uninstalled meanwhile");
    // The new version's volume paths must be free: its tree is made by this upgrade alone, so its
    // rollback can remove it whole.
    for (const auto& c : plan->containers) {
      for (const auto& v : c.volumes) {
        bool shared_path = false;
        for (const auto& oc : record->plan.containers) {
          for (const auto& ov : oc.volumes) shared_path = shared_path || ov.subvolume == v.subvolume;
        }
        if (!shared_path && exists(v.subvolume)) {
          co_return problem::conflict("volume " + v.subvolume +
                                      " exists from an earlier install of this version; purge it first");
        }
      }
    }
    std::string options_json = json_string([&](json_writer& w) {
      w.begin_object()
          .key("from")
          .value(record->plan.package.version)
          .key("was_running")
          .value(was_running)
          .end_object();
    });
    auto id = store_->begin(store::operation_kind::upgrade, *plan, "preflight", options_json);
    if (!id) co_return id.error();
    auto progress = std::make_shared<operation_progress>(io_.get_executor());
    claim.keep();
    spawn_operation(key, run_upgrade(*id, std::move(*plan), found->yaml, 0, progress));
    co_return progress;
  }
  const bool restore = request.reuse_volumes && exists(uninstalled_tree) && !exists(installed_tree);
  if (!request.import_from_version.empty() && !exists(installed_tree + "/" + request.import_from_version) &&
      !(restore && exists(uninstalled_tree + "/" + request.import_from_version))) {
    co_return problem::unprocessable("import_from_version",
                                     "no volumes of version " + request.import_from_version + " are kept for " + key +
                                         (request.reuse_volumes ? "" : " (reuse_volumes brings back kept ones)"));
  }

  std::string options_json = json_string([&](json_writer& w) {
    w.begin_object().key("restore").value(restore).key("import_from").value(request.import_from_version).end_object();
  });
  auto id = store_->begin(store::operation_kind::install, *plan, "preflight", options_json);
  if (!id) co_return id.error();
  auto progress = std::make_shared<operation_progress>(io_.get_executor());
  claim.keep();
  spawn_operation(key, run_install(*id, std::move(*plan), found->yaml, restore, request.import_from_version, progress));
  co_return progress;
}

void lifecycle::on_installed_changed(std::function<asio::awaitable<void>()> hook) {
  installed_changed_.push_back(std::move(hook));
}

asio::awaitable<void> lifecycle::notify_installed_changed() {
  // The hooks' failures are their own (they log them): the package is installed or gone either way.
  for (const auto& hook : installed_changed_) {
    try {
      co_await hook();
    } catch (const std::exception& e) {
      log::error(std::string("after a change of the installed packages: ") + e.what());
    }
  }
}

// ---- install, phase B

asio::awaitable<void> lifecycle::run_install(std::int64_t id, install_plan plan, std::string manifest, bool restore,
                                             std::string import_from, std::shared_ptr<operation_progress> progress) {
  auto state = co_await asio::this_coro::cancellation_state;
  auto act = [&]() -> asio::awaitable<result<void>> {
    const auto& ref = plan.package;
    if (restore) {
      if (auto s = journal_step(id, "install", "restoring_volumes"); !s) co_return s;
      progress->step("restoring_volumes");
      auto moved = co_await move_tree(packages::uninstalled_root(ref.repo, ref.effective_name),
                                      packages::installed_root(ref.repo, ref.effective_name));
      if (!moved) log::warning("restoring kept volumes of " + ref.effective_name + ": " + moved.error().internal);
    }
    if (auto up = co_await bring_up(id, "install", plan, *progress, true, import_from); !up) co_return up;
    if (auto s = journal_step(id, "install", "saving_install"); !s) co_return s;
    progress->step("saving_install");
    store::install_record record;
    record.plan = plan;
    record.manifest = manifest;
    co_return store_->complete_install(id, std::move(record));
  };
  auto outcome = co_await act();
  if (outcome) {
    log::info("installed " + key_of(plan.package.repo, plan.package.effective_name) + "@" + plan.package.version);
    // Before "done": a client that sees the install finish can already resolve the package's name.
    co_await notify_installed_changed();
    progress->succeed();
    co_return;
  }
  if (cancelled(state) || stopped_) {
    // Shutdown: the journal keeps the install; the next start rolls it back.
    progress->fail(problem::unavailable("the controller is shutting down; the install is undone at its next start"));
    co_return;
  }
  log::warning("install of " + key_of(plan.package.repo, plan.package.effective_name) +
               " failed: " + (outcome.error().internal.empty() ? outcome.error().detail : outcome.error().internal));
  progress->step("rolling_back");
  co_await rollback_install(id);
  progress->fail(outcome.error());
}

asio::awaitable<result<void>> lifecycle::bring_up(std::int64_t id, std::string kind, const install_plan& plan,
                                                  operation_progress& progress, bool start, std::string import_from) {
  if (auto s = journal_step(id, kind, "provisioning_volumes"); !s) co_return s;
  progress.step("provisioning_volumes");
  if (auto provisioned = co_await provision(id, plan, std::move(import_from)); !provisioned) co_return provisioned;
  if (!git_volumes(plan).empty()) {
    if (auto s = journal_step(id, kind, "seeding_data"); !s) co_return s;
    progress.step("seeding_data");
    if (auto seeded = co_await seed_volumes(plan); !seeded) co_return seeded;
  }
  if (plan.containers.size() > 1) progress.step("installing_dependencies");
  bool has_templates = std::any_of(plan.containers.begin(), plan.containers.end(),
                                   [](const auto& c) { return !c.templates.empty() || !c.secret_templates.empty(); });
  if (has_templates) {
    if (auto s = journal_step(id, kind, "applying_templates"); !s) co_return s;
    progress.step("applying_templates");
    if (auto applied = co_await apply_templates(plan); !applied) co_return applied;
  }
  if (auto s = journal_step(id, kind, "installing_services"); !s) co_return s;
  progress.step("installing_services");
  if (auto installed = co_await install_units(plan, start); !installed) co_return installed;
  if (!start) co_return result<void>{};
  if (auto s = journal_step(id, kind, "starting"); !s) co_return s;
  progress.step("starting");
  co_return co_await verify_running(plan);
}

asio::awaitable<result<void>> lifecycle::provision(std::optional<std::int64_t> id, const install_plan& plan,
                                                   std::string import_from) {
  auto& volumes = storage_.volumes();
  const std::string import_root =
      import_from.empty()
          ? std::string()
          : packages::installed_root(plan.package.repo, plan.package.effective_name) + "/" + import_from + "/";
  for (const auto& container : plan.containers) {
    for (const auto& v : container.volumes) {
      if (volumes.is_subvolume(v.subvolume)) {
        // Kept data: reused as it is; only the quota follows the definition.
        if (v.quota_bytes > 0) {
          if (auto q = co_await volumes.set_quota(v.subvolume, v.quota_bytes); !q) co_return q;
        }
        continue;
      }
      // Journaled before it exists (within an operation): a crash in between leaves a name
      // rollback checks, never an unknown volume.
      if (id) {
        if (auto noted = store_->add_fresh_volume(*id, v.subvolume); !noted) co_return noted;
      }
      if (!import_root.empty() && &container == &plan.main() && volumes.is_subvolume(import_root + v.name)) {
        // Another version's data, as it is (its ownership included).
        if (auto copied = co_await volumes.snapshot(import_root + v.name, v.subvolume, false); !copied)
          co_return copied;
        if (v.quota_bytes > 0) {
          if (auto q = co_await volumes.set_quota(v.subvolume, v.quota_bytes); !q) co_return q;
        }
        continue;
      }
      if (auto created = co_await volumes.create(v.subvolume, v.quota_bytes); !created) co_return created;
      if (v.uid || v.gid) {
        auto fd = volumes.open_subvolume(v.subvolume);
        if (!fd) co_return fd.error();
        uid_t uid = v.uid ? static_cast<uid_t>(*v.uid) : static_cast<uid_t>(-1);
        gid_t gid = v.gid ? static_cast<gid_t>(*v.gid) : static_cast<gid_t>(-1);
        if (::fchown(fd->get(), uid, gid) != 0) {
          co_return problem::internal_error("chown " + v.subvolume + ": " + std::generic_category().message(errno));
        }
      }
    }
  }
  co_return result<void>{};
}

std::vector<lifecycle::git_volume> lifecycle::git_volumes(const install_plan& plan) {
  std::vector<git_volume> out;
  for (const auto& c : plan.containers) {
    for (const auto& v : c.volumes) {
      if (!v.git.empty()) {
        out.push_back({&c, &v, v.git, {}});
        continue;
      }
      // git_sources name their volume; the first one for a volume is its source.
      for (const auto& g : c.git_sources) {
        if (g.volume == v.name) {
          out.push_back({&c, &v, g.url, g.branch});
          break;
        }
      }
    }
  }
  return out;
}

std::filesystem::path lifecycle::seed_dir(const packages::package_ref& ref, const std::string& volume) const {
  // Keyed without the version: a volume an upgrade migrates keeps its repository.
  return options_.git_seeds_dir / packages::installed_root(ref.repo, ref.effective_name) / (volume + ".git");
}

void lifecycle::purge_seeds(const std::string& repo, const std::string& effective_name) {
  std::error_code ec;
  std::filesystem::remove_all(options_.git_seeds_dir / packages::installed_root(repo, effective_name), ec);
  if (ec) log::warning("removing the git seeds of " + key_of(repo, effective_name) + ": " + ec.message());
}

asio::awaitable<result<void>> lifecycle::seed_volumes(const install_plan& plan) {
  auto& volumes = storage_.volumes();
  const git::options git_options{options_.git_seeds_dir / ".home", options_.git_timeout};
  for (const auto& source : git_volumes(plan)) {
    const packages::planned_volume* volume = source.volume;
    // Only an empty volume is cloned into (kept or migrated data is never replaced).
    auto fd = volumes.open_subvolume(volume->subvolume);
    if (!fd) co_return fd.error();
    auto first = directory_entries(fd->get(), 1);
    if (!first) co_return first.error();
    if (!first->empty()) continue;
    log::info("seeding " + volume->subvolume + " from " + source.url);
    auto seeded = co_await git::seed(source.url, source.branch, seed_dir(source.container->ref, volume->name),
                                     volumes.base() / volume->subvolume, git_options);
    if (!seeded) co_return seeded;
    if (!volume->uid && !volume->gid) continue;
    // The clone is root's; the volume's owner gets it, as the root directory. Nothing runs in the
    // volume yet, so nothing can swap a path under this walk.
    uid_t uid = volume->uid ? static_cast<uid_t>(*volume->uid) : static_cast<uid_t>(-1);
    gid_t gid = volume->gid ? static_cast<gid_t>(*volume->gid) : static_cast<gid_t>(-1);
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(volumes.base() / volume->subvolume, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (::lchown(it->path().c_str(), uid, gid) != 0) {
        co_return problem::internal_error("chown " + it->path().string() + ": " +
                                          std::generic_category().message(errno));
      }
    }
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> lifecycle::apply_templates(const install_plan& plan) {
  auto& volumes = storage_.volumes();
  for (const auto& container : plan.containers) {
    for (const auto* list : {&container.templates, &container.secret_templates}) {
      for (const auto& t : *list) {
        const auto* volume = container.find_volume(t.volume);
        if (volume == nullptr) co_return problem::internal_error("template " + t.name + ": no volume " + t.volume);
        auto root = volumes.open_subvolume(volume->subvolume);
        if (!root) co_return root.error();
        // Parent directories, one component at a time beneath the volume (no link is followed).
        file_io::unique_fd dir = std::move(*root);
        std::string_view path = t.path;
        while (true) {
          auto slash = path.find('/');
          if (slash == std::string_view::npos) break;
          std::string component(path.substr(0, slash));
          path.remove_prefix(slash + 1);
          if (component.empty()) continue;
          if (::mkdirat(dir.get(), component.c_str(), 0755) != 0 && errno != EEXIST) {
            co_return problem::internal_error("template " + t.name +
                                              ": mkdir: " + std::generic_category().message(errno));
          }
          auto next = file_io::open_beneath(dir.get(), component, O_RDONLY | O_DIRECTORY);
          if (!next) co_return next.error();
          dir = std::move(*next);
        }
        auto file = file_io::open_beneath(dir.get(), path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (!file) {
          // Never over an existing file: the app or the person may have changed it.
          if (file_io::open_beneath(dir.get(), path, O_PATH).has_value()) continue;
          co_return file.error();
        }
        std::string_view content = t.content;
        while (!content.empty()) {
          ssize_t n = ::write(file->get(), content.data(), content.size());
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0)
            co_return problem::internal_error("template " + t.name +
                                              ": write: " + std::generic_category().message(errno));
          content.remove_prefix(static_cast<std::size_t>(n));
        }
        if (volume->uid || volume->gid) {
          uid_t uid = volume->uid ? static_cast<uid_t>(*volume->uid) : static_cast<uid_t>(-1);
          gid_t gid = volume->gid ? static_cast<gid_t>(*volume->gid) : static_cast<gid_t>(-1);
          (void)::fchown(file->get(), uid, gid);
        }
      }
    }
  }
  co_return result<void>{};
}

namespace {

std::vector<unit_file> unit_files_of(std::vector<packages::rendered_container> rendered) {
  std::vector<unit_file> out;
  out.reserve(rendered.size());
  for (auto& unit : rendered) {
    out.push_back(
        {std::move(unit.unit_name), std::move(unit.unit), std::move(unit.env_file), std::move(unit.env_file_content)});
  }
  return out;
}

}  // namespace

asio::awaitable<result<void>> lifecycle::install_units(const install_plan& plan, bool start, bool restart) {
  auto rendered = packages::render_podman_units(plan, options_.render);
  if (!rendered) co_return rendered.error();
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  unit_install request{options_.unit_dir, options_.secrets_dir, unit_files_of(std::move(*rendered)), start, restart};
  co_return co_await install_unit_files(systemd_, **mgr, files_, std::move(request));
}

// The unit's last 20 journal lines, for the error of a package that did not start.
asio::awaitable<std::vector<std::string>> lifecycle::journal_tail(std::string unit) {
  co_return co_await unit_journal_tail(systemd_, std::move(unit));
}

asio::awaitable<result<void>> lifecycle::verify_running(const install_plan& plan) {
  auto state = co_await asio::this_coro::cancellation_state;
  const auto timeout = std::chrono::seconds(settings_.integer("package_start_timeout", 120));
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  // A published port that accepts a connection proves its container runs and serves (the host
  // forwards it into the container; nothing else answers). Containers without one are asked of
  // podman, in one call per look.
  std::vector<int> ports;
  for (const auto& port : plan.main().ports) {
    if (port.exposure == packages::port_exposure::host) ports.push_back(port.host);
  }
  std::vector<std::string> ask_podman;
  for (const auto& c : plan.containers) {
    if (&c != &plan.main() || ports.empty()) ask_podman.push_back(c.name);
  }
  // Without a port, "running" is podman's word alone, so it must hold on two looks half a second
  // apart: an app that exits right after its start is still "running" for a moment.
  const int looks_needed = ports.empty() ? 2 : 1;
  podman::options podman_options{options_.podman, options_.podman_timeout};
  asio::steady_timer pause(io_);
  std::string waiting_for;
  int consecutive_ready = 0;
  while (true) {
    if (cancelled(state)) co_return problem::unavailable("cancelled");
    bool ready = true;
    for (const auto& c : plan.containers) {
      const std::string unit = packages::service_unit_name(c.ref);
      auto active = co_await (*mgr)->get_unit_property(unit, "ActiveState");
      auto sub = co_await (*mgr)->get_unit_property(unit, "SubState");
      if (!active || !sub) co_return !active ? active.error() : sub.error();
      if (*active == "failed" || *active == "inactive" || *sub == "auto-restart") {
        problem failure(422, "package " + plan.package.effective_name + " did not start: unit " + unit + " is " +
                                 *active + " (" + *sub + ")");
        failure.journal = co_await journal_tail(unit);
        co_return failure;
      }
      if (*active != "active") {
        ready = false;
        waiting_for = "unit " + unit + " to become active (" + *active + ")";
        break;
      }
    }
    if (ready && !ask_podman.empty()) {
      auto running = co_await podman::running_containers(podman_options, ask_podman);
      for (const auto& name : ask_podman) {
        if (!running || !running->contains(name)) {
          ready = false;
          waiting_for = "container " + name + " to run";
          break;
        }
      }
    }
    for (std::size_t i = 0; ready && i < ports.size(); ++i) {
      const auto connecting = std::chrono::steady_clock::now();
      const bool accepted = co_await accepts_connections(ports[i], std::chrono::milliseconds(1000));
      start_wait_ += std::chrono::steady_clock::now() - connecting;
      if (!accepted) {
        ready = false;
        waiting_for = "port " + std::to_string(ports[i]) + " to accept connections";
      }
    }
    if (ready && ++consecutive_ready >= looks_needed) co_return result<void>{};
    if (!ready) consecutive_ready = 0;
    if (std::chrono::steady_clock::now() >= give_up) {
      problem failure(422, "package " + plan.package.effective_name + " did not start within " +
                               std::to_string(timeout.count()) + " s: still waiting for " + waiting_for);
      failure.journal = co_await journal_tail(packages::service_unit_name(plan.main().ref));
      co_return failure;
    }
    // Looks are cheap (two D-Bus properties per unit and a connect; a podman call only for
    // containers without a port), so a port is looked at often: install time is mostly this wait.
    const auto paused = std::chrono::steady_clock::now();
    pause.expires_after(std::chrono::milliseconds(ready ? 500 : ask_podman.empty() ? 25 : 100));
    co_await pause.async_wait(io_result);
    start_wait_ += std::chrono::steady_clock::now() - paused;
  }
}

asio::awaitable<void> lifecycle::remove_units(const install_plan& plan) {
  auto mgr = co_await manager();
  std::vector<std::string> names;
  for (auto it = plan.containers.rbegin(); it != plan.containers.rend(); ++it) {
    names.push_back(packages::service_unit_name(it->ref));
  }
  if (mgr) {
    for (const auto& name : names) {
      auto stopped = co_await (*mgr)->stop_unit(name);
      if (!stopped && stopped.error().status != 404) {
        log::warning("stopping " + name + ": " + stopped.error().detail + " " + stopped.error().internal);
      }
    }
    auto disabled = co_await (*mgr)->disable_unit_files(names);
    (void)disabled;  // a unit that was never enabled or whose file is gone is fine
  }
  for (const auto& c : plan.containers) {
    std::error_code ec;
    std::filesystem::remove(options_.unit_dir / packages::service_unit_name(c.ref), ec);
    std::filesystem::remove(options_.secrets_dir / (c.name + ".env"), ec);
  }
  if (mgr) {
    (void)co_await (*mgr)->reload();
    for (const auto& name : names) (void)co_await (*mgr)->reset_failed_unit(name);
  }
  // A container the unit did not take down (a unit that would not stop, a half-done start).
  std::set<std::string> networks;
  for (auto it = plan.containers.rbegin(); it != plan.containers.rend(); ++it) {
    process::spawn_request rm;
    rm.argv = {options_.podman, "rm", "--force", "--ignore", "--time", "5", it->name};
    rm.timeout = options_.podman_timeout;
    auto removed = co_await process::run_process(std::move(rm));
    if (removed && !removed->ok()) log::warning("podman rm " + it->name + ": " + removed->err);
    networks.insert(it->network);
  }
  for (const auto& network : networks) {
    process::spawn_request rm;
    rm.argv = {options_.podman, "network", "rm", "--force", network};
    rm.timeout = options_.podman_timeout;
    (void)co_await process::run_process(std::move(rm));
  }
}

asio::awaitable<void> lifecycle::rollback_install(std::int64_t id) {
  const auto* op = store_->operation(id);
  if (op == nullptr) co_return;
  install_plan plan = op->plan;
  std::vector<std::string> fresh = op->fresh_volumes;
  const bool restore = json::bool_member(op->options, "restore").value_or(false);
  co_await remove_units(plan);
  for (auto it = fresh.rbegin(); it != fresh.rend(); ++it) {
    if (auto removed = co_await delete_tree(*it); !removed) {
      log::warning("rollback: deleting " + *it + ": " + removed.error().detail + " " + removed.error().internal);
    }
    co_await prune_empty_parents(*it);
  }
  const auto& ref = plan.package;
  if (restore) {
    auto moved = co_await move_tree(packages::installed_root(ref.repo, ref.effective_name),
                                    packages::uninstalled_root(ref.repo, ref.effective_name));
    if (!moved) log::warning("rollback: returning kept volumes: " + moved.error().internal);
    co_await prune_empty_parents(packages::installed_root(ref.repo, ref.effective_name));
  }
  if (auto dropped = store_->abandon(id); !dropped) log::warning("rollback: " + dropped.error().internal);
  log::info("rolled back the install of " + key_of(ref.repo, ref.effective_name));
}

// ---- upgrade and rollback (issue 14)

std::string lifecycle::snapshots_tree(std::string_view repo, std::string_view effective_name) {
  // snapshots/<repo>/<name as stored>: the installed tree's layout under another root.
  const std::string installed = packages::installed_root(repo, effective_name);
  return "snapshots" + installed.substr(installed.find('/'));
}

std::string lifecycle::snapshot_root(const packages::package_ref& ref, std::int64_t id) {
  return snapshots_tree(ref.repo, ref.effective_name) + "/" + std::to_string(id);
}

asio::awaitable<void> lifecycle::purge_snapshots(std::string repo, std::string effective_name) {
  auto kept = store_->snapshots(repo, effective_name);
  const std::string tree = snapshots_tree(repo, effective_name);
  if (auto removed = co_await delete_tree(tree); !removed) {
    log::warning("purging the snapshots of " + key_of(repo, effective_name) + ": " + removed.error().internal);
    co_return;
  }
  co_await prune_empty_parents(tree);
  if (!kept) co_return;
  for (const auto& k : *kept) (void)store_->remove_snapshot(k.id);
}

std::string lifecycle::snapshot_path(const packages::package_ref& ref, std::int64_t id, const std::string& subvolume) {
  const std::string installed = packages::installed_root(ref.repo, ref.effective_name) + "/";
  std::string_view rest = subvolume;
  if (rest.starts_with(installed)) rest.remove_prefix(installed.size());
  return snapshot_root(ref, id) + "/" + std::string(rest);
}

asio::awaitable<result<void>> lifecycle::take_snapshot(std::int64_t id, const install_plan& plan) {
  const auto* record = store_->find(plan.package.repo, plan.package.effective_name);
  if (record == nullptr) co_return problem::not_found("package " + plan.package.effective_name + " is not installed");
  if (auto kept = store_->add_snapshot(id, *record); !kept) co_return kept;
  auto& volumes = storage_.volumes();
  for (const auto& c : plan.containers) {
    for (const auto& v : c.volumes) {
      if (!volumes.is_subvolume(v.subvolume)) continue;  // removed by hand: nothing to keep
      const std::string to = snapshot_path(plan.package, id, v.subvolume);
      if (auto taken = co_await volumes.snapshot(v.subvolume, to, true); !taken) co_return taken;
    }
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> lifecycle::restore_snapshot(std::int64_t id, const install_plan& plan) {
  auto& volumes = storage_.volumes();
  for (const auto& c : plan.containers) {
    for (const auto& v : c.volumes) {
      const std::string from = snapshot_path(plan.package, id, v.subvolume);
      if (!volumes.is_subvolume(from)) continue;  // never snapshotted: the volume was not touched
      if (volumes.is_subvolume(v.subvolume)) {
        if (auto removed = co_await volumes.remove(v.subvolume); !removed) co_return removed;
      }
      if (auto restored = co_await volumes.snapshot(from, v.subvolume, false); !restored) co_return restored;
      if (v.quota_bytes > 0) {
        if (auto q = co_await volumes.set_quota(v.subvolume, v.quota_bytes); !q) co_return q;
      }
    }
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> lifecycle::delete_snapshot(const packages::package_ref& ref, std::int64_t id) {
  const std::string root = snapshot_root(ref, id);
  if (auto removed = co_await delete_tree(root); !removed) co_return removed;
  co_await prune_empty_parents(root);
  co_return store_->remove_snapshot(id);
}

asio::awaitable<result<void>> lifecycle::migrate_volumes(const install_plan& from, const install_plan& to) {
  auto& volumes = storage_.volumes();
  for (const auto& c : to.containers) {
    auto old = std::find_if(from.containers.begin(), from.containers.end(),
                            [&c](const auto& o) { return o.ref.effective_name == c.ref.effective_name; });
    if (old == from.containers.end()) continue;
    for (const auto& v : c.volumes) {
      const auto* kept = old->find_volume(v.name);
      if (kept == nullptr || kept->subvolume == v.subvolume || !volumes.is_subvolume(kept->subvolume)) continue;
      if (auto moved = co_await volumes.rename(kept->subvolume, v.subvolume); !moved) co_return moved;
    }
  }
  co_return result<void>{};
}

asio::awaitable<void> lifecycle::run_upgrade(std::int64_t id, install_plan plan, std::string manifest,
                                             std::int64_t source, std::shared_ptr<operation_progress> progress) {
  auto state = co_await asio::this_coro::cancellation_state;
  const auto& ref = plan.package;
  const std::string key = key_of(ref.repo, ref.effective_name);
  const auto* installed = store_->find(ref.repo, ref.effective_name);
  if (installed == nullptr) {
    (void)store_->abandon(id);
    progress->fail(problem::conflict(key + " is no longer installed"));
    co_return;
  }
  store::install_record old = *installed;
  auto act = [&]() -> asio::awaitable<result<void>> {
    if (auto s = journal_step(id, "upgrade", "stopping_old"); !s) co_return s;
    progress->step("preparing_upgrade");
    co_await remove_units(old.plan);
    // After the stop, so the kept volumes are as the old version left them.
    if (auto s = journal_step(id, "upgrade", "snapshotting"); !s) co_return s;
    progress->step("snapshotting");
    if (auto kept = co_await take_snapshot(id, old.plan); !kept) co_return kept;
    if (auto s = journal_step(id, "upgrade", "migrating_volumes"); !s) co_return s;
    progress->step("migrating_volumes");
    if (source != 0) {
      // A rollback: the kept version's volumes as it left them.
      if (auto restored = co_await restore_snapshot(source, plan); !restored) co_return restored;
    } else if (auto moved = co_await migrate_volumes(old.plan, plan); !moved) {
      co_return moved;
    }
    // A disabled package stays disabled: its new units are written, neither enabled nor started.
    if (auto up = co_await bring_up(id, "upgrade", plan, *progress, !old.disabled, std::string()); !up) co_return up;
    if (auto s = journal_step(id, "upgrade", "saving_install"); !s) co_return s;
    progress->step("saving_install");
    store::install_record record;
    record.plan = plan;
    record.manifest = manifest;
    record.disabled = old.disabled;
    co_return store_->complete_install(id, std::move(record));
  };
  auto outcome = co_await act();
  if (outcome) {
    // Committed. What the old version had and the new one does not use is in the snapshot now.
    std::set<std::string> in_use;
    for (const auto& c : plan.containers) {
      for (const auto& v : c.volumes) in_use.insert(v.subvolume);
    }
    for (const auto& c : old.plan.containers) {
      for (const auto& v : c.volumes) {
        if (in_use.contains(v.subvolume) || !storage_.volumes().is_subvolume(v.subvolume)) continue;
        if (auto removed = co_await storage_.volumes().remove(v.subvolume); !removed) {
          log::warning("upgrade of " + key + ": removing " + v.subvolume + ": " + removed.error().internal);
        }
        co_await prune_empty_parents(v.subvolume);
      }
    }
    // A rollback's source is live again; then only the newest package_keep_snapshots stay.
    if (source != 0) {
      if (auto dropped = co_await delete_snapshot(ref, source); !dropped) {
        log::warning("rollback of " + key + ": " + dropped.error().internal);
      }
    }
    const auto keep = static_cast<std::size_t>(settings_.integer("package_keep_snapshots", 1));
    if (auto kept = store_->snapshots(ref.repo, ref.effective_name); kept) {
      for (std::size_t i = keep; i < kept->size(); ++i) {
        if (auto dropped = co_await delete_snapshot(ref, (*kept)[i].id); !dropped) {
          log::warning("upgrade of " + key + ": " + dropped.error().internal);
        }
      }
    }
    log::info("upgraded " + key + " from " + old.plan.package.version + " to " + ref.version);
    progress->succeed();
    co_return;
  }
  if (cancelled(state) || stopped_) {
    progress->fail(
        problem::unavailable("the controller is shutting down; the upgrade is rolled back at its next start"));
    co_return;
  }
  log::warning("upgrade of " + key + " to " + ref.version +
               " failed: " + (outcome.error().internal.empty() ? outcome.error().detail : outcome.error().internal));
  progress->step("rolling_back");
  co_await rollback_upgrade(id);
  progress->rolled_back(outcome.error());
  progress->fail(outcome.error());
}

// Idempotent: a crash anywhere in it and a second run finishes it. The record is still the old
// version's (an upgrade replaces it only as it commits).
asio::awaitable<void> lifecycle::rollback_upgrade(std::int64_t id) {
  const auto* op = store_->operation(id);
  if (op == nullptr) co_return;
  install_plan plan = op->plan;
  const bool was_running = json::bool_member(op->options, "was_running").value_or(true);
  const auto& ref = plan.package;
  const std::string key = key_of(ref.repo, ref.effective_name);
  const auto* installed = store_->find(ref.repo, ref.effective_name);
  if (installed == nullptr) {
    log::error("rollback of the upgrade of " + key + ": no install record to return to");
    (void)store_->abandon(id);
    co_return;
  }
  store::install_record old = *installed;
  co_await remove_units(plan);
  // The new version's volumes (moved in or new) go; the old ones come back from the snapshot as
  // they were when the old version stopped.
  std::set<std::string> old_paths;
  for (const auto& c : old.plan.containers) {
    for (const auto& v : c.volumes) old_paths.insert(v.subvolume);
  }
  auto& volumes = storage_.volumes();
  for (auto c = plan.containers.rbegin(); c != plan.containers.rend(); ++c) {
    for (const auto& v : c->volumes) {
      if (old_paths.contains(v.subvolume) || !volumes.is_subvolume(v.subvolume)) continue;
      if (auto removed = co_await volumes.remove(v.subvolume); !removed) {
        log::warning("rollback of " + key + ": removing " + v.subvolume + ": " + removed.error().internal);
      }
      co_await prune_empty_parents(v.subvolume);
    }
  }
  if (auto restored = co_await restore_snapshot(id, old.plan); !restored) {
    // The snapshot and the journal entry stay: nothing is lost, and the next start tries again.
    log::error("rollback of the upgrade of " + key + ": restoring the volumes: " + restored.error().detail + " " +
               restored.error().internal);
    co_return;
  }
  const bool start = !old.disabled && was_running;
  if (auto units = co_await install_units(old.plan, start); !units) {
    log::error("rollback of the upgrade of " + key + ": " + units.error().detail);
  } else if (start) {
    if (auto running = co_await verify_running(old.plan); !running) {
      log::warning("rollback of the upgrade of " + key + ": " + running.error().detail);
    }
  }
  if (auto dropped = co_await delete_snapshot(ref, id); !dropped) {
    log::warning("rollback of " + key + ": " + dropped.error().internal);
  }
  if (auto dropped = store_->abandon(id); !dropped) log::warning("rollback: " + dropped.error().internal);
  log::info("rolled back the upgrade of " + key + " to " + old.plan.package.version);
}

asio::awaitable<result<std::vector<package_snapshot>>> lifecycle::snapshots(std::string repo,
                                                                            std::string effective_name) {
  auto kept = store_->snapshots(repo, effective_name);
  if (!kept) co_return kept.error();
  if (kept->empty() && store_->find(repo, effective_name) == nullptr) {
    co_return problem::not_found("package " + key_of(repo, effective_name) + " is not installed");
  }
  std::vector<package_snapshot> out;
  if (kept->empty()) co_return out;
  const packages::package_ref& ref = kept->front().record.plan.package;
  auto listed = co_await storage_.volumes().list(snapshots_tree(repo, effective_name) + "/");
  for (const auto& k : *kept) {
    package_snapshot one{k.id, k.record.plan.package.version, k.created_at, 0};
    if (listed) {
      const std::string prefix = snapshot_root(ref, k.id) + "/";
      for (const auto& v : *listed) {
        if (v.path.starts_with(prefix)) one.size_bytes += v.usage;
      }
    }
    out.push_back(std::move(one));
  }
  co_return out;
}

asio::awaitable<result<void>> lifecycle::remove_snapshot(std::string repo, std::string effective_name,
                                                         std::int64_t id) {
  const std::string key = key_of(repo, effective_name);
  auto kept = store_->snapshot(id);
  if (!kept) co_return kept.error();
  if (!*kept || (*kept)->record.plan.package.repo != repo ||
      (*kept)->record.plan.package.effective_name != effective_name) {
    co_return problem::not_found("package " + key + " has no snapshot " + std::to_string(id));
  }
  if (busy_.contains(key)) co_return problem::conflict("another operation on " + key + " is in progress");
  busy_.insert(key);
  busy_claim<shared_state> claim{shared_, key};
  co_return co_await delete_snapshot((*kept)->record.plan.package, id);
}

asio::awaitable<result<std::shared_ptr<operation_progress>>> lifecycle::rollback(std::string repo,
                                                                                 std::string effective_name) {
  if (stopped_) co_return problem::unavailable("the controller is shutting down");
  const std::string key = key_of(repo, effective_name);
  const auto* record = store_->find(repo, effective_name);
  if (record == nullptr) co_return problem::not_found("package " + key + " is not installed");
  auto kept = store_->snapshots(repo, effective_name);
  if (!kept) co_return kept.error();
  if (kept->empty()) co_return problem::conflict("package " + key + " has no kept version to roll back to");
  if (busy_.contains(key)) co_return problem::conflict("another operation on " + key + " is in progress");
  busy_.insert(key);
  busy_claim<shared_state> claim{shared_, key};
  const store::snapshot_record& target = kept->front();
  // The kept version's ports must be free of other packages, and its names its own.
  packages::preflight_facts facts;
  facts.installed = other_plans(key);
  facts.host_ports_bound = ports_bound_for(target.record.plan, &record->plan);
  if (auto checked = packages::preflight(target.record.plan, facts); !checked) co_return checked.error();
  const install_plan current = record->plan;
  const std::string from = current.package.version;
  const bool was_running = co_await running_now(current);
  std::string options_json = json_string([&](json_writer& w) {
    w.begin_object().key("from").value(from).key("was_running").value(was_running).key("source").value(target.id);
    w.end_object();
  });
  auto id = store_->begin(store::operation_kind::upgrade, target.record.plan, "preflight", options_json);
  if (!id) co_return id.error();
  auto progress = std::make_shared<operation_progress>(io_.get_executor());
  claim.keep();
  spawn_operation(key, run_upgrade(*id, target.record.plan, target.record.manifest, target.id, progress));
  co_return progress;
}

// ---- uninstall

asio::awaitable<result<std::shared_ptr<operation_progress>>> lifecycle::uninstall(uninstall_request request) {
  if (stopped_) co_return problem::unavailable("the controller is shutting down");
  const std::string effective = packages::instance_effective_name(request.name, request.instance);
  std::string repo = request.repo;
  if (repo.empty()) {
    for (const auto& record : store_->installed()) {
      if (record.plan.package.effective_name == effective) repo = record.plan.package.repo;
    }
  }
  const auto* record = store_->find(repo, effective);
  if (record == nullptr) co_return problem::not_found("package " + key_of(repo, effective) + " is not installed");
  const std::string key = key_of(repo, effective);
  if (busy_.contains(key)) co_return problem::conflict("another operation on " + key + " is in progress");
  std::string options_json =
      json_string([&](json_writer& w) { w.begin_object().key("purge").value(request.purge_volumes).end_object(); });
  auto id = store_->begin(store::operation_kind::uninstall, record->plan, "preflight", options_json);
  if (!id) co_return id.error();
  busy_.insert(key);
  auto progress = std::make_shared<operation_progress>(io_.get_executor());
  spawn_operation(key, run_uninstall(*id, record->plan, request.purge_volumes, progress));
  co_return progress;
}

asio::awaitable<void> lifecycle::run_uninstall(std::int64_t id, install_plan plan, bool purge,
                                               std::shared_ptr<operation_progress> progress) {
  auto state = co_await asio::this_coro::cancellation_state;
  progress->step("stopping_services");
  if (plan.containers.size() > 1) progress->step("uninstalling_dependencies");
  auto outcome = co_await finish_uninstall(id, purge);
  if (outcome) {
    co_await notify_installed_changed();
    progress->succeed();
  } else if (cancelled(state) || stopped_) {
    progress->fail(problem::unavailable("the controller is shutting down; the uninstall completes at its next start"));
  } else {
    progress->fail(outcome.error());
  }
}

// Every step of an uninstall, idempotent: a crash anywhere and a second run finishes it.
asio::awaitable<result<void>> lifecycle::finish_uninstall(std::int64_t id, bool purge) {
  const auto* op = store_->operation(id);
  if (op == nullptr) co_return problem::not_found("no operation " + std::to_string(id));
  install_plan plan = op->plan;
  const auto& ref = plan.package;
  if (auto s = journal_step(id, "uninstall", "stopping_services"); !s) co_return s;
  co_await remove_units(plan);
  if (auto s = journal_step(id, "uninstall", "cleaning_volumes"); !s) co_return s;
  const std::string installed_tree = packages::installed_root(ref.repo, ref.effective_name);
  const std::string uninstalled_tree = packages::uninstalled_root(ref.repo, ref.effective_name);
  if (purge) {
    if (auto d = co_await delete_tree(installed_tree); !d) co_return d;
    if (auto d = co_await delete_tree(uninstalled_tree); !d) co_return d;
    co_await prune_empty_parents(uninstalled_tree);
    co_await purge_snapshots(ref.repo, ref.effective_name);
    purge_seeds(ref.repo, ref.effective_name);
  } else if (auto moved = co_await move_tree(installed_tree, uninstalled_tree); !moved) {
    co_return moved;
  }
  co_await prune_empty_parents(installed_tree);
  if (auto s = journal_step(id, "uninstall", "removing_install"); !s) co_return s;
  if (auto done = store_->complete_uninstall(id); !done) co_return done;
  log::info("uninstalled " + key_of(ref.repo, ref.effective_name) + "@" + ref.version + (purge ? " (purged)" : ""));
  co_return result<void>{};
}

// ---- enable, disable, rebuild, volumes

asio::awaitable<result<void>> lifecycle::rebuild_git(std::string repo, std::string effective_name,
                                                     std::string version) {
  const std::string key = key_of(repo, effective_name);
  const auto* record = store_->find(repo, effective_name);
  if (record == nullptr || record->plan.package.version != version) {
    co_return problem::not_found("package " + key + "@" + version + " is not installed");
  }
  if (busy_.contains(key)) co_return problem::conflict("another operation on " + key + " is in progress");
  busy_.insert(key);
  busy_claim<shared_state> claim{shared_, key};
  install_plan plan = record->plan;
  const bool disabled = record->disabled;
  auto sources = git_volumes(plan);
  if (sources.empty())
    co_return problem::not_found("package " + key + "@" + version + " has no volume seeded from git");
  const git::options git_options{options_.git_seeds_dir / ".home", options_.git_timeout};
  for (const auto& source : sources) {
    log::info("updating " + source.volume->subvolume + " from " + source.url);
    auto updated = co_await git::update_seed(source.url, seed_dir(source.container->ref, source.volume->name),
                                             storage_.volumes().base() / source.volume->subvolume, git_options);
    if (!updated) co_return updated;
  }
  if (disabled) co_return result<void>{};
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  // Dependencies first, the parent last (it is started after them).
  const std::string mode = "replace";
  for (auto it = plan.containers.rbegin(); it != plan.containers.rend(); ++it) {
    auto job = co_await (*mgr)->restart_unit(packages::service_unit_name(it->ref), mode);
    if (!job) co_return job.error();
  }
  co_return co_await verify_running(plan);
}

asio::awaitable<result<void>> lifecycle::set_disabled(std::string repo, std::string effective_name, bool disabled) {
  const auto* record = store_->find(repo, effective_name);
  if (record == nullptr) co_return problem::not_found("package " + key_of(repo, effective_name) + " is not installed");
  const std::string key = key_of(repo, effective_name);
  if (busy_.contains(key)) co_return problem::conflict("another operation on " + key + " is in progress");
  busy_.insert(key);
  busy_claim<shared_state> claim{shared_, key};
  if (auto stored = store_->set_disabled(repo, effective_name, disabled); !stored) co_return stored;
  install_plan plan = record->plan;
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  std::vector<std::string> names;
  for (const auto& c : plan.containers) names.push_back(packages::service_unit_name(c.ref));
  if (disabled) {
    // The parent first, then its dependencies (they are PartOf it).
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
      auto job = co_await (*mgr)->stop_unit(*it);
      if (!job && job.error().status != 404) co_return job.error();
    }
    if (auto off = co_await (*mgr)->disable_unit_files(names); !off) co_return off.error();
    co_return co_await (*mgr)->reload();
  }
  // Units missing on disk (removed by hand) come back from the record; as for an install, the
  // answer comes once the app runs.
  if (auto installed = co_await install_units(plan, true); !installed) co_return installed;
  co_return co_await verify_running(plan);
}

asio::awaitable<result<void>> lifecycle::purge_volumes(std::string repo, std::string effective_name,
                                                       bool installed_too) {
  const std::string key = key_of(repo, effective_name);
  if (busy_.contains(key)) co_return problem::conflict("another operation on " + key + " is in progress");
  if (installed_too && store_->find(repo, effective_name) != nullptr) {
    co_return problem::conflict("package " + key + " is installed; uninstall it first");
  }
  busy_.insert(key);
  busy_claim<shared_state> claim{shared_, key};
  if (installed_too) {
    auto tree = packages::installed_root(repo, effective_name);
    if (auto d = co_await delete_tree(tree); !d) co_return d;
    co_await prune_empty_parents(tree);
    co_await purge_snapshots(repo, effective_name);
  }
  auto tree = packages::uninstalled_root(repo, effective_name);
  if (auto d = co_await delete_tree(tree); !d) co_return d;
  co_await prune_empty_parents(tree);
  // The git repositories of seeded volumes go with the last volumes they served.
  if (store_->find(repo, effective_name) == nullptr) purge_seeds(repo, effective_name);
  co_return result<void>{};
}

asio::awaitable<result<volume_versions>> lifecycle::volumes_of(std::string repo, std::string effective_name) {
  volume_versions out;
  auto versions_in = [&](const std::string& tree) -> asio::awaitable<result<std::vector<std::string>>> {
    auto listed = co_await storage_.volumes().list(tree + "/");
    if (!listed) co_return listed.error();
    std::set<std::string> versions;
    for (const auto& v : *listed) {
      std::string_view rest = std::string_view(v.path).substr(tree.size() + 1);
      auto slash = rest.find('/');
      if (slash == std::string_view::npos) continue;  // the version directory itself
      std::string version(rest.substr(0, slash));
      if (version != "subpackages") versions.insert(std::move(version));
    }
    co_return std::vector<std::string>(versions.begin(), versions.end());
  };
  auto installed = co_await versions_in(packages::installed_root(repo, effective_name));
  if (!installed) co_return installed.error();
  auto uninstalled = co_await versions_in(packages::uninstalled_root(repo, effective_name));
  if (!uninstalled) co_return uninstalled.error();
  out.installed = std::move(*installed);
  out.uninstalled = std::move(*uninstalled);
  co_return out;
}

asio::awaitable<result<package_usage>> lifecycle::usage(std::string slice, std::vector<std::string> containers) {
  package_usage out;
  out.slice = std::move(slice);
  auto mgr = co_await manager();
  if (!mgr) co_return mgr.error();
  // systemd reports "no figure" as UINT64_MAX; a slice that is not loaded (nothing runs in it) has
  // no unit object at all.
  auto figure = [&](const char* property) -> asio::awaitable<std::optional<std::uint64_t>> {
    auto text = co_await (*mgr)->get_unit_property(out.slice, property, "org.freedesktop.systemd1.Slice");
    if (!text) co_return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size() || value == UINT64_MAX) co_return std::nullopt;
    co_return value;
  };
  out.memory_bytes = co_await figure("MemoryCurrent");
  out.cpu_nanoseconds = co_await figure("CPUUsageNSec");
  if (out.memory_bytes && out.cpu_nanoseconds) {
    out.source = "systemd";
    co_return out;
  }
  // Named, not a braced temporary in the call: GCC 12 destroys such an argument of a coroutine twice.
  podman::options podman_options{options_.podman, options_.podman_timeout};
  auto counted = co_await podman::usage_of(podman_options, std::move(containers));
  if (counted) {
    out.source = "podman";
    out.memory_bytes = counted->memory_bytes;
    out.cpu_nanoseconds = counted->cpu_nanoseconds;
  } else if (out.memory_bytes || out.cpu_nanoseconds) {
    out.source = "systemd";
  }
  co_return out;
}

result<void> lifecycle::clear_last_answers(std::string_view repo, std::string_view effective_name) {
  return store_->clear_last_answers(repo, effective_name);
}

// ---- volume trees

asio::awaitable<result<void>> lifecycle::delete_tree(std::string relative) {
  auto& volumes = storage_.volumes();
  auto root = volumes.root();
  if (!root) co_return root.error();
  if (!file_io::open_beneath(*root, relative, O_PATH | O_DIRECTORY).has_value()) co_return result<void>{};
  auto listed = co_await volumes.list(relative + "/");
  if (!listed) co_return listed.error();
  std::vector<std::string> paths;
  for (const auto& v : *listed) paths.push_back(v.path);
  // Deepest first: a subvolume holding nested ones cannot be deleted before them.
  std::sort(paths.begin(), paths.end(), [](const std::string& a, const std::string& b) {
    auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '/'); };
    return depth(a) > depth(b);
  });
  paths.push_back(relative);
  for (const auto& path : paths) {
    if (volumes.is_subvolume(path)) {
      if (auto removed = co_await volumes.remove(path); !removed) co_return removed;
      continue;
    }
    // A plain directory between subvolumes, empty once they are gone.
    auto at = file_io::open_parent_beneath(*root, path);
    if (!at) continue;
    if (::unlinkat(at->parent.get(), at->leaf.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      co_return problem::internal_error("rmdir " + path + ": " + std::generic_category().message(errno));
    }
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> lifecycle::move_tree(std::string from, std::string to) {
  auto& volumes = storage_.volumes();
  auto root = volumes.root();
  if (!root) co_return root.error();
  auto source = file_io::open_beneath(*root, from, O_RDONLY | O_DIRECTORY);
  if (!source) co_return result<void>{};  // nothing to move
  if (!file_io::open_beneath(*root, to, O_PATH | O_DIRECTORY).has_value()) {
    co_return co_await volumes.rename(from, to);
  }
  // Both exist: merge entry by entry. A volume kept from an earlier uninstall of the same version
  // gives way to the newer one and stays beside it as <name>.<unix time>.old (never deleted).
  auto children = directory_entries(source->get());
  if (!children) co_return problem::internal_error("reading " + from + ": " + children.error().detail);
  for (const auto& child : *children) {
    std::string from_child = from + "/" + child;
    std::string to_child = to + "/" + child;
    bool from_is_volume = volumes.is_subvolume(from_child);
    bool to_exists = file_io::open_beneath(*root, to_child, O_PATH).has_value();
    if (to_exists && from_is_volume && volumes.is_subvolume(to_child) &&
        !file_io::open_beneath(*root, from_child + "/subpackages", O_PATH).has_value()) {
      // A leaf volume (or a version directory) on both sides.
      bool leaf = true;
      auto listed = co_await volumes.list(from_child + "/");
      if (listed && !listed->empty()) leaf = false;
      if (leaf) {
        std::string aside = to_child + "." +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count()) +
                            ".old";
        if (auto moved = co_await volumes.rename(to_child, aside); !moved) co_return moved;
        if (auto moved = co_await volumes.rename(from_child, to_child); !moved) co_return moved;
        continue;
      }
    }
    if (!to_exists) {
      if (auto moved = co_await volumes.rename(from_child, to_child); !moved) co_return moved;
      continue;
    }
    if (auto merged = co_await move_tree(from_child, to_child); !merged) co_return merged;
  }
  if (auto removed = co_await delete_tree(from); !removed) co_return removed;
  co_return result<void>{};
}

asio::awaitable<void> lifecycle::prune_empty_parents(std::string relative) {
  auto& volumes = storage_.volumes();
  auto root = volumes.root();
  if (!root) co_return;
  // Up to, never including, the root subvolumes (installed, uninstalled).
  for (std::string path = relative; std::count(path.begin(), path.end(), '/') >= 1; path = parent_of(path)) {
    auto dir = file_io::open_beneath(*root, path, O_RDONLY | O_DIRECTORY);
    if (!dir) continue;  // gone already
    auto first = directory_entries(dir->get(), 1);
    if (!first) co_return;
    bool empty = first->empty();
    if (!empty) co_return;
    if (volumes.is_subvolume(path)) {
      if (!co_await volumes.remove(path)) co_return;
    } else if (auto at = file_io::open_parent_beneath(*root, path); at) {
      if (::unlinkat(at->parent.get(), at->leaf.c_str(), AT_REMOVEDIR) != 0) co_return;
    }
  }
}

// ---- start

asio::awaitable<void> lifecycle::recover_and_reconcile() {
  // systemd first: rolling back or reconciling without it would leave units behind.
  auto state = co_await asio::this_coro::cancellation_state;
  asio::steady_timer retry(io_);
  while (!(co_await manager())) {
    if (cancelled(state) || stopped_) co_return;
    retry.expires_after(std::chrono::seconds(1));
    co_await retry.async_wait(io_result);
  }
  // Unfinished operations first: the journal says what a crash interrupted.
  std::vector<store::operation_record> unfinished = store_->operations();
  for (const auto& op : unfinished) {
    const auto& ref = op.plan.package;
    const std::string key = key_of(ref.repo, ref.effective_name);
    busy_.insert(key);
    busy_claim<shared_state> claim{shared_, key};
    if (op.kind == store::operation_kind::install) {
      log::warning("rolling back the unfinished install of " + key + " (at step " + op.step + ")");
      co_await rollback_install(op.id);
    } else if (op.kind == store::operation_kind::upgrade) {
      log::warning("rolling back the unfinished upgrade of " + key + " to " + ref.version + " (at step " + op.step +
                   ")");
      co_await rollback_upgrade(op.id);
    } else {
      const bool purge = json::bool_member(op.options, "purge").value_or(false);
      log::warning("completing the unfinished uninstall of " + key + " (at step " + op.step + ")");
      if (auto done = co_await finish_uninstall(op.id, purge); !done) {
        log::error("completing the uninstall of " + key + ": " + done.error().detail + " " + done.error().internal);
      }
    }
  }
  // Then every record (§7.6): files as the record renders them, enabled packages running.
  std::vector<store::install_record> records = store_->installed();
  bool addressed = false;
  for (auto& record : records) {
    const auto& ref = record.plan.package;
    const std::string key = key_of(ref.repo, ref.effective_name);
    if (busy_.contains(key)) continue;
    busy_.insert(key);
    busy_claim<shared_state> claim{shared_, key};
    // A record from before the ingress had addresses gets them now, so the proxy can reach it
    // (its units are rewritten below, since they change).
    if (std::any_of(record.plan.containers.begin(), record.plan.containers.end(),
                    [](const auto& c) { return c.ingress_port() != 0 && c.ingress_address.empty(); })) {
      install_plan plan = record.plan;
      if (auto assigned = assign_ingress_addresses(plan, key); !assigned) {
        log::error("reconcile " + key + ": ingress address: " + assigned.error().detail);
      } else if (auto updated = store_->update_plan(plan); !updated) {
        log::error("reconcile " + key + ": " + updated.error().detail + " " + updated.error().internal);
      } else {
        record.plan = std::move(plan);
        addressed = true;
        log::info("reconcile " + key + ": ingress addresses assigned");
      }
    }
    auto rendered = packages::render_podman_units(record.plan, options_.render);
    if (!rendered) {
      log::error("reconcile " + key + ": " + rendered.error().detail);
      continue;
    }
    const bool changed = unit_files_differ(options_.unit_dir, unit_files_of(std::move(*rendered)));
    auto report = [&key](std::string_view what, const problem& p) {
      log::error("reconcile " + key + ": " + std::string(what) + ": " + p.detail + " " + p.internal);
    };
    // Volumes someone removed come back empty (templates never overwrite a file), before any unit
    // mounts them.
    if (auto provisioned = co_await provision(std::nullopt, record.plan); !provisioned) {
      report("volumes", provisioned.error());
      continue;
    }
    if (auto templated = co_await apply_templates(record.plan); !templated) report("templates", templated.error());
    if (!changed && record.disabled) continue;
    if (record.disabled) {
      if (auto written = co_await install_units(record.plan, false); !written) {
        report("units", written.error());
      } else {
        log::info("reconcile " + key + ": unit files rewritten (disabled: not started)");
      }
      continue;
    }
    // A unit whose file changed is restarted (a running one would keep its old command line);
    // the others are started, which leaves a running unit alone.
    if (auto started = co_await install_units(record.plan, true, changed); !started) {
      report("units", started.error());
    } else if (changed) {
      log::info("reconcile " + key + ": unit files rewritten and units restarted");
    }
  }
  if (addressed) co_await notify_installed_changed();
  log::info("start-up done: " + std::to_string(unfinished.size()) + " unfinished operations settled, " +
            std::to_string(records.size()) + " installed packages reconciled");
}

}  // namespace sc::server
