#pragma once
// Static pages (issue 16; behavior-ops.md §9 "Pages"): the pages table (adapters/store/page_store),
// their content in btrfs, and what the ingress serves for them.
//
// Layout: each page's content lives in the subvolume pages/<domain> of the btrfs root; every
// provisioning or upload writes a fresh generation, the nested subvolume pages/<domain>/<gen>, and
// only once it is complete and swept does the webroot link <state>/pages-webroot/<name> (what Caddy's
// file_server is rooted at) switch to it, atomically (rename over the link); the old generation is
// then deleted. A failed provisioning leaves the page serving what it served before.
//
// Sources: archive (POST /pages/upload, the storage upload's streamed multipart and fd-based
// extraction: server/storage_service.hpp receive_archive), git (adapters/git seed/update_seed with
// the repository in <state>/pages-git/<name>.git, outside the served tree, symlinks checked out as
// plain files) and container_image (adapters/podman copy_from_image). Every generation is swept
// before it is served: device nodes, FIFOs and sockets go, and a symlink is kept only when its
// target is relative and has no ".." component (Caddy runs as root and follows links; a chain of links that each stay
// inside lexically can still climb out, e.g. d -> .. beside x -> d/..).
//
// Git and image pages are provisioned on their own coroutine (status pending, then active or error
// with the reason), bounded by `provision_timeout` and cancelled by stop(). While one runs, the
// page's other mutations are a 409. Every change calls the on_changed hooks (the ingress's publish).
// Loop thread only.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/ingress.hpp"
#include "core/pages.hpp"
#include "core/problem.hpp"
#include "server/operations.hpp"
#include "server/storage_service.hpp"

namespace sc::store {
class page_store;
}

namespace sc::server {

class body_stream;

// Removes every symlink below the directory `dir` (an fd, borrowed) whose target is absolute or
// has a ".." component, and every device node, FIFO and socket; descends without following links,
// at most `max_depth` levels. Returns how many entries went. Blocking: run it on the work pool.
result<std::uint64_t> sweep_escaping_links(int dir, int max_depth = 64);

class pages_service {
 public:
  struct options {
    std::filesystem::path webroot_dir;  // <state>/pages-webroot
    std::filesystem::path git_dir;      // <state>/pages-git
    std::chrono::milliseconds git_timeout{std::chrono::minutes(5)};
    std::chrono::milliseconds provision_timeout{std::chrono::minutes(15)};
    std::string podman = "podman";
  };
  pages_service(boost::asio::io_context& io, store::page_store& store, storage_service& storage, options opts);
  ~pages_service();
  pages_service(const pages_service&) = delete;
  pages_service& operator=(const pages_service&) = delete;

  const std::vector<pages::page>& all() const;

  // 422 bad fields, 409 name or domain taken. Git and image pages start provisioning.
  boost::asio::awaitable<result<pages::page>> create(pages::page_request request);
  // Partial update (404, 409 busy or domain taken, 422). A domain change moves the subvolume and
  // the link; a changed source provisions git and image pages again.
  boost::asio::awaitable<result<pages::page>> update(std::string name, pages::page_request changes);
  // Row, link, content and git repository gone (404 unknown, 409 busy).
  boost::asio::awaitable<result<void>> remove(std::string name);
  // Git pulls, image re-extracts (asynchronously: the page answers pending); 400 for archive pages.
  boost::asio::awaitable<result<pages::page>> rebuild(std::string name);
  // POST /pages/upload: the multipart form (`name`, then `archive`) streamed into a new generation.
  // 404 unknown page, 400 not an archive page, 409 busy, and the storage upload's answers.
  boost::asio::awaitable<result<pages::page>> upload(body_stream& body, std::string content_type,
                                                     storage_service::upload_limits limits);

  // What the ingress serves: every page with content, its domain and its webroot link.
  std::vector<ingress::static_site> static_sites() const;
  void on_changed(std::function<boost::asio::awaitable<void>()> hook) { hooks_.push_back(std::move(hook)); }

  // At start: git and image pages left pending (a provisioning a stop interrupted) provision again.
  void start();
  // Cancels the provisioning tasks; `on_idle` is called once the last one has ended.
  void stop(std::function<void()> on_idle);
  std::size_t running() const noexcept;

 private:
  // The upload's target once its `name` field is read: the page checked and claimed (`page_name`
  // set), a new generation made (`generation` set). Both outlive the upload that awaits this.
  boost::asio::awaitable<result<storage_service::upload_destination>> resolve_upload(
      std::string* page_name, std::string* generation, storage_service::upload_fields fields);

  std::string volume_of(const pages::page& p) const { return "pages/" + p.domain; }
  std::filesystem::path webroot_of(const std::string& name) const { return options_.webroot_dir / name; }
  std::filesystem::path repository_of(const std::string& name) const { return options_.git_dir / (name + ".git"); }
  std::string now() const;
  // A new, empty generation subvolume below pages/<domain>: its name.
  boost::asio::awaitable<result<std::string>> new_generation(const pages::page& p);
  boost::asio::awaitable<result<std::uint64_t>> sweep(std::string volume);
  // Points the link at `generation`, stores it as served (and the page active when `mark_active`),
  // deletes the one before.
  boost::asio::awaitable<result<void>> activate(std::string name, std::string generation, bool mark_active);
  boost::asio::awaitable<result<void>> set_status(std::string name, std::string_view status, std::string error);
  boost::asio::awaitable<void> changed();
  void spawn_provision(const std::string& name, bool pull);
  boost::asio::awaitable<void> provision(std::string name, bool pull);
  boost::asio::awaitable<result<void>> provision_content(pages::page p, bool pull);

  boost::asio::io_context& io_;
  store::page_store& store_;
  storage_service& storage_;
  options options_;
  std::vector<std::function<boost::asio::awaitable<void>()>> hooks_;
  std::shared_ptr<operation_registry> shared_;  // busy: pages with an operation in progress
  bool stopped_ = false;
  std::uint64_t generations_ = 0;
};

}  // namespace sc::server
