#include "tests/support/sandbox.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

namespace sc::test {

namespace {

std::map<std::string, std::string> read_env_file() {
  std::map<std::string, std::string> values;
  const char* dir = std::getenv("SC_SANDBOX_DIR");
  std::ifstream in(std::string(dir != nullptr ? dir : "/var/tmp/sc-sandbox") + "/env");
  std::string line;
  while (std::getline(in, line)) {
    // lines look like: export KEY='value'
    if (line.rfind("export ", 0) != 0) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(7, eq - 7);
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') value = value.substr(1, value.size() - 2);
    values[key] = value;
  }
  return values;
}

}  // namespace

std::string sandbox_env(const std::string& key) {
  if (const char* v = std::getenv(key.c_str()); v != nullptr && *v != '\0') return v;
  static std::once_flag once;
  static std::map<std::string, std::string> file_values;
  std::call_once(once, [] { file_values = read_env_file(); });
  auto it = file_values.find(key);
  if (it == file_values.end() || it->second.empty()) {
    ADD_FAILURE() << "sandbox variable " << key
                  << " is not set: the sandbox host is not up (run `tools/sandbox up`, or `tools/test`)";
    return {};
  }
  return it->second;
}

int take_sandbox_turn() {
  const std::string path = sandbox_env("SC_SANDBOX_DIR") + "/lifecycle-tests.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
    ADD_FAILURE() << "cannot lock " << path << ": " << std::strerror(errno);  // NOLINT(concurrency-mt-unsafe)
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return {};
  }
  return made;
}

std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

std::string qgroup_limit_of(const std::string& path) {
  std::string id = shell("btrfs inspect-internal rootid " + path + " 2>/dev/null");
  while (!id.empty() && id.back() == '\n') id.pop_back();
  std::string table = shell("btrfs qgroup show --raw -r " + path + " 2>/dev/null");
  std::size_t at = table.find("\n0/" + id + " ");
  if (id.empty() || at == std::string::npos) return "missing";
  std::string line = table.substr(at + 1, table.find('\n', at + 1) - at - 1);
  char qgroup[64], rfer[64], excl[64], max[64];
  if (std::sscanf(line.c_str(), "%63s %63s %63s %63s", qgroup, rfer, excl, max) != 4) return "unparsed";
  return max;
}

}  // namespace sc::test
