#include "tools/townctl/cli/run.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "adapters/archive/byte_pipe.hpp"
#include "adapters/archive/pack.hpp"
#include "core/defaults.hpp"
#include "core/json_writer.hpp"
#include "tools/townctl/cli/commands.hpp"
#include "tools/townctl/cli/render.hpp"
#include "tools/townctl/client/client.hpp"

namespace sc::townctl {

namespace fs = std::filesystem;
using client::api_error;
using client::blocking_client;

namespace {

struct globals {
  std::string socket;
  std::string url;
  bool json_output = false;
  bool help = false;
};

void out(std::string_view text) {
  std::cout << text;
  std::cout.flush();
}
void err(std::string_view text) {
  std::cerr << text;
}

bool stdout_terminal() {
  return ::isatty(STDOUT_FILENO) == 1;
}
bool stderr_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

int exit_for(const api_error& error) {
  switch (error.classify()) {
    case client::error_class::auth:
      return exit_auth;
    case client::error_class::not_found:
      return exit_not_found;
    case client::error_class::conflict:
      return exit_conflict;
    case client::error_class::unavailable:
      return exit_unavailable;
    case client::error_class::refused:
      break;
  }
  return exit_failed;
}

void print_journal(const std::vector<std::string>& journal) {
  if (journal.empty()) return;
  err("last log lines of the unit:\n");
  for (const auto& line : journal) err("  | " + line + "\n");
}

int fail(const api_error& error) {
  err("townctl: " + error.describe() + "\n");
  print_journal(error.journal);
  if (error.classify() == client::error_class::auth) {
    err("(over TCP, log in first: townctl --url URL login USER; over the Unix socket, run as root)\n");
  }
  return exit_for(error);
}

int usage(const std::string& message, std::string_view help_hint) {
  err("townctl: " + message + "\n(see townctl " + std::string(help_hint) + (help_hint.empty() ? "" : " ") +
      "--help)\n");
  return exit_usage;
}

// ---- credentials: ~/.config/townctl/credentials.json, {"http://host:port": "token"}, 0600

std::string config_dir() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/townctl";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/root") + "/.config/townctl";
}

// The file's JSON; null when there is none or it is not an object.
client::json_document read_credentials() {
  std::string path = config_dir() + "/credentials.json";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return {};
  std::string text;
  char buffer[4096];
  for (;;) {
    auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > std::size_t{1} << 20) break;
  }
  ::close(fd);
  auto parsed = client::json_document::parse(text);
  if (!parsed || !parsed->root().is_object()) return {};
  return std::move(*parsed);
}

// The token kept for `origin` ("" when none).
std::string token_of(const client::json_document& credentials, const std::string& origin) {
  simdjson::dom::object tokens;
  if (credentials.root().get(tokens) != simdjson::SUCCESS) return {};
  return client::string_member(tokens, origin);
}

// `credentials` with the token of `origin` set to `token`, or taken out when it is nullopt; the
// other members as they were read. Taken out, its place goes to the last member: Boost.JSON's
// erase did that, and the file keeps the order townctl wrote before.
std::string credentials_text(const client::json_document& credentials, const std::string& origin,
                             const std::optional<std::string>& token) {
  std::vector<std::pair<std::string, std::string>> tokens;  // each member's key and JSON text
  simdjson::dom::object kept;
  if (credentials.root().get(kept) == simdjson::SUCCESS) {
    for (const auto& [key, value] : client::members(kept)) tokens.emplace_back(key, client::json_text(value));
  }
  auto found =
      std::find_if(tokens.begin(), tokens.end(), [&origin](const auto& member) { return member.first == origin; });
  if (token) {
    std::string text;
    append_json_string(text, *token);
    if (found == tokens.end()) {
      tokens.emplace_back(origin, std::move(text));
    } else {
      found->second = std::move(text);
    }
  } else if (found != tokens.end()) {
    if (found != tokens.end() - 1) *found = std::move(tokens.back());
    tokens.pop_back();
  }
  return json_string([&tokens](json_writer& writer) {
    writer.begin_object();
    for (const auto& [key, text] : tokens) writer.key(key).raw(text);
    writer.end_object();
  });
}

// Written to a 0600 temp file in the same 0700 directory, then renamed over the old one: the token
// is never readable by others, not even for a moment, and a crash leaves the old file whole.
bool write_credentials(const std::string& credentials) {
  std::string dir = config_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  std::string path = dir + "/credentials.json";
  std::string temp = path + ".tmp" + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return false;
  std::string text = credentials + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (ok) ok = ::rename(temp.c_str(), path.c_str()) == 0;
  if (!ok) ::unlink(temp.c_str());
  return ok;
}

// A secret from the terminal without echo, or one line of stdin when it is not a terminal. Never
// from argv (visible in ps and shell history).
std::optional<std::string> read_secret(const std::string& prompt) {
  std::string value;
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (::isatty(STDIN_FILENO) == 1 && tty >= 0) {
    termios saved{};
    ::tcgetattr(tty, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
    [[maybe_unused]] auto written = ::write(tty, prompt.data(), prompt.size());
    char c = 0;
    while (::read(tty, &c, 1) == 1 && c != '\n') value += c;
    ::tcsetattr(tty, TCSAFLUSH, &saved);
    written = ::write(tty, "\n", 1);
    ::close(tty);
    return value;
  }
  if (tty >= 0) ::close(tty);
  if (!std::getline(std::cin, value)) return std::nullopt;
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

// ---- answers

int print_answer(const client::reply& answer, const command& c, const globals& g) {
  if (answer.body.empty()) return exit_ok;
  bool is_json = answer.content_type.find("json") != std::string::npos;
  if (g.json_output || !is_json) {
    out(answer.body);
    if (answer.body.back() != '\n' && (is_json || stdout_terminal())) out("\n");
    return exit_ok;
  }
  auto parsed = client::json_document::parse(answer.body);
  if (!parsed) {
    out(answer.body + "\n");
    return exit_ok;
  }
  out(render_human(parsed->root(), c.columns));
  return exit_ok;
}

int run_request(blocking_client& controller, const command& c, const parsed_args& args, const globals& g) {
  client::request what;
  what.method = std::string(c.method);
  what.target = target_of(c.path, args.query);
  if (c.method != "GET") what.body = args.body.json();
  auto answer = client::as_result(controller.send(std::move(what)));
  if (!answer) return fail(answer.error());
  return print_answer(*answer, c, g);
}

int run_raw_call(blocking_client& controller, const command& c, const parsed_args& args, const globals& g) {
  auto member = [&args](std::string_view key) { return args.body.string_member(key).value_or(std::string()); };
  client::request what;
  what.method = member("method");
  for (auto& ch : what.method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  what.target = member("path");
  if (what.target.empty() || what.target.front() != '/') return usage("the path must start with '/'", "call");
  what.body = member("json");
  if (what.body == "-") {
    what.body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (what.body.empty() && what.method == "POST") what.body = "{}";
  auto answer = client::as_result(controller.send(std::move(what)));
  if (!answer) return fail(answer.error());
  return print_answer(*answer, c, g);
}

int run_progress(blocking_client& controller, const command& c, const parsed_args& args, const globals& g) {
  client::request what;
  what.method = "POST";
  what.target = std::string(c.path);
  what.body = args.body.json();
  what.accept = "text/event-stream";
  bool terminal = stdout_terminal() && !g.json_output;
  std::size_t total = expected_steps(c.name);
  std::size_t index = 0;
  bool done = false;
  bool rolled_back = false;
  std::optional<client::install_step> failure;
  client::sse_parser parser;
  auto streamed = controller.events(std::move(what), parser, [&](const client::sse_event& event) {
    if (g.json_output) out(event.data + "\n");
    auto step = client::to_install_step(event.data);
    if (step.done) {
      done = true;
      return true;
    }
    if (!step.error.empty()) {
      failure = std::move(step);
      return true;
    }
    if (step.step == "rolled_back") {
      rolled_back = true;
      if (!g.json_output) {
        if (terminal) out("\n");
        err("rolled back: " + step.reason + "\n");
        print_journal(step.journal);
      }
      return true;
    }
    if (!g.json_output && !step.step.empty()) out(step_line(++index, total, step.step, terminal));
    return true;
  });
  if (terminal && index > 0 && !g.json_output) out("\n");
  if (!streamed) return fail(streamed.error());
  if (failure) {
    if (!g.json_output) {
      err("townctl: " + c.display_name() + " failed: " + failure->error + "\n");
      // After a rollback the same lines were shown with it.
      if (!rolled_back) print_journal(failure->journal);
      if (rolled_back) err("the previous version was restored and runs as before\n");
    }
    return exit_unavailable;
  }
  if (!done) {
    err("townctl: the progress stream ended before the operation did (it goes on in the controller)\n");
    return exit_unavailable;
  }
  if (!g.json_output) {
    std::string what_done = rolled_back ? "finished (rolled back)" : "done";
    out(std::string(c.name) + ": " + what_done + "\n");
  }
  return rolled_back ? exit_failed : exit_ok;
}

int run_logs(blocking_client& controller, const command& c, const parsed_args& args, const globals& g) {
  bool follow = args.local.contains("follow");
  if (!follow) {
    client::request what;
    what.target = target_of(c.path, args.query);
    auto answer = client::as_result(controller.send(std::move(what)));
    if (!answer) return fail(answer.error());
    if (g.json_output) return print_answer(*answer, c, g);
    auto parsed = client::json_document::parse(answer->body);
    simdjson::dom::object envelope;
    if (!parsed || parsed->root().get(envelope) != simdjson::SUCCESS) return print_answer(*answer, c, g);
    simdjson::dom::array entries;
    if (auto found = client::find_member(envelope, "entries"); found && found->get(entries) == simdjson::SUCCESS) {
      for (simdjson::dom::element entry : entries) out(journal_line(entry));
    }
    return exit_ok;
  }
  // The live stream takes `unit` and `lines`; after a reconnect Last-Event-ID (the cursor of the
  // last entry printed) wins over `lines`, so nothing is shown twice and nothing is skipped.
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [key, value] : args.query) {
    if (key == "unit" || key == "lines") query.emplace_back(key, value);
  }
  std::string target = target_of(c.also_path, query);
  std::string last_id;
  auto backoff = std::chrono::milliseconds(100);
  bool announced = false;
  bool connected_once = false;
  for (;;) {
    client::request what;
    what.target = target;
    what.accept = "text/event-stream";
    what.last_event_id = last_id;
    client::sse_parser parser;
    bool received = false;
    auto streamed = controller.events(std::move(what), parser, [&](const client::sse_event& event) {
      received = true;
      if (!event.id.empty()) last_id = event.id;
      if (g.json_output) {
        out(event.data + "\n");
        return true;
      }
      auto entry = client::json_document::parse(event.data);
      out(entry ? journal_line(entry->root()) : event.data + "\n");
      return true;
    });
    if (!streamed) {
      const auto& error = streamed.error();
      // A refusal (unknown unit, no permission) is final, and so is a server that was never
      // there; an outage after the stream was up is waited out.
      if (error.status != 0 && error.status < 500) return fail(error);
      if (!connected_once && !received) return fail(error);
    }
    connected_once = true;
    if (received) {
      backoff = std::chrono::milliseconds(100);
      announced = false;
    }
    if (!announced) {
      err("townctl: log stream interrupted; reconnecting\n");
      announced = true;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

// The file `path` as a stream of up to 256 KiB pieces.
std::function<std::optional<std::string>()> file_reader(int fd) {
  return [fd]() -> std::optional<std::string> {
    std::string piece(std::size_t{256} * 1024, '\0');
    auto n = ::read(fd, piece.data(), piece.size());
    if (n < 0) return std::nullopt;
    piece.resize(static_cast<std::size_t>(n));
    return piece;
  };
}

// A directory packed as tar.gz into an unlinked temp file (the controller takes uploads with a
// Content-Length only, so the size must be known before the first byte is sent). Reuses the
// server's packer (adapters/archive/pack.hpp): symlinks stored, never followed.
int pack_directory(const std::string& directory, bool terminal) {
  int root = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return -1;
  const char* tmpdir = std::getenv("TMPDIR");
  int temp = ::open(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (temp < 0) {
    ::close(root);
    return -1;
  }
  boost::asio::io_context unused_loop;  // the pipe's loop side is not used: both ends are threads
  auto pipe = std::make_shared<archive::byte_pipe>(unused_loop.get_executor(), 16);
  result<archive::pack_report> packed = problem::internal_error("not run");
  std::thread packer([&packed, &pipe, root] {
    packed = archive::pack(*pipe, root, {"."}, storage::archive_format::tar_gz, std::chrono::seconds(60));
  });
  std::uint64_t written = 0;
  bool ok = true;
  for (;;) {
    auto chunk = pipe->pop_blocking(std::chrono::steady_clock::now() + std::chrono::seconds(60));
    if (!chunk) break;
    if (::write(temp, chunk->data(), chunk->size()) != static_cast<ssize_t>(chunk->size())) {
      ok = false;
      pipe->close_consumer();
      break;
    }
    written += chunk->size();
    if (terminal) err("\rpacking " + directory + ": " + human_bytes(written) + "\x1b[K");
  }
  packer.join();
  if (terminal) err("\n");
  ::close(root);
  if (!ok || !packed || pipe->producer_aborted()) {
    if (!packed) err("townctl: packing " + directory + ": " + packed.error().detail + "\n");
    ::close(temp);
    return -1;
  }
  ::lseek(temp, 0, SEEK_SET);
  return temp;
}

int run_upload(blocking_client& controller, const command& c, const parsed_args& args, const globals& g) {
  std::string source = args.local.at("source");
  struct stat info {};
  if (::stat(source.c_str(), &info) != 0) return usage("cannot read " + source, c.display_name());
  bool terminal = stderr_terminal();
  int fd = -1;
  std::string filename = fs::path(source).filename().string();
  if (S_ISDIR(info.st_mode)) {
    fd = pack_directory(source, terminal);
    filename = (filename.empty() || filename == "." ? std::string("upload") : filename) + ".tar.gz";
  } else {
    fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    err("townctl: cannot read " + source + "\n");
    return exit_failed;
  }
  struct stat packed {};
  ::fstat(fd, &packed);
  auto size = static_cast<std::uint64_t>(packed.st_size);

  std::random_device random;
  std::string boundary = "townctl-" + std::to_string(random()) + std::to_string(random());
  std::string head;
  for (const auto& [name, value] : args.body.string_members()) {
    head += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  }
  std::string quoted;
  for (char ch : filename) quoted += (ch == '"' || ch == '\\' || ch == '\r' || ch == '\n') ? '_' : ch;
  head += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"" + quoted +
          "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
  std::string tail = "\r\n--" + boundary + "--\r\n";

  client::body_source body;
  body.length = head.size() + size + tail.size();
  auto file = file_reader(fd);
  int stage = 0;
  body.next = [&stage, &head, &tail, &file]() -> std::optional<std::string> {
    if (stage == 0) {
      stage = 1;
      return head;
    }
    if (stage == 1) {
      auto piece = file();
      if (!piece) return std::nullopt;
      if (!piece->empty()) return piece;
      stage = 2;
      return tail;
    }
    return std::string();
  };
  auto started = std::chrono::steady_clock::now();
  auto last_shown = started;
  int last_decile = -1;
  body.progress = [&](std::uint64_t sent) {
    auto now = std::chrono::steady_clock::now();
    if (terminal) {
      if (now - last_shown < std::chrono::milliseconds(100) && sent != body.length) return;
      last_shown = now;
      err(transfer_line(sent, body.length, now - started, true));
      return;
    }
    int decile = static_cast<int>(sent * 10 / std::max<std::uint64_t>(body.length, 1));
    if (decile != last_decile) {
      last_decile = decile;
      err(transfer_line(sent, body.length, now - started, false));
    }
  };
  client::request what;
  what.method = "POST";
  what.target = std::string(c.path);
  what.content_type = "multipart/form-data; boundary=" + boundary;
  auto answer = client::as_result(controller.upload(std::move(what), std::move(body)));
  ::close(fd);
  if (terminal) err("\n");
  if (!answer) return fail(answer.error());
  return print_answer(*answer, c, g);
}

int run_download(blocking_client& controller, const command& c, const parsed_args& args, const globals& /*g*/) {
  int fd = STDOUT_FILENO;
  auto output = args.local.find("output");
  if (output == args.local.end() || output->second == "-") {
    if (stdout_terminal()) return usage("refusing to write an archive to a terminal: use -o FILE", c.display_name());
  } else {
    fd = ::open(output->second.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      err("townctl: cannot write " + output->second + "\n");
      return exit_failed;
    }
  }
  client::request what;
  what.method = "POST";
  what.target = std::string(c.path);
  what.body = args.body.json();
  what.accept = "*/*";
  bool terminal = stderr_terminal();
  std::uint64_t received = 0;
  bool write_failed = false;
  auto started = std::chrono::steady_clock::now();
  auto streamed = controller.receive(std::move(what), {}, [&](std::string_view bytes) {
    std::size_t offset = 0;
    while (offset < bytes.size()) {
      auto n = ::write(fd, bytes.data() + offset, bytes.size() - offset);
      if (n <= 0) {
        write_failed = true;
        return false;
      }
      offset += static_cast<std::size_t>(n);
    }
    received += bytes.size();
    if (terminal) {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      err("\r" + human_bytes(received) + "  " +
          human_bytes(seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(received) / seconds) : 0) +
          "/s\x1b[K");
    }
    return true;
  });
  if (terminal) err("\n");
  if (fd != STDOUT_FILENO) ::close(fd);
  if (!streamed) return fail(streamed.error());
  if (write_failed) {
    err("townctl: writing the archive failed\n");
    return exit_failed;
  }
  return exit_ok;
}

int run_login(blocking_client& controller, const parsed_args& args, const globals& g) {
  if (!controller.where().is_tcp()) {
    err("townctl: login is for TCP (--url http://HOST:PORT); on the Unix socket root is the local administrator\n");
    return exit_usage;
  }
  std::string username = args.body.string_member("username").value_or(std::string());
  auto password = read_secret("Password for " + username + ": ");
  if (!password) return usage("no password on stdin", "login");
  auto session = controller.authenticate(username, *password);
  if (!session) return fail(session.error());
  auto credentials = read_credentials();
  if (!write_credentials(credentials_text(credentials, controller.where().describe(), session->token))) {
    err("townctl: cannot write " + config_dir() + "/credentials.json\n");
    return exit_failed;
  }
  if (!g.json_output) out("logged in as " + username + " at " + controller.where().describe() + "\n");
  return exit_ok;
}

int run_logout(const client::endpoint& where) {
  auto credentials = read_credentials();
  simdjson::dom::object tokens;
  if (credentials.root().get(tokens) != simdjson::SUCCESS || !client::find_member(tokens, where.describe())) {
    return exit_ok;
  }
  if (!write_credentials(credentials_text(credentials, where.describe(), std::nullopt))) {
    err("townctl: cannot write " + config_dir() + "/credentials.json\n");
    return exit_failed;
  }
  return exit_ok;
}

// Global options may appear anywhere; they are taken out of `words`.
std::optional<std::string> take_globals(std::vector<std::string>& words, globals& g) {
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    auto value_of = [&](std::string_view flag, std::string& into) -> std::optional<std::string> {
      if (w == flag) {
        if (i + 1 >= words.size()) return std::string(flag) + " needs a value";
        into = words[++i];
        return std::string();
      }
      std::string prefix = std::string(flag) + "=";
      if (w.rfind(prefix, 0) == 0) {
        into = w.substr(prefix.size());
        return std::string();
      }
      return std::nullopt;
    };
    if (auto r = value_of("--socket", g.socket)) {
      if (!r->empty()) return r;
      continue;
    }
    if (auto r = value_of("--url", g.url)) {
      if (!r->empty()) return r;
      continue;
    }
    if (w == "--json") {
      g.json_output = true;
      continue;
    }
    rest.push_back(w);
  }
  words = std::move(rest);
  return std::nullopt;
}

}  // namespace

int run(int argc, const char* const* argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  globals g;
  if (auto error = take_globals(words, g)) return usage(*error, "");
  if (words.empty()) {
    err(overview_help());
    return exit_usage;
  }
  if (words.front() == "--help" || words.front() == "-h" || words.front() == "help") {
    out(overview_help());
    return exit_ok;
  }
  const std::string group = words.front();
  auto members = commands_of(group);
  if (members.empty()) return usage("unknown command '" + group + "'", "");
  const command* chosen = nullptr;
  std::size_t consumed = 1;
  if (members.size() == 1 && members.front()->name.empty()) {
    chosen = members.front();
  } else {
    if (words.size() < 2 || words[1] == "--help" || words[1] == "-h") {
      bool asked = words.size() >= 2;
      (asked ? std::cout : std::cerr) << group_usage(group);
      return asked ? exit_ok : exit_usage;
    }
    for (const auto* c : members) {
      if (c->name == words[1]) chosen = c;
    }
    if (chosen == nullptr) return usage("unknown command '" + group + " " + words[1] + "'", group);
    consumed = 2;
  }
  std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(consumed), words.end());
  parsed_args args;
  if (auto error = parse_arguments(*chosen, rest, args)) return usage(error->message, chosen->display_name());
  if (args.help) {
    out(command_usage(*chosen));
    return exit_ok;
  }
  if (chosen->kind == action::completion) {
    out(bash_completion());
    return exit_ok;
  }

  client::endpoint where;
  if (g.url.empty()) {
    if (const char* env = std::getenv("TOWNCTL_URL"); env != nullptr && *env != '\0') g.url = env;
  }
  if (!g.url.empty()) {
    auto parsed = client::endpoint::from_url(g.url);
    if (!parsed) return usage(parsed.error().detail, "");
    where = std::move(*parsed);
    if (chosen->kind != action::login) {
      where.token = token_of(read_credentials(), where.describe());
    }
  } else {
    std::string socket = g.socket;
    if (socket.empty()) {
      const char* env = std::getenv("TOWNCTL_SOCKET");
      socket = env != nullptr && *env != '\0' ? env : defaults::socket_path;
    }
    where = client::endpoint::unix_socket(socket);
  }
  if (chosen->kind == action::logout) return run_logout(where);

  for (const auto& name : args.secrets) {
    auto secret = read_secret(std::string(name == "fields.password" ? "New password" : "Password") + ": ");
    if (!secret) return usage("no " + name + " on stdin", chosen->display_name());
    args.body.set_string(name, *secret);
  }

  blocking_client controller(where);
  switch (chosen->kind) {
    case action::request:
      return run_request(controller, *chosen, args, g);
    case action::progress:
      return run_progress(controller, *chosen, args, g);
    case action::logs:
      return run_logs(controller, *chosen, args, g);
    case action::upload:
      return run_upload(controller, *chosen, args, g);
    case action::download:
      return run_download(controller, *chosen, args, g);
    case action::login:
      return run_login(controller, args, g);
    case action::raw_call:
      return run_raw_call(controller, *chosen, args, g);
    case action::logout:
    case action::completion:
      break;
  }
  return exit_ok;
}

}  // namespace sc::townctl
