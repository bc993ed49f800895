#include "adapters/git/git.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include "adapters/process/spawn.hpp"

namespace sc::git {

namespace fs = std::filesystem;

namespace {

// Reads the answer for the prompt git gives it ("Username for …" / "Password for …") from the
// child's environment; the script holds no secret.
constexpr std::string_view askpass_script =
    "#!/bin/sh\n"
    "case \"$1\" in\n"
    "  Username*) printf '%s\\n' \"$SC_GIT_USERNAME\" ;;\n"
    "  *) printf '%s\\n' \"$SC_GIT_PASSWORD\" ;;\n"
    "esac\n";

result<fs::path> prepare_home(const fs::path& home) {
  std::error_code ec;
  fs::create_directories(home, ec);
  if (ec) return problem::internal_error("git home " + home.string() + ": " + ec.message());
  fs::permissions(home, fs::perms::owner_all, ec);
  fs::path script = home / "askpass.sh";
  if (!fs::exists(script, ec)) {
    fs::path temp = home / "askpass.sh.tmp";
    {
      std::ofstream out(temp, std::ios::trunc);
      out << askpass_script;
      if (!out) return problem::internal_error("writing " + temp.string());
    }
    fs::permissions(temp, fs::perms::owner_all, ec);
    fs::rename(temp, script, ec);
    if (ec) return problem::internal_error("installing " + script.string() + ": " + ec.message());
  }
  return script;
}

std::vector<std::string> environment(const fs::path& home, const fs::path& askpass, const credentials& auth) {
  const char* path = std::getenv("PATH");
  std::vector<std::string> env = {
      std::string("PATH=") + (path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin"),
      "HOME=" + home.string(),
      "XDG_CONFIG_HOME=" + home.string(),
      "LC_ALL=C",
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_CONFIG_GLOBAL=/dev/null",
      "GIT_TERMINAL_PROMPT=0",
      "GIT_ASKPASS=" + askpass.string(),
      "SSH_ASKPASS=" + askpass.string(),
      "GIT_SSH_COMMAND=ssh -o BatchMode=yes",
      "GIT_ALLOW_PROTOCOL=https:http:ssh:git:file",
      "GIT_PROTOCOL_FROM_USER=0",
  };
  if (!auth.username.empty() || !auth.password.empty()) {
    env.push_back("SC_GIT_USERNAME=" + auth.username);
    env.push_back("SC_GIT_PASSWORD=" + auth.password);
  }
  return env;
}

std::string scrub(std::string text, const credentials& auth) {
  for (const std::string* secret : {&auth.password}) {
    if (secret->empty()) continue;
    for (auto at = text.find(*secret); at != std::string::npos; at = text.find(*secret, at)) {
      text.replace(at, secret->size(), "[REDACTED]");
    }
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (text.size() > 1024) text.resize(1024);
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

struct runner {
  std::vector<std::string> env;
  credentials auth;
  std::chrono::milliseconds timeout;

  boost::asio::awaitable<result<std::string>> git(std::vector<std::string> args, std::string what) {
    process::spawn_request request;
    request.argv = {"git", "-c", "core.hooksPath=/dev/null", "-c", "credential.helper="};
    for (auto& a : args) request.argv.push_back(std::move(a));
    request.env = env;
    request.timeout = timeout;
    request.kill_grace = std::chrono::milliseconds(2000);
    request.max_output = std::size_t{64} * 1024;
    auto outcome = co_await process::run_process(std::move(request));
    if (!outcome) {
      problem p = outcome.error();
      p.detail = what + ": " + (p.detail.empty() ? std::string("could not run git") : p.detail);
      co_return p;
    }
    if (outcome->timed_out) {
      co_return problem::gateway_timeout(what + ": timed out after " + std::to_string(timeout.count() / 1000) + " s");
    }
    if (!outcome->ok()) {
      std::string reason = scrub(outcome->err.empty() ? outcome->out : outcome->err, auth);
      co_return problem(502,
                        what + ": " + (reason.empty() ? "exit status " + std::to_string(outcome->exit_code) : reason));
    }
    co_return outcome->out;
  }
};

}  // namespace

boost::asio::awaitable<result<void>> sync(std::string url, fs::path checkout, credentials auth, options opts) {
  auto askpass = prepare_home(opts.home);
  if (!askpass) co_return askpass.error();
  runner run{environment(opts.home, *askpass, auth), auth, opts.timeout};

  std::error_code ec;
  auto status = fs::symlink_status(checkout, ec);
  bool exists = !ec && fs::exists(status);
  if (exists && !fs::is_directory(status))
    co_return problem::internal_error(checkout.string() + " exists and is not a directory");
  bool has_repository = exists && fs::is_directory(checkout / ".git", ec);

  if (!has_repository) {
    // A leftover without .git (an interrupted clone from an older layout) is replaced.
    if (exists) fs::remove_all(checkout, ec);
    fs::path partial = checkout;
    partial += ".partial";
    fs::remove_all(partial, ec);
    fs::create_directories(checkout.parent_path(), ec);
    std::vector<std::string> clone_args = {"clone", "--quiet", "--no-recurse-submodules", "--", url, partial.string()};
    auto cloned = co_await run.git(std::move(clone_args), "git clone");
    if (!cloned) {
      fs::remove_all(partial, ec);
      co_return cloned.error();
    }
    fs::rename(partial, checkout, ec);
    if (ec) co_return problem::internal_error("moving the clone into place: " + ec.message());
    co_return result<void>{};
  }

  std::string dir = checkout.string();
  // The stored URL may have changed (a repository re-added under the same name).
  // Each step as (argv, what); built before the co_await (GCC 12 rejects braced lists inside one).
  std::vector<std::pair<std::vector<std::string>, std::string>> steps = {
      {{"-C", dir, "remote", "set-url", "origin", "--", url}, "git remote set-url"},
      {{"-C", dir, "fetch", "--quiet", "--prune", "origin"}, "git fetch"},
      {{"-C", dir, "reset", "--quiet", "--hard", "HEAD"}, "git reset"},
      {{"-C", dir, "merge", "--quiet", "--ff-only", "@{upstream}"}, "git fast-forward"},
  };
  for (auto& [args, what] : steps) {
    auto done = co_await run.git(std::move(args), what);
    if (!done) co_return done.error();
  }
  co_return result<void>{};
}

namespace {

// Every command on a seeded volume: both places named, and the volume (which the container owns,
// perhaps under another uid) trusted as a work tree only, never as a repository.
std::vector<std::string> seed_args(const fs::path& git_dir, const fs::path& work_tree, bool no_symlinks) {
  std::vector<std::string> args = {"-c",
                                   "safe.directory=" + work_tree.string(),
                                   "-c",
                                   "core.fsmonitor=false",
                                   "--git-dir=" + git_dir.string(),
                                   "--work-tree=" + work_tree.string()};
  if (no_symlinks) args.insert(args.begin(), {"-c", "core.symlinks=false"});
  return args;
}

}  // namespace

boost::asio::awaitable<result<void>> seed(std::string url, std::string branch, fs::path git_dir, fs::path work_tree,
                                          options opts) {
  auto askpass = prepare_home(opts.home);
  if (!askpass) co_return askpass.error();
  runner run{environment(opts.home, *askpass, {}), {}, opts.timeout};
  std::error_code ec;
  fs::remove_all(git_dir, ec);
  fs::create_directories(git_dir.parent_path(), ec);
  if (ec) co_return problem::internal_error("creating " + git_dir.parent_path().string() + ": " + ec.message());
  // The clone leaves a `.git` file (a pointer to git_dir) in the volume; it is removed at once:
  // later commands name git_dir themselves.
  std::vector<std::string> clone_args = {"-c",
                                         "safe.directory=" + work_tree.string(),
                                         "clone",
                                         "--quiet",
                                         "--no-recurse-submodules",
                                         "--separate-git-dir=" + git_dir.string()};
  if (opts.no_symlinks) {
    // Both for the clone's own checkout and, stored in the repository, for every later one.
    clone_args.insert(clone_args.begin(), {"-c", "core.symlinks=false"});
    clone_args.insert(clone_args.end(), {"--config", "core.symlinks=false"});
  }
  if (!branch.empty()) {
    clone_args.insert(clone_args.end(), {"--single-branch", "--branch", branch});
  }
  clone_args.insert(clone_args.end(), {"--", url, work_tree.string()});
  auto cloned = co_await run.git(std::move(clone_args), "git clone " + url);
  fs::remove(work_tree / ".git", ec);
  if (!cloned) {
    fs::remove_all(git_dir, ec);
    // What the clone checked out is removed; the volume root itself stays (it is a subvolume).
    for (const auto& entry : fs::directory_iterator(work_tree, ec)) fs::remove_all(entry.path(), ec);
    co_return cloned.error();
  }
  co_return result<void>{};
}

boost::asio::awaitable<result<void>> update_seed(std::string url, fs::path git_dir, fs::path work_tree, options opts) {
  std::error_code ec;
  if (!fs::is_directory(git_dir / "objects", ec)) {
    co_return problem::not_found("the volume " + work_tree.filename().string() +
                                 " was not seeded from git (it held data when it was installed)");
  }
  auto askpass = prepare_home(opts.home);
  if (!askpass) co_return askpass.error();
  runner run{environment(opts.home, *askpass, {}), {}, opts.timeout};
  // Each step as (argv, what); built before the co_await (GCC 12 rejects braced lists inside one).
  std::vector<std::pair<std::vector<std::string>, std::string>> steps = {
      {{"remote", "set-url", "origin", "--", url}, "git remote set-url"},
      {{"fetch", "--quiet", "--prune", "origin"}, "git fetch"},
      {{"merge", "--quiet", "--ff-only", "@{upstream}"}, "git fast-forward"},
  };
  for (auto& [args, what] : steps) {
    std::vector<std::string> argv = seed_args(git_dir, work_tree, opts.no_symlinks);
    argv.insert(argv.end(), args.begin(), args.end());
    auto done = co_await run.git(std::move(argv), what);
    if (!done) {
      problem p = done.error();
      // The volume's own edits are in the way, or the histories diverged: the client's to resolve.
      if (what == "git fast-forward" && p.status == 502) p.status = 409;
      co_return p;
    }
  }
  co_return result<void>{};
}

}  // namespace sc::git
