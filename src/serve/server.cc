// Each connection gets its own thread and its own io_context: handlers block
// (a create boots a VM, a stop waits out a grace), and a thread per
// connection, bounded by max_connections, keeps them from holding up anyone
// else. I/O is still asynchronous inside that io_context, so every read and
// write has a deadline (basic_stream's expiry) and shutdown can cancel an
// idle read from another thread by posting to it.
#include "serve/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/inet.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "base/unix_socket.h"
#include "serve/auth.h"
#include "serve/errors.h"
#include "serve/request_parse.h"

namespace krunbox::serve {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // From any thread: end the connection if it is between requests.
  virtual void request_stop() = 0;
};

// What every connection shares: options, the count and the shutdown flag.
struct Shared {
  explicit Shared(const ServerOptions& o) : options(o) {}
  const ServerOptions options;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable idle;
  size_t count = 0;  // accepted and not yet ended, registered or not
  std::list<std::shared_ptr<ConnectionBase>> live;
};

void log_request(const Listener& listener, std::string_view method, std::string_view path, int status,
                 std::chrono::steady_clock::time_point start) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  // The native API's lines carry no prefix; the other APIs' name theirs.
  if (listener.name.empty() || listener.name == "api")
    KB_INFO("{} {} {} {}ms", method, path, status, ms);
  else
    KB_INFO("{}: {} {} {} {}ms", listener.name, method, path, status, ms);
}

template <typename Protocol>
class Connection : public ConnectionBase {
 public:
  Connection(Shared& shared, const Listener& listener, Protocol protocol, int fd)
      : shared_(shared), listener_(listener), stream_(ioc_) {
    error_code ec;
    stream_.socket().assign(protocol, fd, ec);
    if constexpr (std::is_same_v<Protocol, net::ip::tcp>) stream_.socket().set_option(net::ip::tcp::no_delay(true), ec);
  }

  void request_stop() override {
    net::post(ioc_, [this] {
      if (idle_) stream_.cancel();
    });
  }

  void run() {
    beast::flat_buffer buffer;
    while (!shared_.stopping.load()) {
      if (!serve_one(buffer)) break;
    }
    error_code ec;
    stream_.socket().shutdown(net::socket_base::shutdown_send, ec);
    stream_.close();
  }

 private:
  // Runs one asynchronous operation to completion on this thread.
  template <typename Start>
  error_code run_op(Start&& start) {
    error_code result = net::error::operation_aborted;
    bool done = false;
    start([&](error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    ioc_.restart();
    while (!done && ioc_.run_one() > 0) {
    }
    return result;
  }

  // Reads and answers one request; false when the connection should end.
  bool serve_one(beast::flat_buffer& buffer) {
    const ServerOptions& o = shared_.options;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    // The route decides the body's limit once the header is in.
    parser.body_limit(boost::none);
    idle_ = true;
    stream_.expires_after(o.header_timeout);
    error_code ec = run_op([&](auto h) { http::async_read_header(stream_, buffer, parser, h); });
    idle_ = false;
    auto start = std::chrono::steady_clock::now();
    if (ec) {
      bool quiet = ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
                   ec == net::error::connection_reset || !parser.got_some();
      if (quiet) return false;
      if (ec == http::error::header_limit) {
        reply_error(431, "header_too_large",
                    "the request header is over " + std::to_string(o.max_header_bytes) + " bytes", start);
      } else if (ec == beast::error::timeout) {
        // The stream is closed by the expiry; there is no one to answer.
        log_request(listener_, "-", "-", 408, start);
      } else {
        reply_error(400, "bad_request", "the request is not valid HTTP/1.1: " + ec.message(), start);
      }
      return false;
    }
    auto& head = parser.get();
    HttpRequest req;
    req.method = std::string(head.method_string());
    std::string_view target = head.target();
    size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    req.accept = std::string(head[http::field::accept]);
    for (const auto& field : head) req.headers.emplace_back(field.name_string(), field.value());
    method_ = req.method;
    path_ = req.path;

    // An answer before the body is read leaves its bytes on the wire, so
    // these end the connection.
    if (!listener_.bearer_token.empty() && !bearer_matches(head[http::field::authorization], listener_.bearer_token)) {
      reply_error(401, "unauthorized", "this listener needs Authorization: Bearer <token> (the --token-file's)", start,
                  {{"WWW-Authenticate", "Bearer"}});
      return false;
    }
    Handler& handler = *listener_.handler;
    size_t limit = handler.body_limit(req.method, req.path);
    if (auto length = parser.content_length(); length && *length > limit) {
      reply_error(413, "body_too_large", "the request body is over " + std::to_string(limit) + " bytes", start);
      return false;
    }
    parser.body_limit(limit);
    bool streamed_body = !parser.is_done() && handler.streams_body(req.method, req.path);
    if (!parser.is_done()) {
      if (beast::iequals(head[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, head.version()};
        stream_.expires_after(o.write_timeout);
        if (run_op([&](auto h) { http::async_write(stream_, cont, h); })) return false;
      }
    }
    if (!parser.is_done() && !streamed_body) {
      stream_.expires_after(o.body_timeout);
      ec = run_op([&](auto h) { http::async_read(stream_, buffer, parser, h); });
      if (ec == http::error::body_limit) {
        reply_error(413, "body_too_large", "the request body is over " + std::to_string(limit) + " bytes", start);
        return false;
      }
      if (ec) {
        if (ec != beast::error::timeout)
          reply_error(400, "bad_request", "reading the request body: " + ec.message(), start);
        else
          log_request(listener_, req.method, req.path, 408, start);
        return false;
      }
    }
    bool keep_alive = parser.get().keep_alive();
    unsigned version = parser.get().version();
    // A streamed body is read by the handler, through a parser that writes
    // straight into the handler's buffer.
    std::optional<http::request_parser<http::buffer_body>> body_parser;
    if (streamed_body) {
      body_parser.emplace(std::move(parser));
      req.body_source = [&](char* buf, size_t size) { return read_body_some(*body_parser, buffer, buf, size, limit); };
    } else {
      req.body = std::move(parser.get().body());
    }

    HttpResponse res;
    try {
      res = handler.handle(req);
    } catch (const std::exception& e) {
      // Nothing below should throw; a library that does must not take the
      // server down with it.
      res = error_response(500, "internal", std::string("the server failed on this request: ") + e.what());
    } catch (...) {
      res = error_response(500, "internal", "the server failed on this request");
    }
    if (res.takeover) {
      log_request(listener_, req.method, req.path, res.status, start);
      take_over(res, version, buffer);
      return false;
    }
    keep_alive = keep_alive && !shared_.stopping.load();
    // A body the handler left unread ends the connection: what the client
    // still sends is drained after the answer, so it reads that answer.
    bool unread = body_parser && !body_parser->is_done();
    if (unread) keep_alive = false;
    bool ok = res.stream ? write_streamed(res, version, keep_alive) : write(res, version, keep_alive);
    if (ok && unread) linger();
    log_request(listener_, req.method, req.path, res.status, start);
    return ok && keep_alive;
  }

  Result<size_t> read_body_some(http::request_parser<http::buffer_body>& p, beast::flat_buffer& buffer, char* buf,
                                size_t size, size_t limit) {
    if (p.is_done() || size == 0) return size_t{0};
    p.get().body().data = buf;
    p.get().body().size = size;
    for (;;) {
      stream_.expires_after(shared_.options.body_timeout);
      error_code ec = run_op([&](auto h) { http::async_read_some(stream_, buffer, p, h); });
      if (ec == http::error::need_buffer) ec = {};
      size_t got = size - p.get().body().size;
      if (ec == http::error::body_limit)
        return Error(ErrorCode::kLimitExceeded, "the request body is over " + std::to_string(limit) + " bytes");
      if (ec == beast::error::timeout)
        return Error(ErrorCode::kTimeout, "the client sent no more of the request body for " +
                                              std::to_string(shared_.options.body_timeout.count()) + " s");
      if (ec) return Error(ErrorCode::kIo, "reading the request body: " + ec.message());
      if (got > 0 || p.is_done()) return got;
    }
  }

  // Writes the head (unless the callback does), then gives the socket, in
  // blocking mode, and what was read past the request to the callback.
  void take_over(const HttpResponse& res, unsigned version, beast::flat_buffer& buffer) {
    if (!res.takeover_writes_head) {
      http::response<http::empty_body> m{static_cast<http::status>(res.status), version};
      m.set(http::field::server, "krunbox");
      if (!res.content_type.empty()) m.set(http::field::content_type, res.content_type);
      for (const auto& [name, value] : res.headers) m.set(name, value);
      http::response_serializer<http::empty_body> sr{m};
      stream_.expires_after(shared_.options.write_timeout);
      if (run_op([&](auto h) { http::async_write_header(stream_, sr, h); })) return;
    }
    stream_.expires_never();
    std::string already_read(static_cast<const char*>(buffer.data().data()), buffer.size());
    buffer.consume(buffer.size());
    error_code ec;
    UniqueFd fd(stream_.socket().release(ec));
    if (ec || !fd) return;
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags >= 0) (void)::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    try {
      res.takeover(std::move(fd), std::move(already_read));
    } catch (const std::exception& e) {
      KB_WARN("{} {}: the connection's new owner failed: {}", method_, path_, e.what());
    } catch (...) {
      KB_WARN("{} {}: the connection's new owner failed", method_, path_);
    }
  }

  template <typename Message>
  void set_headers(Message& m, const HttpResponse& res, bool keep_alive) {
    m.set(http::field::server, "krunbox");
    if (!res.content_type.empty()) m.set(http::field::content_type, res.content_type);
    for (const auto& [name, value] : res.headers) m.set(name, value);
    m.keep_alive(keep_alive);
  }

  bool write(const HttpResponse& res, unsigned version, bool keep_alive) {
    http::response<http::string_body> m{static_cast<http::status>(res.status), version};
    set_headers(m, res, keep_alive);
    m.body() = res.body;
    m.prepare_payload();
    stream_.expires_after(shared_.options.write_timeout);
    return !run_op([&](auto h) { http::async_write(stream_, m, h); });
  }

  bool write_streamed(const HttpResponse& res, unsigned version, bool keep_alive) {
    http::response<http::empty_body> m{static_cast<http::status>(res.status), version};
    set_headers(m, res, keep_alive);
    m.chunked(true);
    http::response_serializer<http::empty_body> sr{m};
    stream_.expires_after(shared_.options.write_timeout);
    if (run_op([&](auto h) { http::async_write_header(stream_, sr, h); })) return false;
    bool broken = false;
    ChunkWriter writer = [&](std::string_view data) {
      if (broken) return false;
      if (data.empty()) return true;
      stream_.expires_after(shared_.options.write_timeout);
      broken = static_cast<bool>(run_op([&](auto h) {
        net::async_write(stream_, http::make_chunk(net::const_buffer(data.data(), data.size())), h);
      }));
      return !broken;
    };
    res.stream(writer);
    if (broken) return false;
    stream_.expires_after(shared_.options.write_timeout);
    return !run_op([&](auto h) { net::async_write(stream_, http::make_chunk_last(), h); });
  }

  // Answers a request whose rest is left unread, then ends the connection.
  void reply_error(int status, std::string_view code, const std::string& message,
                   std::chrono::steady_clock::time_point start,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse res = error_response(status, code, message);
    res.headers = std::move(headers);
    if (write(res, 11, false)) linger();
    log_request(listener_, method_.empty() ? "-" : method_, path_.empty() ? "-" : path_, status, start);
  }

  // A client still sending the body we refused would get a reset on close,
  // which can destroy our answer before it reads it. So: no more writes,
  // and what it still sends is read and dropped, up to twice the largest
  // body any route takes and 2 s, before the socket closes.
  void linger() {
    error_code ec;
    stream_.socket().shutdown(net::socket_base::shutdown_send, ec);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    size_t total = 0;
    char scratch[16384];
    while (total < (128u << 20)) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      stream_.expires_after(left);
      size_t got = 0;
      ec = run_op([&](auto h) {
        stream_.async_read_some(net::buffer(scratch), [&got, h](error_code e, std::size_t n) mutable {
          got = n;
          h(e, n);
        });
      });
      if (ec) break;
      total += got;
    }
  }

  Shared& shared_;
  const Listener& listener_;
  net::io_context ioc_{1};
  beast::basic_stream<Protocol> stream_;
  bool idle_ = false;  // waiting for a request's first bytes; touched on this thread only
  std::string method_, path_;
};

template <typename Protocol>
void run_connection(Shared& shared, const Listener& listener, Protocol protocol, int fd) {
  auto conn = std::make_shared<Connection<Protocol>>(shared, listener, protocol, fd);
  std::list<std::shared_ptr<ConnectionBase>>::iterator it;
  {
    std::lock_guard lock(shared.mu);
    it = shared.live.insert(shared.live.end(), conn);
  }
  conn->run();
  std::lock_guard lock(shared.mu);
  shared.live.erase(it);
  --shared.count;
  shared.idle.notify_all();
}

// Beyond max_connections: a short 503, written without blocking (it fits a
// fresh socket's buffer), then the socket closes.
void refuse_busy(int fd, size_t max) {
  std::string body = error_body(
      "unavailable", "the server has " + std::to_string(max) + " connections open, its limit; retry shortly");
  std::string text =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
      "Retry-After: 1\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::close(fd);
  KB_WARN("refused a connection: {} connections are open (--max-connections)", max);
}

template <typename Acceptor>
void accept_loop(Acceptor& acceptor, Shared& shared, const Listener& listener) {
  acceptor.async_accept(
      [&acceptor, &shared, &listener](error_code ec, typename Acceptor::protocol_type::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        if (!ec) {
          auto protocol = acceptor.local_endpoint(ec).protocol();
          int fd = socket.release(ec);
          if (!ec) {
            // Nothing this process spawns may inherit a client's connection.
            (void)set_cloexec(fd, true);
            std::unique_lock lock(shared.mu);
            if (shared.count >= shared.options.max_connections) {
              lock.unlock();
              refuse_busy(fd, shared.options.max_connections);
            } else {
              ++shared.count;
              lock.unlock();
              try {
                std::thread([&shared, &listener, protocol, fd] {
                  run_connection(shared, listener, protocol, fd);
                }).detach();
              } catch (const std::system_error& e) {
                ::close(fd);
                std::lock_guard relock(shared.mu);
                --shared.count;
                KB_WARN("dropped a connection: no thread for it ({})", e.what());
              }
            }
          }
        } else {
          // EMFILE and friends: keep serving the connections there are.
          KB_WARN("accepting a connection: {}", ec.message());
        }
        accept_loop(acceptor, shared, listener);
      });
}

Result<UniqueFd> listen_unix(const std::string& path) {
  // A live server there is never pushed aside; a dead one's socket is.
  if (auto peer = connect_unix_socket(path, std::chrono::milliseconds(0)); peer.ok())
    return Error(ErrorCode::kAlreadyExists,
                 "another server is listening on " + path + "; stop it, or give this one another --socket");
  mode_t old = ::umask(0177);
  auto fd = listen_unix_socket(path, 128);
  ::umask(old);
  if (!fd) return std::move(fd).error();
  if (::chmod(path.c_str(), 0600) != 0) return Error::from_errno("chmod 0600 " + path);
  return fd;
}

Result<UniqueFd> listen_tcp(const std::string& text, int& family) {
  KRUNBOX_ASSIGN_OR_RETURN(ListenAddress a, parse_listen_address(text));
  KRUNBOX_ASSIGN_OR_RETURN(SocketAddress addr, parse_socket_address(a.host, a.port));
  family = addr.family;
  UniqueFd fd(::socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno("socket for " + text);
  int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), addr.get(), addr.length) != 0) return Error::from_errno("binding " + text);
  if (::listen(fd.get(), 128) != 0) return Error::from_errno("listening on " + text);
  return fd;
}

// The sockets of every listener, made before any is served so that a bad
// address fails the start; the Unix ones made here are removed at the end.
struct BoundListeners {
  std::vector<UniqueFd> fds;
  std::vector<int> families;  // AF_UNIX, AF_INET or AF_INET6, by listener
  std::vector<std::string> made_unix_paths;
  ~BoundListeners() {
    for (const auto& p : made_unix_paths) (void)::unlink(p.c_str());
  }
};

Status bind_listeners(const ServerOptions& o, BoundListeners& bound) {
  for (const Listener& l : o.listeners) {
    std::string what =
        (l.name.empty() ? std::string("listener") : l.name) + " on " + (l.unix_path.empty() ? l.tcp : l.unix_path);
    if (!l.handler) return Error(ErrorCode::kInvalidArgument, what + " has no handler");
    if (l.unix_path.empty() == l.tcp.empty())
      return Error(ErrorCode::kInvalidArgument, what + ": give exactly one of a socket path or HOST:PORT");
    if (!l.unix_path.empty()) {
      auto fd = listen_unix(l.unix_path);
      if (!fd) return std::move(fd).error();
      bound.made_unix_paths.push_back(l.unix_path);
      bound.fds.push_back(std::move(*fd));
      bound.families.push_back(AF_UNIX);
    } else {
      int family = AF_INET;
      auto fd = listen_tcp(l.tcp, family);
      if (!fd) return std::move(fd).error().wrap(what);
      bound.fds.push_back(std::move(*fd));
      bound.families.push_back(family);
    }
  }
  return {};
}

}  // namespace

Result<ServeOutcome> serve(const ServerOptions& o) {
  if (o.listeners.empty()) return Error(ErrorCode::kInvalidArgument, "the server has no listener");
  BoundListeners bound;
  KRUNBOX_TRY(bind_listeners(o, bound));

  Shared shared(o);
  net::io_context ioc{1};
  std::vector<std::unique_ptr<net::local::stream_protocol::acceptor>> unix_acceptors;
  std::vector<std::unique_ptr<net::ip::tcp::acceptor>> tcp_acceptors;
  std::string where;
  for (size_t i = 0; i < o.listeners.size(); ++i) {
    const Listener& l = o.listeners[i];
    error_code ec;
    if (bound.families[i] == AF_UNIX) {
      auto& a = unix_acceptors.emplace_back(std::make_unique<net::local::stream_protocol::acceptor>(ioc));
      a->assign(net::local::stream_protocol(), bound.fds[i].release(), ec);
      if (!ec) accept_loop(*a, shared, l);
    } else {
      auto& a = tcp_acceptors.emplace_back(std::make_unique<net::ip::tcp::acceptor>(ioc));
      a->assign(bound.families[i] == AF_INET6 ? net::ip::tcp::v6() : net::ip::tcp::v4(), bound.fds[i].release(), ec);
      if (!ec) accept_loop(*a, shared, l);
    }
    if (ec)
      return Error(ErrorCode::kIo, "serving " + (l.unix_path.empty() ? l.tcp : l.unix_path) + ": " + ec.message());
    where += (where.empty() ? "" : ", ") + (l.unix_path.empty() ? "tcp:" + l.tcp : "unix:" + l.unix_path) +
             (l.name.empty() ? "" : " (" + l.name + ")");
  }

  net::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](error_code wait_ec, int sig) {
    if (wait_ec) return;
    KB_INFO("signal {}: no new connections; finishing requests in flight (up to {}s)", sig, o.shutdown_grace.count());
    shared.stopping.store(true);
    error_code ignored;
    for (auto& a : unix_acceptors) a->close(ignored);
    for (auto& a : tcp_acceptors) a->close(ignored);
    std::lock_guard lock(shared.mu);
    for (auto& c : shared.live) c->request_stop();
  });

  KB_INFO("listening on {}", where);
  ioc.run();
  // A second signal during the grace ends the process the default way.
  error_code ec;
  signals.clear(ec);

  std::unique_lock lock(shared.mu);
  shared.idle.wait_for(lock, o.shutdown_grace, [&] { return shared.count == 0; });
  ServeOutcome out;
  out.abandoned = shared.count;
  lock.unlock();
  if (out.abandoned)
    KB_WARN("{} requests were still running when the grace ran out", out.abandoned);
  else
    KB_INFO("stopped");
  return out;
}

}  // namespace krunbox::serve
