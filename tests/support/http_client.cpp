#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "tests/support/contract.hpp"

namespace sc::test {

std::string http_reply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

raw_connection raw_connection::tcp(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return raw_connection(-1);
  }
  return raw_connection(fd);
}

raw_connection raw_connection::unix_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return raw_connection(-1);
  }
  return raw_connection(fd);
}

raw_connection::raw_connection(raw_connection&& other) noexcept : fd_(other.fd_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
}

raw_connection::~raw_connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_connection::send(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool raw_connection::fill(std::chrono::steady_clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::string raw_connection::read_some(std::chrono::milliseconds deadline) {
  fill(std::chrono::steady_clock::now() + deadline);
  std::string out = std::move(buffer_);
  buffer_.clear();
  return out;
}

bool raw_connection::closed_by_peer(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return true;
  }
  return false;
}

std::optional<http_reply> raw_connection::read_reply(std::chrono::milliseconds deadline, bool head_request) {
  auto until = std::chrono::steady_clock::now() + deadline;
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(until)) return std::nullopt;
  }
  http_reply reply;
  std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return std::nullopt;
  reply.status = std::stoi(status_line.substr(9, 3));
  std::size_t at = line_end == std::string::npos ? head.size() : line_end + 2;
  while (at < head.size()) {
    std::size_t next = head.find("\r\n", at);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(at, next - at);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      reply.headers[name] = value;
    }
    at = next + 2;
  }
  if (reply.status == 100) return read_reply(deadline, head_request);
  if (head_request) return reply;
  if (reply.headers.count("content-length") != 0) {
    std::size_t length = std::stoul(reply.headers["content-length"]);
    while (buffer_.size() < length) {
      if (!fill(until)) return std::nullopt;
    }
    reply.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
  } else if (reply.header("transfer-encoding") == "chunked") {
    for (;;) {
      std::size_t size_end;
      while ((size_end = buffer_.find("\r\n")) == std::string::npos) {
        if (!fill(until)) return std::nullopt;
      }
      std::size_t size = std::stoul(buffer_.substr(0, size_end), nullptr, 16);
      while (buffer_.size() < size_end + 2 + size + 2) {
        if (!fill(until)) return std::nullopt;
      }
      reply.body += buffer_.substr(size_end + 2, size);
      buffer_.erase(0, size_end + 2 + size + 2);
      if (size == 0) break;
    }
  } else if (reply.status != 204 && reply.status != 304) {
    while (fill(until)) {
    }
    reply.body = std::move(buffer_);
    buffer_.clear();
  }
  return reply;
}

std::string format_request(const std::string& method, const std::string& target, const std::string& body,
                           const std::map<std::string, std::string>& headers, bool keep_alive) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST") out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

namespace {

http_reply exchange(raw_connection connection, const std::string& bytes) {
  if (!connection.connected()) {
    ADD_FAILURE() << "cannot connect to the server";
    return {};
  }
  if (!connection.send(bytes)) {
    ADD_FAILURE() << "cannot send the request";
    return {};
  }
  auto reply = connection.read_reply();
  if (!reply) {
    ADD_FAILURE() << "no reply within the deadline";
    return {};
  }
  return *reply;
}

// The server's OpenAPI document, which check_contract validates replies against.
http_reply openapi_document(raw_connection connection) {
  if (!connection.connected() || !connection.send(format_request("GET", "/openapi.json", {}, {}))) return {};
  auto reply = connection.read_reply();
  return reply ? *reply : http_reply{};
}

}  // namespace

http_reply request(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers) {
  http_reply reply = exchange(raw_connection::tcp(port), format_request(method, target, body, headers));
  check_contract(method, target, reply, [port] { return openapi_document(raw_connection::tcp(port)); });
  return reply;
}

http_reply request_unix(const std::string& socket_path, const std::string& method, const std::string& target,
                        const std::string& body, const std::map<std::string, std::string>& headers) {
  http_reply reply = exchange(raw_connection::unix_socket(socket_path), format_request(method, target, body, headers));
  check_contract(method, target, reply,
                 [&socket_path] { return openapi_document(raw_connection::unix_socket(socket_path)); });
  return reply;
}

http_reply try_request_unix(const std::string& socket_path, const std::string& method, const std::string& target,
                            const std::string& body, std::chrono::milliseconds deadline,
                            const std::map<std::string, std::string>& headers) {
  auto connection = raw_connection::unix_socket(socket_path);
  if (!connection.connected() || !connection.send(format_request(method, target, body, headers))) return {};
  auto reply = connection.read_reply(deadline);
  if (!reply) return {};
  check_contract(method, target, *reply,
                 [&socket_path] { return openapi_document(raw_connection::unix_socket(socket_path)); });
  return *reply;
}

std::string bootstrap_admin(unsigned short port) {
  auto created = request(port, "POST", "/account/create",
                         R"({"username":"admin","password":"correct-horse","email":"a@example.com",)"
                         R"("phone":"555 0100","real_name":"Ada Admin","admin":true})");
  EXPECT_EQ(created.status, 200) << created.body;
  auto reply = request(port, "POST", "/account/authenticate", R"({"username":"admin","password":"correct-horse"})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  const std::string key = R"("token":")";
  auto at = reply.body.find(key);
  if (created.status != 200 || reply.status != 200 || at == std::string::npos) return {};
  at += key.size();
  return reply.body.substr(at, reply.body.find('"', at) - at);
}

}  // namespace sc::test
