#pragma once
// Git, as awaited subprocesses through the one spawn helper (adapters/process/spawn.hpp): clone a
// repository, or bring an existing checkout up to date by fetch + fast-forward.
//
// Safety, whatever the caller passes:
//   * the URL in argv is the public one (no userinfo; callers parse it with
//     packages::parse_repository_url); credentials reach git only through the environment of that
//     one child, read back by a GIT_ASKPASS script that holds no secret itself;
//   * git never reads the host's system or global config, never prompts (GIT_TERMINAL_PROMPT=0,
//     ssh BatchMode), runs no hooks (core.hooksPath=/dev/null), uses no credential helper, and
//     speaks only https, http, ssh, git and file (GIT_ALLOW_PROTOCOL);
//   * every command has a timeout and is killed with its process group;
//   * error texts carry git's stderr with any credential scrubbed.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <string>

#include "core/problem.hpp"

namespace sc::git {

struct credentials {
  std::string username;
  std::string password;
};

struct options {
  // A private directory (created 0700) used as git's HOME and for the askpass script.
  std::filesystem::path home;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // per git command
  // seed and update_seed: symlinks in the repository are checked out as small files holding the
  // link's text (core.symlinks=false), for trees another process serves and follows links in.
  bool no_symlinks = false;
};

// Clones `url` into `checkout` when it holds no repository (a partial clone goes to a sibling
// directory and is renamed into place, so a failed clone never leaves a half checkout), else
// fetches origin and fast-forwards the checked-out branch to its upstream, discarding local edits
// to tracked files (the checkout is ours; nobody edits it). A history that cannot fast-forward is an
// error and leaves the checkout as it was. Errors: problem with the reason in `detail`.
// Must be awaited on the loop thread (the spawn helper's contract).
boost::asio::awaitable<result<void>> sync(std::string url, std::filesystem::path checkout, credentials auth,
                                          options opts);

// A package volume seeded from git (behavior-ops.md §6.3 `seeding_data`, §6.5 rebuild-git). The
// volume is written by its container, so nothing git reads may come from it: the repository lives
// in `git_dir` (the controller's, outside the volume), the files in `work_tree` (the volume), and
// every command names both. A `.git`, config, hook or attribute filter the container planted in
// the volume is never read; no submodule is touched. Git refuses to write through a symlinked
// leading directory, so a planted link cannot redirect a checkout.
//
// seed: clones `url` (its `branch`, else the remote's default) into the empty `work_tree`; an old
// `git_dir` is replaced. A failed clone removes what it wrote.
boost::asio::awaitable<result<void>> seed(std::string url, std::string branch, std::filesystem::path git_dir,
                                          std::filesystem::path work_tree, options opts);
// update_seed: fetches `url` (the definition's, which may have changed) and fast-forwards the volume
// to it. Local changes that the update would overwrite, or a history that cannot fast-forward, are
// a 409 that leaves the volume as it was; 404 when `git_dir` holds no seed.
boost::asio::awaitable<result<void>> update_seed(std::string url, std::filesystem::path git_dir,
                                                 std::filesystem::path work_tree, options opts);

}  // namespace sc::git
