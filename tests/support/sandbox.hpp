#pragma once
// Access to the sandbox host (tools/sandbox) from tests. Tests of real parts call `sandbox_env`;
// when the sandbox is not up it fails the test loudly (never skips): run `tools/sandbox up` or
// `tools/test`, which does it for you.

#include <string>

namespace sc::test {

// The value of an exported sandbox variable (e.g. "SC_BUS_ADDRESS"): from the process environment
// if set, else from "$SC_SANDBOX_DIR/env" (default /var/tmp/sc-sandbox/env). Fails the current
// test with a clear message and returns "" when missing.
std::string sandbox_env(const std::string& key);

// Takes this process's turn on the sandbox's one podman and user manager (an exclusive flock on
// "$SC_SANDBOX_DIR/lifecycle-tests.lock", held until the returned fd is closed): the tests that
// install packages or run system services take turns. -1, with the test failed, when it cannot.
int take_sandbox_turn();

// A fresh empty directory under /tmp, removed by the caller (or left for post-mortem).
std::string make_temp_dir(const std::string& prefix);

// The standard output of a shell command run by the test itself (inspecting the sandbox with the
// real tools, e.g. `btrfs qgroup show`); "" when it cannot run.
std::string shell(const std::string& command);

// The max_rfer column of `btrfs qgroup show` for the subvolume at `path`: a byte count, "none"
// when unlimited, "missing"/"unparsed" when the table has no usable row for it.
std::string qgroup_limit_of(const std::string& path);

}  // namespace sc::test
