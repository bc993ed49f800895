#include "server/pages_service.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <system_error>
#include <variant>

#include "adapters/asio/completion.hpp"
#include "adapters/git/git.hpp"
#include "adapters/podman/podman.hpp"
#include "adapters/store/audit_store.hpp"
#include "adapters/store/page_store.hpp"
#include "core/log.hpp"

namespace sc::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// A link target a served tree may keep: relative, and never climbing (no ".." component).
bool harmless_link(std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  std::string_view rest = target;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    if (rest.substr(0, slash) == "..") return false;
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return true;
}

result<std::uint64_t> sweep_directory(int dir, int depth_left) {
  if (depth_left < 0) return problem::unprocessable("content", "the tree is nested too deeply");
  int listing_fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listing_fd < 0) return problem::internal_error("sweep: open: " + std::generic_category().message(errno));
  DIR* listing = ::fdopendir(listing_fd);
  if (listing == nullptr) {
    ::close(listing_fd);
    return problem::internal_error("sweep: fdopendir: " + std::generic_category().message(errno));
  }
  std::vector<std::string> subdirectories;
  std::vector<std::string> escaping;
  while (dirent* entry = ::readdir(listing)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat info {};
    if (::fstatat(dir, entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(info.st_mode)) {
      subdirectories.emplace_back(name);
    } else if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode) || S_ISFIFO(info.st_mode) || S_ISSOCK(info.st_mode)) {
      // A device node copied out of an image would let the server read the host's device; a FIFO
      // would hang it.
      escaping.emplace_back(name);
    } else if (S_ISLNK(info.st_mode)) {
      char target[4096];
      ssize_t length = ::readlinkat(dir, entry->d_name, target, sizeof target);
      if (length < 0 || static_cast<std::size_t>(length) >= sizeof target ||
          !harmless_link(std::string_view(target, static_cast<std::size_t>(length)))) {
        escaping.emplace_back(name);
      }
    }
  }
  ::closedir(listing);
  std::uint64_t removed = 0;
  for (const auto& name : escaping) {
    if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT)
      return problem::internal_error("sweep: unlink " + name + ": " + std::generic_category().message(errno));
    ++removed;
  }
  for (const auto& name : subdirectories) {
    int child = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) continue;  // replaced by something else meanwhile: nothing of ours to sweep
    auto below = sweep_directory(child, depth_left - 1);
    ::close(child);
    if (!below) return below.error();
    removed += *below;
  }
  return removed;
}

}  // namespace

result<std::uint64_t> sweep_escaping_links(int dir, int max_depth) {
  return sweep_directory(dir, max_depth);
}

pages_service::pages_service(asio::io_context& io, store::page_store& store, storage_service& storage, options opts)
    : io_(io),
      store_(store),
      storage_(storage),
      options_(std::move(opts)),
      shared_(std::make_shared<operation_registry>()) {
  options_.webroot_dir = fs::absolute(options_.webroot_dir);
  options_.git_dir = fs::absolute(options_.git_dir);
}

pages_service::~pages_service() = default;

const std::vector<pages::page>& pages_service::all() const {
  return store_.all();
}

std::size_t pages_service::running() const noexcept {
  return shared_->cancels.size();
}

std::string pages_service::now() const {
  return store::rfc3339_seconds(std::chrono::system_clock::now());
}

std::vector<ingress::static_site> pages_service::static_sites() const {
  std::vector<ingress::static_site> out;
  for (const auto& p : store_.all()) {
    if (p.content.empty()) continue;
    ingress::static_site site;
    site.host = p.domain;
    site.root = webroot_of(p.name).string();
    out.push_back(std::move(site));
  }
  return out;
}

asio::awaitable<void> pages_service::changed() {
  for (const auto& hook : hooks_) co_await hook();
}

asio::awaitable<result<std::string>> pages_service::new_generation(const pages::page& p) {
  if (auto ready = co_await storage_.ready(); !ready) co_return ready.error();
  std::string generation = "site-" +
                           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()) +
                           "-" + std::to_string(++generations_);
  auto created = co_await storage_.volumes().create(volume_of(p) + "/" + generation, 0);
  if (!created) co_return created.error();
  co_return generation;
}

asio::awaitable<result<std::uint64_t>> pages_service::sweep(std::string volume) {
  auto root = storage_.volumes().open_subvolume(volume);
  if (!root) co_return root.error();
  auto fd = std::make_shared<file_io::unique_fd>(std::move(*root));
  auto work = [fd] { return sweep_escaping_links(fd->get()); };
  auto swept = co_await storage_.archive_pool().run(std::move(work));
  if (!swept) co_return swept.error();
  co_return *swept;
}

asio::awaitable<result<void>> pages_service::activate(std::string name, std::string generation, bool mark_active) {
  const auto* found = store_.find(name);
  if (found == nullptr) co_return problem::not_found("no page " + name);
  pages::page p = *found;
  const std::string old = p.content;
  // The link is written beside and renamed over the old one: Caddy sees one tree or the other.
  std::error_code ec;
  fs::create_directories(options_.webroot_dir, ec);
  const fs::path link = webroot_of(name);
  fs::path temporary = options_.webroot_dir / ("." + name + ".new");
  fs::remove(temporary, ec);
  fs::create_directory_symlink(storage_.volumes().base() / volume_of(p) / generation, temporary, ec);
  if (!ec) fs::rename(temporary, link, ec);
  if (ec) co_return problem::internal_error("pointing " + link.string() + " at the new content: " + ec.message());
  p.content = generation;
  if (mark_active) {
    p.status = std::string(pages::status_active);
    p.error.clear();
  }
  p.updated_at = now();
  if (auto stored = store_.update(p); !stored) co_return stored.error();
  if (!old.empty() && old != generation) {
    if (auto removed = co_await storage_.volumes().remove(volume_of(p) + "/" + old); !removed)
      log::warning("page " + name + ": removing the old content " + old + ": " + removed.error().detail);
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> pages_service::set_status(std::string name, std::string_view status, std::string error) {
  const auto* found = store_.find(name);
  if (found == nullptr) co_return problem::not_found("no page " + name);
  pages::page p = *found;
  p.status = std::string(status);
  p.error = std::move(error);
  p.updated_at = now();
  co_return store_.update(std::move(p));
}

asio::awaitable<result<pages::page>> pages_service::create(pages::page_request request) {
  auto made = pages::make_page(request, now());
  if (!made) co_return made.error();
  if (const auto* other = store_.find_domain(made->domain); other != nullptr)
    co_return problem::conflict("the domain " + made->domain + " is page " + other->name + "'s");
  if (store_.find(made->name) != nullptr) co_return problem::conflict("page " + made->name + " already exists");
  if (auto ready = co_await storage_.ready(); !ready) co_return ready.error();
  // The page's subvolume; a leftover of an earlier page of that domain is reused.
  const std::string volume = volume_of(*made);
  if (!storage_.volumes().is_subvolume(volume)) {
    if (auto created = co_await storage_.volumes().create(volume, 0); !created) co_return created.error();
  }
  if (auto inserted = store_.insert(*made); !inserted) co_return inserted.error();
  if (made->source != pages::source_type::archive) spawn_provision(made->name, false);
  co_await changed();  // its DNS name (a domain under the TLD) answers before its content is there
  co_return *made;
}

asio::awaitable<result<pages::page>> pages_service::update(std::string name, pages::page_request changes) {
  const auto* found = store_.find(name);
  if (found == nullptr) co_return problem::not_found("no page " + name);
  if (shared_->busy.contains(name)) co_return problem::conflict("page " + name + " is being provisioned");
  const pages::page before = *found;
  auto merged = pages::merge_update(before, changes, now());
  if (!merged) co_return merged.error();
  if (merged->domain != before.domain) {
    if (const auto* other = store_.find_domain(merged->domain); other != nullptr)
      co_return problem::conflict("the domain " + merged->domain + " is page " + other->name + "'s");
    if (auto ready = co_await storage_.ready(); !ready) co_return ready.error();
    if (storage_.volumes().is_subvolume(volume_of(before))) {
      auto moved = co_await storage_.volumes().rename(volume_of(before), volume_of(*merged));
      if (!moved) co_return moved.error();
    } else if (auto created = co_await storage_.volumes().create(volume_of(*merged), 0); !created) {
      co_return created.error();
    }
    if (!merged->content.empty()) {
      std::error_code ec;
      fs::path temporary = options_.webroot_dir / ("." + name + ".new");
      fs::remove(temporary, ec);
      fs::create_directory_symlink(storage_.volumes().base() / volume_of(*merged) / merged->content, temporary, ec);
      if (!ec) fs::rename(temporary, webroot_of(name), ec);
      if (ec) log::error("page " + name + ": repointing its webroot: " + ec.message());
    }
  }
  const bool reprovision = merged->source != pages::source_type::archive && pages::source_changed(before, *merged);
  if (reprovision) {
    merged->status = std::string(pages::status_pending);
    merged->error.clear();
  } else if (merged->source == pages::source_type::archive && before.source != pages::source_type::archive) {
    merged->status = std::string(merged->content.empty() ? pages::status_pending : pages::status_active);
    merged->error.clear();
  }
  if (auto stored = store_.update(*merged); !stored) co_return stored.error();
  if (before.source == pages::source_type::git && merged->source != pages::source_type::git) {
    std::error_code ec;
    fs::remove_all(repository_of(name), ec);  // its repository is no use to another source
  }
  if (reprovision) spawn_provision(name, false);
  co_await changed();
  co_return *merged;
}

asio::awaitable<result<void>> pages_service::remove(std::string name) {
  const auto* found = store_.find(name);
  if (found == nullptr) co_return problem::not_found("no page " + name);
  if (shared_->busy.contains(name)) co_return problem::conflict("page " + name + " is being provisioned");
  const pages::page p = *found;
  if (auto ready = co_await storage_.ready(); !ready) co_return ready.error();
  // Served no more first, then the content.
  std::error_code ec;
  fs::remove(webroot_of(name), ec);
  if (auto removed = store_.remove(name); !removed) co_return removed.error();
  co_await changed();
  const std::string volume = volume_of(p);
  auto generations = co_await storage_.volumes().list(volume + "/");
  if (generations) {
    for (const auto& g : *generations) {
      if (auto gone = co_await storage_.volumes().remove(g.path); !gone)
        log::warning("page " + name + ": removing " + g.path + ": " + gone.error().detail);
    }
  }
  if (storage_.volumes().is_subvolume(volume)) {
    if (auto gone = co_await storage_.volumes().remove(volume); !gone) co_return gone.error();
  }
  fs::remove_all(repository_of(name), ec);
  co_return result<void>{};
}

asio::awaitable<result<pages::page>> pages_service::rebuild(std::string name) {
  const auto* found = store_.find(name);
  if (found == nullptr) co_return problem::not_found("no page " + name);
  if (found->source == pages::source_type::archive)
    co_return problem::bad_request("archive pages are not rebuilt: upload the archive again with /pages/upload");
  if (shared_->busy.contains(name)) co_return problem::conflict("page " + name + " is being provisioned");
  if (auto marked = co_await set_status(name, pages::status_pending, ""); !marked) co_return marked.error();
  spawn_provision(name, true);
  co_return *store_.find(name);
}

asio::awaitable<result<storage_service::upload_destination>> pages_service::resolve_upload(
    std::string* page_name, std::string* generation, storage_service::upload_fields fields) {
  std::string name;
  bool named = false;
  for (auto& [key, text] : fields) {
    if (key == "name") {
      name = std::move(text);
      named = true;
    }
  }
  if (!named || name.empty()) co_return problem::bad_request("the name field is required before the archive");
  if (auto valid = pages::validate_name(name); !valid) co_return valid.error();
  const auto* found = store_.find(name);
  if (found == nullptr) co_return problem::not_found("no page " + name);
  if (found->source != pages::source_type::archive)
    co_return problem::bad_request("page " + name + " is a " + std::string(pages::to_string(found->source)) +
                                   " page: only archive pages take uploads");
  if (!shared_->busy.insert(name).second) co_return problem::conflict("page " + name + " is busy");
  *page_name = name;
  const pages::page p = *found;
  auto made = co_await new_generation(p);
  if (!made) co_return made.error();
  *generation = *made;
  const std::string volume = volume_of(p) + "/" + *made;
  auto target = storage_.volumes().open_subvolume(volume);
  if (!target) co_return target.error();
  storage_service::upload_destination destination;
  destination.max_bytes = co_await storage_.extraction_budget(volume, target->get());
  destination.directory = std::move(*target);
  co_return destination;
}

asio::awaitable<result<pages::page>> pages_service::upload(body_stream& body, std::string content_type,
                                                           storage_service::upload_limits limits) {
  std::string page_name;
  std::string generation;
  std::vector<std::string> names = {"name"};
  storage_service::upload_resolver resolve = [this, &page_name, &generation](storage_service::upload_fields fields) {
    return resolve_upload(&page_name, &generation, std::move(fields));
  };
  auto unpacked = co_await storage_.receive_archive(body, content_type, limits, std::move(names), std::move(resolve));
  result<void> outcome;
  std::string volume;
  if (!generation.empty()) {
    if (const auto* p = store_.find(page_name); p != nullptr) volume = volume_of(*p) + "/" + generation;
  }
  if (!unpacked) {
    outcome = unpacked.error();
  } else if (volume.empty()) {
    outcome = problem::not_found("page " + page_name + " went away during the upload");
  } else if (auto swept = co_await sweep(volume); !swept) {
    outcome = swept.error();
  } else {
    if (*swept > 0) log::warning("page " + page_name + ": " + std::to_string(*swept) + " escaping link(s) removed");
    outcome = co_await activate(page_name, generation, true);
  }
  if (!outcome && !volume.empty()) {
    if (auto gone = co_await storage_.volumes().remove(volume); !gone)
      log::warning("page " + page_name + ": removing the failed upload: " + gone.error().detail);
  }
  if (!page_name.empty()) shared_->busy.erase(page_name);
  if (!outcome) co_return outcome.error();
  log::info("page " + page_name + ": archive unpacked: " + std::to_string(unpacked->entries) + " members, " +
            std::to_string(unpacked->bytes) + " bytes");
  co_await changed();
  co_return *store_.find(page_name);
}

void pages_service::spawn_provision(const std::string& name, bool pull) {
  if (stopped_) return;
  shared_->busy.insert(name);
  spawn_operation(io_, shared_, name, provision(name, pull), "page provisioning");
}

void pages_service::start() {
  for (const auto& p : store_.all()) {
    if (p.source != pages::source_type::archive && p.status == pages::status_pending) {
      log::info("page " + p.name + ": provisioning again (interrupted by a stop)");
      spawn_provision(p.name, false);
    }
  }
}

void pages_service::stop(std::function<void()> on_idle) {
  if (stopped_) return;
  stopped_ = true;
  cancel_operations(*shared_, std::move(on_idle));
}

asio::awaitable<void> pages_service::provision(std::string name, bool pull) {
  const auto* found = store_.find(name);
  if (found == nullptr) co_return;
  pages::page p = *found;
  asio::steady_timer deadline(io_);
  deadline.expires_after(options_.provision_timeout);
  auto raced = co_await (provision_content(p, pull) || deadline.async_wait(asio::use_awaitable));
  result<void> outcome;
  if (raced.index() == 1) {
    outcome = problem::gateway_timeout("provisioning took longer than " +
                                       std::to_string(options_.provision_timeout.count() / 1000) + " s");
  } else {
    outcome = std::get<0>(std::move(raced));
  }
  if (stopped_) co_return;  // the next start finds it pending and the admin rebuilds it
  // The ingress serves the new content before the status says so, and the status is the last step
  // (no suspension after it): a client that sees active or error finds the page free again.
  co_await changed();
  if (!outcome) {
    const problem& failure = outcome.error();
    log::warning("page " + name + ": provisioning failed: " + failure.detail + " " + failure.internal);
    (void)co_await set_status(name, pages::status_error, failure.detail);
  } else {
    log::info("page " + name + ": provisioned");
    (void)co_await set_status(name, pages::status_active, "");
  }
}

asio::awaitable<result<void>> pages_service::provision_content(pages::page p, bool pull) {
  git::options git_options{options_.git_dir / ".home", options_.git_timeout, true};
  const std::string volume = volume_of(p);
  if (pull && p.source == pages::source_type::git && !p.content.empty()) {
    const fs::path work_tree = storage_.volumes().base() / volume / p.content;
    auto pulled = co_await git::update_seed(p.repo_url, repository_of(p.name), work_tree, git_options);
    if (pulled) {
      auto swept = co_await sweep(volume + "/" + p.content);
      if (!swept) co_return swept.error();
      co_return co_await activate(p.name, p.content, false);
    }
    if (pulled.error().status != 404) co_return pulled.error();
    // No repository kept (a page made before, or a failed clone): clone afresh below.
  }
  if (!storage_.volumes().is_subvolume(volume)) {
    if (auto created = co_await storage_.volumes().create(volume, 0); !created) co_return created.error();
  }
  auto generation = co_await new_generation(p);
  if (!generation) co_return generation.error();
  const std::string target = volume + "/" + *generation;
  const fs::path work_tree = storage_.volumes().base() / target;
  result<void> filled;
  if (p.source == pages::source_type::git) {
    filled = co_await git::seed(p.repo_url, p.branch, repository_of(p.name), work_tree, git_options);
  } else {
    podman::options podman_options;
    podman_options.program = options_.podman;
    podman_options.timeout = options_.provision_timeout;
    filled = co_await podman::copy_from_image(podman_options, p.image, p.image_directory, work_tree.string());
  }
  if (filled) {
    auto swept = co_await sweep(target);
    if (!swept) {
      filled = swept.error();
    } else if (*swept > 0) {
      log::warning("page " + p.name + ": " + std::to_string(*swept) + " escaping link(s) removed");
    }
  }
  if (filled) filled = co_await activate(p.name, *generation, false);
  if (!filled) {
    if (auto gone = co_await storage_.volumes().remove(target); !gone)
      log::warning("page " + p.name + ": removing " + target + ": " + gone.error().detail);
  }
  co_return filled;
}

}  // namespace sc::server
