// The client side of the OCI distribution API for one repository: the /v2/
// ping, authentication (anonymous or credentialed Bearer tokens, Basic),
// manifests with every supported media type in Accept, and blobs streamed
// with retries, backoff and Range resume.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "image/digest.h"
#include "image/registry_auth.h"
#include "image/registry_http.h"
#include "image/registry_retry.h"
#include "krunbox/error.h"

namespace krunbox::image {

// The seed's IMAGE_PULL_TIMEOUT: no single registry operation (a manifest or
// a blob, retries included) may take longer.
inline constexpr std::chrono::seconds kImagePullTimeout{300};

struct RegistryOptions {
  // Registries (host[:port]) reached over plain HTTP or unverified TLS, from
  // --insecure-registry and the registries config file. Loopback hosts are
  // always treated so.
  std::vector<std::string> insecure;
  RetryPolicy retry;
  std::chrono::seconds timeout = kImagePullTimeout;
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::seconds stall_timeout{30};
  int max_redirects = 10;
  // Overrides ~/.docker/config.json when set.
  std::optional<Credentials> credentials;
  bool use_docker_config = true;
};

// {"insecure": ["host:port", ...]}; the file named by
// $KRUNBOX_REGISTRIES_CONFIG, else /etc/krunbox/registries.json. Missing
// file: no entries.
Result<std::vector<std::string>> parse_registries_config(std::string_view json);
Result<std::vector<std::string>> load_insecure_registries();
// localhost, 127.0.0.0/8 and ::1, with or without a port.
bool is_loopback_domain(const std::string& domain);
// The host serving a registry domain: docker.io is registry-1.docker.io.
std::string registry_host(const std::string& domain);

// The Accept header value for manifests: OCI manifest and index, Docker
// schema2 manifest and manifest list.
std::string manifest_accept_header();

// A registry's JSON error body ({"errors":[{"code":..,"message":..}]}) as
// "CODE: message"; "" when the body is not one.
std::string registry_error_text(std::string_view body);

struct FetchedManifest {
  std::string body;
  std::string media_type;  // from Content-Type, parameters stripped
  Digest digest;           // sha256 of body
};

// Where a blob download writes; it is told to start over when a server
// ignores a Range request.
class BlobTarget {
 public:
  virtual ~BlobTarget() = default;
  virtual uint64_t written() const = 0;
  virtual Status write(std::string_view chunk) = 0;
  virtual Status restart() = 0;
};

struct RetryNotice {
  std::string what;
  int attempt;
  std::chrono::milliseconds delay;
  std::string reason;
};

class RegistryClient {
 public:
  // `domain` as in a normalized reference ("docker.io", "127.0.0.1:5000");
  // `repository` is its path ("library/alpine").
  static Result<std::unique_ptr<RegistryClient>> connect(const std::string& domain, const std::string& repository,
                                                         RegistryOptions options);

  // GET /v2/<repo>/manifests/<tag or digest>; verified against the digest
  // when one was asked for.
  Result<FetchedManifest> manifest(const std::string& tag_or_digest, uint64_t max_size);
  // GET /v2/<repo>/blobs/<digest> into `target`, following redirects to blob
  // storage, resuming from target.written() after a dropped connection.
  Status blob(const Digest& digest, BlobTarget& target);

  const std::string& base_url() const { return base_url_; }
  void set_retry_observer(std::function<void(const RetryNotice&)> f) { on_retry_ = std::move(f); }

 private:
  RegistryClient(std::string domain, std::string repository, RegistryOptions options);
  Status ping();
  // Sends a request with the current authorization, answering one 401 by
  // authenticating, and retrying network errors, 5xx and 429 with backoff.
  Result<HttpResponse> send(HttpRequest req, const BodySink& sink, uint64_t max_body, const std::string& what,
                            std::chrono::steady_clock::time_point deadline,
                            const std::function<void(HttpRequest&)>& before_attempt = nullptr);
  Status authenticate(const std::vector<AuthChallenge>& challenges, const std::string& what);
  Result<std::string> fetch_token(const AuthChallenge& c, const std::string& what);
  std::string authorization() const;
  bool url_allowed_plain(const std::string& url) const;

  std::string domain_;
  std::string repository_;
  RegistryOptions options_;
  bool insecure_ = false;
  std::string base_url_;  // "https://host[:port]"
  std::unique_ptr<HttpClient> http_;
  std::optional<Credentials> credentials_;
  mutable std::mutex auth_mu_;
  std::string auth_header_;  // "Authorization: ..." or ""
  std::function<void(const RetryNotice&)> on_retry_;
};

}  // namespace krunbox::image
