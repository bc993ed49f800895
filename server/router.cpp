#include "server/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace sc::server {

std::string_view to_string(auth_level level) noexcept {
  switch (level) {
    case auth_level::public_access:
      return "public";
    case auth_level::authenticated:
      return "authenticated";
    case auth_level::admin:
      return "admin";
    case auth_level::bootstrap_or_admin:
      return "bootstrap-or-admin";
    case auth_level::local_only:
      return "local";
    case auth_level::admin_or_metrics:
      return "admin-or-metrics";
  }
  return "unknown";
}

router::router(std::vector<route> routes) : routes_(std::move(routes)) {
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const route& r = routes_[i];
    if (r.fn == nullptr || r.path.empty() || r.path.front() != '/') {
      throw std::logic_error("route table: bad entry for " + std::string(r.path));
    }
    std::vector<std::size_t>* list = nullptr;
    if (r.path.ends_with(rest_of_path)) {
      const std::string_view prefix = r.path.substr(0, r.path.size() - rest_of_path.size());
      if (!prefix.ends_with('/')) throw std::logic_error("route table: a prefix route must end in /{path}");
      auto found = std::find_if(by_prefix_.begin(), by_prefix_.end(), [&](const auto& e) { return e.first == prefix; });
      if (found == by_prefix_.end()) found = by_prefix_.insert(by_prefix_.end(), {prefix, {}});
      list = &found->second;
    } else {
      list = &by_path_[r.path];
    }
    auto& indices = *list;
    for (std::size_t j : indices) {
      if (routes_[j].method == r.method) {
        throw std::logic_error("route table: duplicate route " + std::string(r.path));
      }
    }
    indices.push_back(i);
  }
  std::sort(by_prefix_.begin(), by_prefix_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

router::match router::find(http::verb method, std::string_view path) const {
  match m;
  const std::vector<std::size_t>* candidates = nullptr;
  if (auto it = by_path_.find(path); it != by_path_.end()) {
    candidates = &it->second;
  } else {
    for (const auto& [prefix, indices] : by_prefix_) {
      if (path.starts_with(prefix)) {
        candidates = &indices;
        break;
      }
    }
  }
  if (candidates == nullptr) {
    m.status = 404;
    return m;
  }
  http::verb wanted = method == http::verb::head ? http::verb::get : method;
  for (std::size_t i : *candidates) {
    if (routes_[i].method == wanted) {
      m.found = &routes_[i];
      m.index = i;
      return m;
    }
  }
  m.status = 405;
  for (std::size_t i : *candidates) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += std::string(boost::beast::http::to_string(routes_[i].method));
    if (routes_[i].method == http::verb::get) m.allow += ", HEAD";
  }
  return m;
}

const contract& contract_of(const route& r) {
  static const contract none{};
  return r.contract != nullptr ? r.contract() : none;
}

}  // namespace sc::server
