#include "server/router.hpp"

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
  }
  return "unknown";
}

router::router(std::vector<route> routes) : routes_(std::move(routes)) {
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const route& r = routes_[i];
    if (r.fn == nullptr || r.path.empty() || r.path.front() != '/') {
      throw std::logic_error("route table: bad entry for " + std::string(r.path));
    }
    auto& indices = by_path_[r.path];
    for (std::size_t j : indices) {
      if (routes_[j].method == r.method) {
        throw std::logic_error("route table: duplicate route " + std::string(r.path));
      }
    }
    indices.push_back(i);
  }
}

router::match router::find(http::verb method, std::string_view path) const {
  match m;
  auto it = by_path_.find(path);
  if (it == by_path_.end()) {
    m.status = 404;
    return m;
  }
  http::verb wanted = method == http::verb::head ? http::verb::get : method;
  for (std::size_t i : it->second) {
    if (routes_[i].method == wanted) {
      m.found = &routes_[i];
      m.index = i;
      return m;
    }
  }
  m.status = 405;
  for (std::size_t i : it->second) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += std::string(boost::beast::http::to_string(routes_[i].method));
    if (routes_[i].method == http::verb::get) m.allow += ", HEAD";
  }
  return m;
}

}  // namespace sc::server
