#include "tests/support/sandbox.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
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

std::string make_temp_dir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return {};
  }
  return made;
}

}  // namespace sc::test
