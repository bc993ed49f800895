#pragma once
// A deliberately dumb blocking HTTP/1.1 client for tests: raw bytes in, parsed replies out, so
// tests can also send malformed, slow, pipelined or oversized requests. Every read has a deadline.

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace sc::test {

struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const;
};

class raw_connection {
 public:
  static raw_connection tcp(unsigned short port);
  static raw_connection unix_socket(const std::string& path);
  raw_connection(raw_connection&& other) noexcept;
  ~raw_connection();

  bool connected() const noexcept { return fd_ >= 0; }
  // Writes all of `bytes` (false if the peer closed).
  bool send(const std::string& bytes);
  // Reads one response (Content-Length, chunked, or until close). nullopt on timeout or close.
  // `head_request`: the reply has headers only, whatever its Content-Length says.
  std::optional<http_reply> read_reply(std::chrono::milliseconds deadline = std::chrono::seconds(10),
                                       bool head_request = false);
  // True when the peer closes the connection within `deadline` (reads and discards anything sent).
  bool closed_by_peer(std::chrono::milliseconds deadline);
  // Raw bytes available within `deadline` (for SSE streams), appended to the internal buffer.
  std::string read_some(std::chrono::milliseconds deadline);
  int fd() const noexcept { return fd_; }

 private:
  explicit raw_connection(int fd) : fd_(fd) {}
  bool fill(std::chrono::steady_clock::time_point until);
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
http_reply request(unsigned short port, const std::string& method, const std::string& target,
                   const std::string& body = {}, const std::map<std::string, std::string>& headers = {});
http_reply request_unix(const std::string& socket_path, const std::string& method, const std::string& target,
                        const std::string& body = {}, const std::map<std::string, std::string>& headers = {});
// The same with a deadline for the reply, and no test failure when there is no reply (status 0):
// for suites that call their server over its Unix socket, also while it may be restarting.
http_reply try_request_unix(const std::string& socket_path, const std::string& method, const std::string& target,
                            const std::string& body = {}, std::chrono::milliseconds deadline = std::chrono::seconds(30),
                            const std::map<std::string, std::string>& headers = {});
std::string format_request(const std::string& method, const std::string& target, const std::string& body,
                           const std::map<std::string, std::string>& headers, bool keep_alive = false);

// On a fresh server: creates the first account ("admin", an administrator) and logs it in.
// Returns the session token; fails the current test and returns "" when either step fails.
std::string bootstrap_admin(unsigned short port);

}  // namespace sc::test
