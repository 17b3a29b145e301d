#include "image/registry_client.h"

#include <cstdlib>
#include <random>
#include <thread>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "image/manifest.h"

namespace krunbox::image {
namespace {

using Clock = std::chrono::steady_clock;

std::string host_without_port(const std::string& domain) {
  if (domain.starts_with('[')) return domain.substr(0, domain.find(']') + 1);
  return domain.substr(0, domain.find(':'));
}

std::string url_host(std::string_view url) {
  if (auto p = url.find("://"); p != std::string_view::npos) url = url.substr(p + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url = url.substr(at + 1);
  return std::string(url);
}

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string strip_params(std::string v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

double jitter() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

Result<std::vector<std::string>> parse_registries_config(std::string_view json) {
  if (json.size() > (1 << 20)) return Error(ErrorCode::kLimitExceeded, "registries config is over 1 MiB");
  KRUNBOX_ASSIGN_OR_RETURN(Json doc, parse_json(json, "registries config"));
  std::vector<std::string> out;
  if (!doc.is_object()) return Error(ErrorCode::kInvalidArgument, "registries config is not a JSON object");
  if (!doc.contains("insecure")) return out;
  if (!doc["insecure"].is_array()) return Error(ErrorCode::kInvalidArgument, "registries config: \"insecure\" is not an array");
  for (const auto& e : doc["insecure"]) {
    if (!e.is_string()) return Error(ErrorCode::kInvalidArgument, "registries config: \"insecure\" holds a non-string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::vector<std::string>> load_insecure_registries() {
  const char* env = std::getenv("KRUNBOX_REGISTRIES_CONFIG");
  std::string path = env && *env ? env : "/etc/krunbox/registries.json";
  if (!path_exists(path)) return std::vector<std::string>();
  KRUNBOX_ASSIGN_OR_RETURN(std::string text, read_file(path, 1 << 20).wrap("read " + path));
  return parse_registries_config(text).wrap(path);
}

bool is_loopback_domain(const std::string& domain) {
  std::string host = host_without_port(domain);
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8 as a dotted quad, never a name that merely starts with "127.".
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

std::string registry_host(const std::string& domain) { return domain == "docker.io" ? "registry-1.docker.io" : domain; }

std::string manifest_accept_header() {
  return "Accept: " + std::string(media::kOciManifest) + ", " + std::string(media::kOciIndex) + ", " +
         std::string(media::kDockerManifest) + ", " + std::string(media::kDockerManifestList);
}

std::string registry_error_text(std::string_view body) {
  auto doc = parse_json(body, "registry error");
  if (!doc.ok() || !doc->is_object() || !doc->contains("errors") || !(*doc)["errors"].is_array()) return "";
  std::string out;
  for (const auto& e : (*doc)["errors"]) {
    if (!e.is_object()) continue;
    std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
    std::string msg = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    if (!out.empty()) out += "; ";
    out += code + (msg.empty() ? "" : ": " + msg);
    if (out.size() > 400) break;
  }
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out.substr(0, 400);
}

RegistryClient::RegistryClient(std::string domain, std::string repository, RegistryOptions options)
    : domain_(std::move(domain)), repository_(std::move(repository)), options_(std::move(options)) {}

Result<std::unique_ptr<RegistryClient>> RegistryClient::connect(const std::string& domain, const std::string& repository,
                                                                RegistryOptions options) {
  std::unique_ptr<RegistryClient> c(new RegistryClient(domain, repository, std::move(options)));
  c->insecure_ = is_loopback_domain(domain);
  for (const auto& i : c->options_.insecure)
    if (i == domain || i == registry_host(domain)) c->insecure_ = true;
  if (c->options_.credentials) {
    c->credentials_ = c->options_.credentials;
  } else if (c->options_.use_docker_config) {
    KRUNBOX_ASSIGN_OR_RETURN(c->credentials_, load_docker_credentials(domain));
  }
  HttpOptions ho;
  ho.connect_timeout = c->options_.connect_timeout;
  ho.stall_timeout = c->options_.stall_timeout;
  ho.max_redirects = c->options_.max_redirects;
  ho.verify_tls = !c->insecure_;
  ho.allow_http_redirects = c->insecure_;
  KRUNBOX_ASSIGN_OR_RETURN(c->http_, HttpClient::create(ho).wrap("registry " + domain));
  KRUNBOX_TRY_CTX(c->ping(), "registry " + domain);
  return c;
}

bool RegistryClient::url_allowed_plain(const std::string& url) const {
  if (!url.starts_with("http://")) return true;
  return insecure_ || is_loopback_domain(url_host(url));
}

std::string RegistryClient::authorization() const {
  std::lock_guard<std::mutex> g(auth_mu_);
  return auth_header_;
}

Status RegistryClient::ping() {
  auto deadline = Clock::now() + options_.timeout;
  std::vector<std::string> schemes = {"https://"};
  // Insecure registries speak TLS without verification or plain HTTP: try
  // TLS first, as Docker does, and fall back on a TLS or connection failure.
  if (insecure_) schemes.push_back("http://");
  for (size_t i = 0; i < schemes.size(); ++i) {
    base_url_ = schemes[i] + registry_host(domain_);
    HttpRequest req{.url = base_url_ + "/v2/", .deadline = deadline};
    if (i + 1 < schemes.size()) {
      HttpFailure kind;
      auto r = http_->perform(req, nullptr, 64 * 1024, &kind);
      if (!r.ok() && (kind == HttpFailure::kTls || kind == HttpFailure::kNetwork)) continue;
    }
    KRUNBOX_ASSIGN_OR_RETURN(HttpResponse resp, send(req, nullptr, 64 * 1024, "ping " + base_url_ + "/v2/", deadline));
    if (resp.status == 200) return {};
    if (resp.status == 404)
      return Error(ErrorCode::kProtocol, base_url_ + " does not serve the registry API (/v2/ answered 404)");
    return Error(ErrorCode::kProtocol, base_url_ + "/v2/ answered HTTP " + std::to_string(resp.status) +
                                           (registry_error_text(resp.body).empty() ? "" : ": " + registry_error_text(resp.body)));
  }
  return Error(ErrorCode::kInternal, "no scheme to reach " + domain_);
}

Result<std::string> RegistryClient::fetch_token(const AuthChallenge& c, const std::string& what) {
  std::string realm = c.param("realm");
  if (!(realm.starts_with("https://") || realm.starts_with("http://")))
    return Error(ErrorCode::kProtocol, "the registry's token realm \"" + realm.substr(0, 200) + "\" is not an http(s) URL");
  if (!url_allowed_plain(realm))
    return Error(ErrorCode::kProtocol, "refusing to ask for a token over plain HTTP at " + realm.substr(0, 200) +
                                           " for a registry that is not marked insecure");
  std::string scope = "repository:" + repository_ + ":pull";
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  std::string service = c.param("service");
  if (!service.empty()) url += "service=" + url_escape(service) + "&";
  url += "scope=" + url_escape(scope);
  HttpRequest req{.url = url, .deadline = Clock::now() + options_.timeout};
  if (credentials_ && !credentials_->username.empty())
    req.headers.push_back("Authorization: Basic " + base64_encode(credentials_->username + ":" + credentials_->password));
  // The token endpoint gets its own retry loop without authorization handling.
  for (int attempt = 0;; ++attempt) {
    HttpFailure kind;
    auto r = http_->perform(req, nullptr, kMaxTokenResponseSize, &kind);
    bool retry = (!r.ok() && (kind == HttpFailure::kNetwork || kind == HttpFailure::kTimeout)) ||
                 (r.ok() && retryable_http_status(r->status));
    if (retry && attempt + 1 < options_.retry.max_attempts && Clock::now() < req.deadline) {
      std::this_thread::sleep_for(backoff_delay(options_.retry, attempt, jitter()));
      continue;
    }
    if (!r.ok()) return std::move(r).error().wrap("get a token for " + what);
    if (r->status == 401 || r->status == 403) {
      if (credentials_ && !credentials_->username.empty())
        return Error(ErrorCode::kPermissionDenied, "the token service at " + url_host(realm) + " rejected the credentials for " +
                                                       domain_ + " (HTTP " + std::to_string(r->status) + "); check ~/.docker/config.json");
      return Error(ErrorCode::kPermissionDenied, domain_ + " requires credentials for " + repository_ + " (token service answered HTTP " +
                                                     std::to_string(r->status) + "); add them to ~/.docker/config.json");
    }
    if (r->status != 200)
      return Error(ErrorCode::kProtocol, "token service " + url_host(realm) + " answered HTTP " + std::to_string(r->status));
    KRUNBOX_ASSIGN_OR_RETURN(BearerToken t, parse_token_response(r->body).wrap("token service " + url_host(realm)));
    return t.token;
  }
}

Status RegistryClient::authenticate(const std::vector<AuthChallenge>& challenges, const std::string& what) {
  for (const auto& c : challenges) {
    if (c.scheme == "bearer") {
      KRUNBOX_ASSIGN_OR_RETURN(std::string token, fetch_token(c, what));
      std::lock_guard<std::mutex> g(auth_mu_);
      auth_header_ = "Authorization: Bearer " + token;
      return {};
    }
  }
  for (const auto& c : challenges) {
    if (c.scheme == "basic") {
      if (!credentials_ || credentials_->username.empty())
        return Error(ErrorCode::kPermissionDenied, domain_ + " requires a user name and password (Basic auth); add them to ~/.docker/config.json");
      if (!url_allowed_plain(base_url_))
        return Error(ErrorCode::kPermissionDenied, "refusing to send a password to " + domain_ + " over plain HTTP");
      std::lock_guard<std::mutex> g(auth_mu_);
      auth_header_ = "Authorization: Basic " + base64_encode(credentials_->username + ":" + credentials_->password);
      return {};
    }
  }
  std::string schemes;
  for (const auto& c : challenges) schemes += (schemes.empty() ? "" : ", ") + c.scheme;
  return Error(ErrorCode::kUnsupported, domain_ + " asks for authentication by " + schemes + ", which krunbox does not speak");
}

Result<HttpResponse> RegistryClient::send(HttpRequest req, const BodySink& sink, uint64_t max_body, const std::string& what,
                                          Clock::time_point deadline, const std::function<void(HttpRequest&)>& before_attempt) {
  bool authenticated_now = false;
  std::vector<std::string> base_headers = req.headers;
  req.deadline = deadline;
  int failures = 0;
  for (;;) {
    if (before_attempt) before_attempt(req);
    req.headers = base_headers;
    std::string auth = authorization();
    if (!auth.empty()) req.headers.push_back(auth);
    HttpFailure kind;
    auto r = http_->perform(req, sink, max_body, &kind);
    std::optional<std::chrono::milliseconds> retry_after;
    std::string reason;
    if (!r.ok()) {
      bool network = kind == HttpFailure::kNetwork || (kind == HttpFailure::kTimeout && Clock::now() < deadline);
      if (!network) return std::move(r).error().wrap(what);
      reason = r.error().message();
    } else if (r->status == 401 && !authenticated_now) {
      std::string header = r->header("www-authenticate");
      if (header.empty())
        return Error(ErrorCode::kPermissionDenied, what + ": HTTP 401 without a WWW-Authenticate challenge");
      KRUNBOX_ASSIGN_OR_RETURN(auto challenges, parse_www_authenticate(header).wrap(what));
      KRUNBOX_TRY_CTX(authenticate(challenges, what), what);
      authenticated_now = true;
      continue;
    } else if (r->status == 401 || r->status == 403) {
      std::string detail = registry_error_text(r->body);
      return Error(ErrorCode::kPermissionDenied, what + ": access denied (HTTP " + std::to_string(r->status) + ")" +
                                                     (detail.empty() ? "" : ": " + detail) +
                                                     (credentials_ ? "; check the credentials in ~/.docker/config.json" : "; log in by adding credentials to ~/.docker/config.json"));
    } else if (retryable_http_status(r->status)) {
      reason = "HTTP " + std::to_string(r->status);
      retry_after = parse_retry_after(r->header("retry-after"), std::time(nullptr));
      if (retry_after && *retry_after > options_.retry.max_retry_after)
        return Error(ErrorCode::kUnavailable, what + ": the registry asks to retry after " + std::to_string(retry_after->count() / 1000) +
                                                  " s; try again later");
    } else {
      return r;
    }
    ++failures;
    auto delay = backoff_delay(options_.retry, failures - 1, jitter(), retry_after);
    if (failures >= options_.retry.max_attempts || Clock::now() + delay >= deadline) {
      if (!r.ok()) return std::move(r).error().wrap(what + " (gave up after " + std::to_string(failures) + " attempts)");
      return Error(ErrorCode::kUnavailable, what + ": " + reason + " (gave up after " + std::to_string(failures) + " attempts)");
    }
    if (on_retry_) on_retry_({what, failures, delay, reason});
    KB_DEBUG("{}: {}; retrying in {} ms", what, reason, delay.count());
    std::this_thread::sleep_for(delay);
  }
}

Result<FetchedManifest> RegistryClient::manifest(const std::string& tag_or_digest, uint64_t max_size) {
  std::string what = "manifest " + domain_ + "/" + repository_ + (tag_or_digest.starts_with("sha256:") ? "@" : ":") + tag_or_digest;
  HttpRequest req{.url = base_url_ + "/v2/" + repository_ + "/manifests/" + tag_or_digest, .headers = {manifest_accept_header()}};
  auto r = send(req, nullptr, max_size, what, Clock::now() + options_.timeout);
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kLimitExceeded)
      return Error(ErrorCode::kLimitExceeded, what + " is over the limit of " + std::to_string(max_size) + " bytes");
    return std::move(r).error();
  }
  if (r->status == 404)
    return Error(ErrorCode::kNotFound, what + " was not found on the registry" +
                                           (registry_error_text(r->body).empty() ? "" : " (" + registry_error_text(r->body) + ")"));
  if (r->status != 200)
    return Error(ErrorCode::kProtocol, what + ": HTTP " + std::to_string(r->status) +
                                           (registry_error_text(r->body).empty() ? "" : ": " + registry_error_text(r->body)));
  FetchedManifest m;
  m.body = std::move(r->body);
  m.media_type = strip_params(r->header("content-type"));
  m.digest = Sha256::of(m.body);
  if (tag_or_digest.starts_with("sha256:") && m.digest.str() != tag_or_digest)
    return Error(ErrorCode::kCorrupt, what + ": the registry sent a document hashing to " + m.digest.str() + "; nothing was stored");
  if (std::string header = r->header("docker-content-digest"); header.starts_with("sha256:") && header != m.digest.str())
    return Error(ErrorCode::kCorrupt, what + ": the registry says its digest is " + header.substr(0, 80) + " but it hashes to " + m.digest.str());
  return m;
}

Status RegistryClient::blob(const Digest& digest, BlobTarget& target) {
  std::string what = "blob " + digest.str() + " of " + domain_ + "/" + repository_;
  auto deadline = Clock::now() + options_.timeout;
  HttpRequest req{.url = base_url_ + "/v2/" + repository_ + "/blobs/" + digest.str()};
  uint64_t offset = 0;
  BodySink sink = [&](long status, std::string_view chunk) -> Status {
    if (offset > 0 && status == 200) {
      // The server ignored our Range: start over from byte 0.
      KRUNBOX_TRY(target.restart());
      offset = 0;
    }
    return target.write(chunk);
  };
  // Each attempt asks only for what is still missing.
  auto resume = [&](HttpRequest& r) {
    offset = target.written();
    r.range_from = offset;
  };
  for (int round = 0;; ++round) {
    auto r = send(req, sink, 0, what, deadline, resume);
    if (!r.ok()) return std::move(r).error();
    if (r->status == 200 || r->status == 206) return {};
    if (r->status == 416 && offset > 0 && round == 0) {
      KRUNBOX_TRY(target.restart());
      continue;
    }
    if (r->status == 404)
      return Error(ErrorCode::kNotFound, what + " was not found on the registry" +
                                             (registry_error_text(r->body).empty() ? "" : " (" + registry_error_text(r->body) + ")"));
    return Error(ErrorCode::kProtocol, what + ": HTTP " + std::to_string(r->status) +
                                           (registry_error_text(r->body).empty() ? "" : ": " + registry_error_text(r->body)));
  }
}

}  // namespace krunbox::image
