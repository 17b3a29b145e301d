#include "image/registry_http.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "image/curl_api.h"

namespace krunbox::image {
namespace {

constexpr size_t kMaxErrorBody = 16 * 1024;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

struct Transfer {
  HttpResponse* response;
  const BodySink* sink;
  uint64_t max_body;
  size_t header_bytes = 0;
  bool body_limit_hit = false;
  std::optional<Error> sink_error{};
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  t->header_bytes += len;
  if (t->header_bytes > kMaxHeaderBytes) return 0;
  std::string_view line(data, len);
  // A new status line starts a new response (redirects, 100-continue): keep
  // only the final response's headers.
  if (line.starts_with("HTTP/")) {
    t->response->headers.clear();
    t->response->body.clear();
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  t->response->headers.emplace(lower(line.substr(0, colon)), std::string(value));
  return len;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  // The status is known by the time the body arrives.
  long status = t->response->status;
  bool ok = status >= 200 && status < 300;
  if (ok && t->sink && *t->sink) {
    Status s = (*t->sink)(status, std::string_view(data, len));
    if (!s.ok()) {
      t->sink_error = std::move(s).error();
      return 0;
    }
    return len;
  }
  uint64_t cap = ok ? t->max_body : kMaxErrorBody;
  if (t->response->body.size() + len > cap) {
    if (ok) {
      t->body_limit_hit = true;
      return 0;
    }
    t->response->body.append(data, cap - t->response->body.size());
    return len;
  }
  t->response->body.append(data, len);
  return len;
}

// Learns the status before the first body byte, so on_body can route it.
size_t on_header_status(char* data, size_t size, size_t n, void* user);

HttpFailure classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return HttpFailure::kNetwork;
    case CURLE_OPERATION_TIMEDOUT:
      return HttpFailure::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return HttpFailure::kTls;
    case CURLE_TOO_MANY_REDIRECTS:
      return HttpFailure::kRedirects;
    default:
      return HttpFailure::kOther;
  }
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  auto range = headers.equal_range(name);
  std::string out;
  for (auto it = range.first; it != range.second; ++it) out = it->second;
  return out;
}

std::vector<std::string> HttpResponse::header_values(const std::string& name) const {
  std::vector<std::string> out;
  auto range = headers.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

// The connection, DNS and TLS session caches shared by every thread's handle,
// so parallel layer downloads reuse warm connections.
struct HttpClient::Shared {
  const CurlApi& curl;
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  std::mutex handles_mu;
  std::map<std::thread::id, CURL*> handles;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) { static_cast<Shared*>(user)->locks[data].unlock(); }

  explicit Shared(const CurlApi& api) : curl(api) {
    share = curl.share_init();
    curl.share_setopt(share, CURLSHOPT_LOCKFUNC, &Shared::lock);
    curl.share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Shared::unlock);
    curl.share_setopt(share, CURLSHOPT_USERDATA, this);
    curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }
  ~Shared() {
    for (auto& [id, h] : handles) curl.easy_cleanup(h);
    curl.share_cleanup(share);
  }
  // One handle per thread: an easy handle must not be used by two threads at
  // once, and reusing it keeps its connection alive.
  CURL* handle() {
    std::lock_guard<std::mutex> g(handles_mu);
    auto& h = handles[std::this_thread::get_id()];
    if (!h) h = curl.easy_init();
    return h;
  }
};

HttpClient::HttpClient(HttpOptions options, const CurlApi& curl)
    : options_(std::move(options)), shared_(std::make_unique<Shared>(curl)) {}

Result<std::unique_ptr<HttpClient>> HttpClient::create(HttpOptions options) {
  KRUNBOX_ASSIGN_OR_RETURN(const CurlApi* curl, curl_api());
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(options), *curl));
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::perform(const HttpRequest& req, const BodySink& sink, uint64_t max_body, HttpFailure* failure) {
  if (failure) *failure = HttpFailure::kNone;
  const CurlApi& curl = shared_->curl;
  CURL* h = shared_->handle();
  if (!h) return Error(ErrorCode::kInternal, "curl_easy_init failed");
  curl.easy_reset(h);
  HttpResponse resp;
  Transfer t{.response = &resp, .sink = &sink, .max_body = max_body};
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(req.deadline - std::chrono::steady_clock::now());
  if (req.deadline != std::chrono::steady_clock::time_point::max() && remaining.count() <= 0) {
    if (failure) *failure = HttpFailure::kTimeout;
    return Error(ErrorCode::kTimeout, "timed out before " + req.method + " " + req.url);
  }

  curl.easy_setopt(h, CURLOPT_SHARE, shared_->share);
  curl.easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, options_.allow_http_redirects ? "http,https" : "https");
  curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl.easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
  // Credentials never follow a redirect to another host (blob storage).
  curl.easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  if (req.deadline != std::chrono::steady_clock::time_point::max())
    curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(remaining.count(), 1)));
  curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  curl.easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, nullptr);  // bytes as stored: digests are over them
  // Layer blobs are large: 512 KiB reads (curl's maximum before 7.88; the
  // default is 16 KiB) mean 32x fewer recv/write/hash calls per blob.
  curl.easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
  if (req.method == "HEAD") curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
  else curl.easy_setopt(h, CURLOPT_HTTPGET, 1L);
  std::string range;
  if (req.range_from > 0) {
    range = std::to_string(req.range_from) + "-";
    curl.easy_setopt(h, CURLOPT_RANGE, range.c_str());
  }
  curl_slist* headers = nullptr;
  for (const auto& hd : req.headers) headers = curl.slist_append(headers, hd.c_str());
  struct SlistFree {
    const CurlApi& curl;
    curl_slist* l;
    ~SlistFree() { curl.slist_free_all(l); }
  } free_headers{curl, headers};
  curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header_status);
  curl.easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl.easy_setopt(h, CURLOPT_WRITEDATA, &t);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

  CURLcode rc = curl.easy_perform(h);
  curl.easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl.easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  char* eff = nullptr;
  curl.easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
  if (eff) resp.effective_url = eff;
  curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  if (t.sink_error) {
    if (failure) *failure = HttpFailure::kSink;
    return std::move(*t.sink_error);
  }
  if (t.body_limit_hit) {
    if (failure) *failure = HttpFailure::kOther;
    return Error(ErrorCode::kLimitExceeded, req.url + ": response body is over the limit of " + std::to_string(max_body) + " bytes");
  }
  if (rc != CURLE_OK) {
    HttpFailure kind = classify(rc);
    if (failure) *failure = kind;
    std::string detail = errbuf[0] ? errbuf : curl.easy_strerror(rc);
    if (kind == HttpFailure::kRedirects)
      return Error(ErrorCode::kProtocol, req.method + " " + req.url + ": more than " + std::to_string(options_.max_redirects) +
                                             " redirects (a redirect loop?): " + detail);
    if (kind == HttpFailure::kTimeout)
      return Error(ErrorCode::kTimeout, req.method + " " + req.url + ": timed out: " + detail);
    if (kind == HttpFailure::kTls)
      return Error(ErrorCode::kProtocol, req.method + " " + req.url + ": TLS failed: " + detail +
                                             " (for a registry without TLS, list it as insecure)");
    if (rc == CURLE_UNSUPPORTED_PROTOCOL && !options_.allow_http_redirects)
      return Error(ErrorCode::kProtocol, req.method + " " + req.url + ": refused a redirect to a non-https URL: " + detail);
    return Error(ErrorCode::kUnavailable, req.method + " " + req.url + ": " + detail);
  }
  return resp;
}

namespace {
size_t on_header_status(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // "HTTP/1.1 200 OK" / "HTTP/2 200"
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      long code = 0;
      for (size_t i = sp + 1; i < line.size() && i < sp + 4 && line[i] >= '0' && line[i] <= '9'; ++i) code = code * 10 + (line[i] - '0');
      t->response->status = code;
    }
  }
  return on_header(data, size, n, user);
}
}  // namespace

}  // namespace krunbox::image
