// The session runs its io_context on a thread of its own; receive() and
// send() post Beast's asynchronous operations to it and wait for them. Beast
// allows one read and one write in flight at once, so writes (and the close,
// which is a write) go through a queue, one after another.
#include "serve/websocket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/log.h"

namespace krunbox::serve {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using Socket = net::generic::stream_protocol::socket;

bool contains_token(std::string_view list, std::string_view token) {
  // A comma-separated header value ("keep-alive, Upgrade"), compared
  // without regard to case.
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (beast::iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

class Session final : public WebSocket {
 public:
  Session() = default;

  Status adopt(UniqueFd socket) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return Error::from_errno("the WebSocket's connection");
    int family = addr.ss_family;
    beast::error_code ec;
    beast::get_lowest_layer(ws_).assign(
        net::generic::stream_protocol(family, family == AF_UNIX ? 0 : static_cast<int>(IPPROTO_TCP)), socket.release(),
        ec);
    if (ec) return Error(ErrorCode::kIo, "the WebSocket's connection: " + ec.message());
    return {};
  }

  ~Session() override {
    {
      std::lock_guard lock(mu_);
      over_ = true;
    }
    net::post(ioc_, [this] {
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).shutdown(net::socket_base::shutdown_both, ignored);
      beast::get_lowest_layer(ws_).close(ignored);
    });
    guard_.reset();
    if (io_.joinable()) io_.join();
  }

  Status handshake(const HttpRequest& req) {
    http::request<http::empty_body> upgrade;
    upgrade.method_string(req.method);
    upgrade.target(req.query.empty() ? req.path : req.path + "?" + req.query);
    upgrade.version(11);
    for (const auto& [name, value] : req.headers) upgrade.insert(name, value);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "krunbox"); }));
    ws_.read_message_max(kMaxMessage);
    beast::error_code ec;
    ws_.accept(upgrade, ec);
    if (ec) return Error(ErrorCode::kProtocol, "the WebSocket handshake failed: " + ec.message());
    io_ = std::thread([this] { ioc_.run(); });
    return {};
  }

  std::optional<Message> receive() override {
    auto done = std::make_shared<Pending>();
    net::post(ioc_, [this, done] {
      ws_.async_read(read_buffer_, [this, done](beast::error_code ec, std::size_t) {
        std::lock_guard lock(mu_);
        if (ec) {
          over_ = true;
        } else {
          done->ok = true;
          done->message.binary = ws_.got_binary();
          done->message.data = beast::buffers_to_string(read_buffer_.data());
        }
        read_buffer_.consume(read_buffer_.size());
        done->finished = true;
        cv_.notify_all();
      });
    });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done->finished; });
    if (!done->ok) return std::nullopt;
    return std::move(done->message);
  }

  bool send(std::string data, bool binary) override { return enqueue(Write{std::move(data), binary, false}); }

  void close() override { (void)enqueue(Write{{}, false, true}); }

 private:
  static constexpr size_t kMaxMessage = 1u << 20;

  struct Pending {
    bool finished = false;
    bool ok = false;
    Message message;
  };
  struct Write {
    std::string data;
    bool binary = false;
    bool close = false;
    std::shared_ptr<Pending> done = std::make_shared<Pending>();
  };

  bool enqueue(Write w) {
    auto done = w.done;
    {
      std::lock_guard lock(mu_);
      if (over_ || closing_) return false;
      if (w.close) closing_ = true;
      writes_.push_back(std::move(w));
    }
    net::post(ioc_, [this] { pump(); });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done->finished; });
    return done->ok;
  }

  // On the io thread: starts the next write unless one is in flight.
  void pump() {
    Write* next = nullptr;
    {
      std::lock_guard lock(mu_);
      if (writing_ || writes_.empty()) return;
      if (over_) {
        for (auto& w : writes_) w.done->finished = true;
        writes_.clear();
        cv_.notify_all();
        return;
      }
      writing_ = true;
      next = &writes_.front();
    }
    auto finish = [this](beast::error_code ec, std::size_t = 0) {
      {
        std::lock_guard lock(mu_);
        writing_ = false;
        writes_.front().done->ok = !ec;
        writes_.front().done->finished = true;
        writes_.pop_front();
        if (ec) over_ = true;
        cv_.notify_all();
      }
      pump();
    };
    if (next->close) {
      ws_.async_close(websocket::close_code::normal, [finish](beast::error_code ec) { finish(ec); });
    } else {
      ws_.binary(next->binary);
      ws_.async_write(net::buffer(next->data), finish);
    }
  }

  net::io_context ioc_{1};
  net::executor_work_guard<net::io_context::executor_type> guard_{ioc_.get_executor()};
  websocket::stream<Socket> ws_{ioc_};
  beast::flat_buffer read_buffer_;
  std::thread io_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Write> writes_;  // front: in flight while writing_
  bool writing_ = false;
  bool closing_ = false;
  bool over_ = false;
};

}  // namespace

Status check_websocket_upgrade(const HttpRequest& req) {
  auto missing = [](const std::string& what) {
    return Error(ErrorCode::kInvalidArgument,
                 "this endpoint is a WebSocket: connect with a WebSocket client (" + what + ")");
  };
  if (req.method != "GET") return missing("the handshake is a GET");
  if (!beast::iequals(req.header("Upgrade"), "websocket")) return missing("Upgrade: websocket is missing");
  if (!contains_token(req.header("Connection"), "upgrade")) return missing("Connection: Upgrade is missing");
  if (req.header("Sec-WebSocket-Key").empty()) return missing("Sec-WebSocket-Key is missing");
  if (req.header("Sec-WebSocket-Version") != "13") return missing("only Sec-WebSocket-Version 13 is spoken");
  return {};
}

Result<std::unique_ptr<WebSocket>> WebSocket::accept(UniqueFd socket, const HttpRequest& req) {
  auto session = std::make_unique<Session>();
  KRUNBOX_TRY(session->adopt(std::move(socket)));
  KRUNBOX_TRY(session->handshake(req));
  return std::unique_ptr<WebSocket>(std::move(session));
}

}  // namespace krunbox::serve
