#include "image/registry_pull.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/fs.h"
#include "base/log.h"
#include "image/growing_file.h"

namespace krunbox::image {
namespace {

using Clock = std::chrono::steady_clock;

// Streams one blob into a private temp file of the store, hashing as bytes
// arrive; commit() publishes it only when size and digest match, exactly as
// BlobStore::put does for pull-style readers. Resuming appends to the same
// file and hash; restart() begins again.
class StoreBlobWriter : public BlobTarget {
 public:
  StoreBlobWriter(BlobStore& store, Digest digest, uint64_t size) : store_(store), digest_(std::move(digest)), size_(size) {}
  ~StoreBlobWriter() override {
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }

  Status open() {
    KRUNBOX_TRY(store_.init());
    std::string tmpl = store_.temp_dir() + "/pull-" + digest_.hex().substr(0, 12) + "-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    fd_ = UniqueFd(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd_) return Error::from_errno("create temp file in " + store_.temp_dir());
    tmp_ = name.data();
    return {};
  }
  uint64_t written() const override { return written_; }
  Status write(std::string_view chunk) override {
    if (cancel && *cancel) return Error(ErrorCode::kCancelled, "download of " + digest_.str() + " cancelled: another layer failed");
    if (written_ + chunk.size() > size_)
      return Error(ErrorCode::kCorrupt, "blob " + digest_.str() + " is longer than the " + std::to_string(size_) +
                                            " bytes its descriptor says; nothing was stored");
    hash_.update(chunk.data(), chunk.size());
    KRUNBOX_TRY_CTX(write_all(fd_.get(), chunk.data(), chunk.size()), "write " + tmp_);
    written_ += chunk.size();
    if (tail) tail->appended(written_);
    if (on_bytes) on_bytes(written_);
    return {};
  }
  Status restart() override {
    if (tail) tail->restarting();
    if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0) return Error::from_errno("truncate " + tmp_);
    hash_ = Sha256();
    written_ = 0;
    return {};
  }
  Status commit() {
    if (written_ != size_)
      return Error(ErrorCode::kCorrupt, "blob " + digest_.str() + " is short: " + std::to_string(written_) + " of " +
                                            std::to_string(size_) + " bytes; nothing was stored");
    Digest got = hash_.finish();
    if (got != digest_)
      return Error(ErrorCode::kCorrupt, "blob content hashes to " + got.str() + ", not the expected " + digest_.str() +
                                            "; nothing was stored (the registry's copy is corrupt or was tampered with)");
    if (::fchmod(fd_.get(), 0644) != 0) return Error::from_errno("chmod " + tmp_);
    if (::fsync(fd_.get()) != 0) return Error::from_errno("fsync " + tmp_);
    fd_.reset();
    std::string final_path = store_.blob_path(digest_);
    std::string dir = dirname_of(final_path);
    KRUNBOX_TRY(make_dirs(dir, 0755));
    if (::rename(tmp_.c_str(), final_path.c_str()) != 0) return Error::from_errno("rename " + tmp_ + " to " + final_path);
    tmp_.clear();
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd) ::fsync(dfd.get());
    return {};
  }

  int fd() const { return fd_.get(); }

  std::function<void(uint64_t)> on_bytes;
  const std::atomic<bool>* cancel = nullptr;
  std::shared_ptr<GrowingFile> tail;  // told about every byte written, for a reader following the download

 private:
  BlobStore& store_;
  Digest digest_;
  uint64_t size_;
  UniqueFd fd_;
  std::string tmp_;
  Sha256 hash_;
  uint64_t written_ = 0;
};

bool stored_with_size(BlobStore& blobs, const Descriptor& d) {
  auto sz = blobs.size_of(d.digest);
  return sz.ok() && *sz == d.size;
}

// `on_tail`, when set, receives the download's GrowingFile once the temp
// file exists, so the caller can read the blob while it arrives; the file's
// outcome is this function's result.
Status fetch_blob(RegistryClient& client, BlobStore& blobs, const Descriptor& d, const std::function<void(uint64_t)>& on_bytes,
                  const std::atomic<bool>* cancel = nullptr,
                  const std::function<void(std::shared_ptr<GrowingFile>)>& on_tail = nullptr) {
  StoreBlobWriter w(blobs, d.digest, d.size);
  KRUNBOX_TRY(w.open());
  w.on_bytes = on_bytes;
  w.cancel = cancel;
  if (on_tail) {
    // Without a tail the layer is simply extracted after the download.
    if (auto tail = GrowingFile::open(w.fd(), "blob " + d.digest.str()); tail.ok()) {
      w.tail = *tail;
      on_tail(*tail);
    }
  }
  Status s = client.blob(d.digest, w);
  if (s.ok()) s = w.commit().wrap("blob " + d.digest.str());
  if (w.tail) w.tail->finished(s);
  return s;
}

// Serializes progress callbacks from the download threads.
class Reporter {
 public:
  explicit Reporter(const std::function<void(const PullEvent&)>& f) : f_(f) {}
  void operator()(const PullEvent& e) {
    if (!f_) return;
    std::lock_guard<std::mutex> g(mu_);
    f_(e);
  }

 private:
  const std::function<void(const PullEvent&)>& f_;
  std::mutex mu_;
};

}  // namespace

Result<PullPolicy> parse_pull_policy(std::string_view text) {
  if (text == "missing") return PullPolicy::kMissing;
  if (text == "always") return PullPolicy::kAlways;
  if (text == "never") return PullPolicy::kNever;
  std::string shown(text.substr(0, 40));
  return Error(ErrorCode::kInvalidArgument, "pull policy \"" + shown + "\" is not missing, always or never")
      .with_field(kPullField, shown);
}

Result<PullResult> pull_image(ImageStore& store, const std::string& ref_text, const PullOptions& options) {
  const ImageLimits& limits = store.limits();
  KRUNBOX_ASSIGN_OR_RETURN(Reference ref, parse_reference(ref_text, limits.max_image_ref_len));
  std::string what = "pull " + ref.familiar();
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd held, store.lock_shared().wrap(what));
  KRUNBOX_ASSIGN_OR_RETURN(auto client, RegistryClient::connect(ref.domain(), ref.path(), options.registry).wrap(what));
  Reporter report(options.progress);
  client->set_retry_observer([&](const RetryNotice& n) {
    report({.kind = PullEvent::Kind::kRetrying, .message = n.what + ": " + n.reason + "; retry " + std::to_string(n.attempt) +
                                                         " in " + std::to_string(n.delay.count()) + " ms"});
  });

  PullResult result;
  BlobStore& blobs = store.blobs();
  // 1. The tagged document, then down through indexes to the platform's manifest.
  std::string want = ref.digest ? ref.digest->str() : ref.tag;
  KRUNBOX_ASSIGN_OR_RETURN(FetchedManifest top, client->manifest(want, limits.max_manifest_size).wrap(what));
  KRUNBOX_ASSIGN_OR_RETURN(ManifestDoc doc, parse_manifest(top.body, top.media_type, limits).wrap(what + ": manifest " + top.digest.str()));
  std::vector<FetchedManifest> documents;
  uint64_t total_size = top.body.size();
  std::string top_media_type = top.media_type;
  Digest top_digest = top.digest;
  documents.push_back(std::move(top));
  for (int depth = 0; std::holds_alternative<Index>(doc); ++depth) {
    if (depth >= 2) return Error(ErrorCode::kCorrupt, what + ": image indexes nest too deeply");
    KRUNBOX_ASSIGN_OR_RETURN(Descriptor d, select_platform(std::get<Index>(doc), options.platform).wrap(what));
    if (d.size > limits.max_manifest_size)
      return Error(ErrorCode::kLimitExceeded, what + ": manifest " + d.digest.str() + " is over the limit of " + std::to_string(limits.max_manifest_size) + " bytes");
    KRUNBOX_ASSIGN_OR_RETURN(FetchedManifest m, client->manifest(d.digest.str(), limits.max_manifest_size).wrap(what));
    if (m.body.size() != d.size)
      return Error(ErrorCode::kCorrupt, what + ": manifest " + d.digest.str() + " is " + std::to_string(m.body.size()) +
                                            " bytes but the index says " + std::to_string(d.size));
    std::string mt = d.media_type.empty() ? m.media_type : d.media_type;
    KRUNBOX_ASSIGN_OR_RETURN(doc, parse_manifest(m.body, mt, limits).wrap(what + ": manifest " + d.digest.str()));
    total_size += m.body.size();
    documents.push_back(std::move(m));
  }
  const Manifest& manifest = std::get<Manifest>(doc);
  result.manifest_digest = documents.back().digest;
  if (manifest.layers.size() > limits.max_layers)
    return Error(ErrorCode::kLimitExceeded, what + ": " + std::to_string(manifest.layers.size()) + " layers, over the limit of " +
                                                std::to_string(limits.max_layers));

  // 2. The config: small, needed for the diff IDs before extraction.
  if (manifest.config.size > limits.max_config_size)
    return Error(ErrorCode::kLimitExceeded, what + ": config is over the limit of " + std::to_string(limits.max_config_size) + " bytes");
  if (stored_with_size(blobs, manifest.config)) {
    ++result.blobs_present;
  } else {
    KRUNBOX_TRY_CTX(fetch_blob(*client, blobs, manifest.config, nullptr), what + ": config");
    ++result.blobs_downloaded;
    result.downloaded_bytes += manifest.config.size;
  }
  KRUNBOX_ASSIGN_OR_RETURN(std::string cfg_text, blobs.read_verified(manifest.config.digest, limits.max_config_size).wrap(what));
  KRUNBOX_ASSIGN_OR_RETURN(ImageConfig config, parse_config(cfg_text, limits).wrap(what + ": config " + manifest.config.digest.str()));
  if (config.diff_ids.size() != manifest.layers.size())
    return Error(ErrorCode::kCorrupt, what + ": the manifest has " + std::to_string(manifest.layers.size()) +
                                          " layers but the config lists " + std::to_string(config.diff_ids.size()) + " diff IDs");
  result.platform = config.platform;
  if (!config.platform.os.empty() && (config.platform.os != options.platform.os || config.platform.architecture != options.platform.architecture))
    KB_WARN("{}: the image is for {}, not {}", ref.familiar(), config.platform.str(), options.platform.str());
  total_size += manifest.config.size;

  // 3. Layers: a small pool of download threads takes them bottom first; an
  //    extraction thread follows behind, layer by layer, as each lands.
  const size_t n = manifest.layers.size();
  uint64_t layer_bytes = 0;
  for (const auto& l : manifest.layers) layer_bytes += l.size;
  total_size += layer_bytes;
  report({.kind = PullEvent::Kind::kResolved, .layers = n, .digest = result.manifest_digest, .total = layer_bytes});

  std::vector<LayerRef> refs;
  for (size_t i = 0; i < n; ++i) refs.push_back({manifest.layers[i].digest, config.diff_ids[i]});
  bool unpack = options.unpack && ::geteuid() == 0 && n > 0;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> ready(n, false);
  std::vector<std::shared_ptr<GrowingFile>> tails(n);  // downloads the extractor may follow
  std::optional<Error> failure;
  std::atomic<bool> stop{false};
  size_t next = 0;
  std::atomic<uint64_t> downloaded{0};
  std::atomic<size_t> fetched{0}, present{0};

  auto fail = [&](Error e) {
    std::lock_guard<std::mutex> g(mu);
    if (!failure) failure = std::move(e);
    stop = true;
    cv.notify_all();
  };
  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::lock_guard<std::mutex> g(mu);
        if (stop || next >= n) return;
        i = next++;
      }
      const Descriptor& d = manifest.layers[i];
      if (stored_with_size(blobs, d)) {
        ++present;
        report({.kind = PullEvent::Kind::kCached, .layer = i, .layers = n, .digest = d.digest, .bytes = d.size, .total = d.size});
      } else {
        report({.kind = PullEvent::Kind::kStarted, .layer = i, .layers = n, .digest = d.digest, .total = d.size});
        auto last = Clock::now();
        uint64_t seen = 0;
        auto on_bytes = [&](uint64_t w) {
          auto now = Clock::now();
          if (now - last >= std::chrono::milliseconds(100) || w == d.size) {
            last = now;
            report({.kind = PullEvent::Kind::kProgress, .layer = i, .layers = n, .digest = d.digest, .bytes = w, .total = d.size});
          }
          downloaded += w > seen ? w - seen : 0;
          seen = w;
        };
        auto on_tail = [&](std::shared_ptr<GrowingFile> tail) {
          std::lock_guard<std::mutex> g(mu);
          tails[i] = std::move(tail);
          cv.notify_all();
        };
        Status s = fetch_blob(*client, blobs, d, on_bytes, &stop, unpack ? on_tail : std::function<void(std::shared_ptr<GrowingFile>)>());
        if (!s.ok()) {
          fail(std::move(s).error().wrap("layer " + std::to_string(i + 1) + " of " + std::to_string(n)));
          return;
        }
        ++fetched;
        report({.kind = PullEvent::Kind::kDownloaded, .layer = i, .layers = n, .digest = d.digest, .bytes = d.size, .total = d.size});
      }
      std::lock_guard<std::mutex> g(mu);
      ready[i] = true;
      cv.notify_all();
    }
  };

  auto extractor = [&] {
    ExtractOptions eo;
    eo.limits = limits;
    eo.opaque_xattr = default_opaque_xattr();
    for (size_t i = 0; i < n; ++i) {
      std::shared_ptr<GrowingFile> tail;
      {
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [&] { return stop || ready[i] || tails[i]; });
        if (stop) return;
        if (!ready[i]) tail = tails[i];
      }
      std::vector<LayerRef> prefix(refs.begin(), refs.begin() + static_cast<long>(i) + 1);
      auto where = [&] { return "extract layer " + std::to_string(i + 1) + " of " + std::to_string(n); };
      bool done = false;
      if (tail) {
        // Follow the download. Nothing is published before the blob is
        // verified and stored (confirm); if the download fails its worker
        // reports why, and if it started over the layer is extracted again
        // from the stored blob below.
        SnapshotStore::Feed feed{[&]() -> Result<std::unique_ptr<ByteSource>> { return tail->reader(); },
                                 [&] { return tail->wait_finished(); }};
        auto chains = store.snapshots().prepare(prefix, eo, &feed);
        if (chains.ok()) {
          done = true;
        } else if (!tail->wait_finished().ok()) {
          return;
        } else if (!tail->has_restarted()) {
          fail(std::move(chains).error().wrap(where()));
          return;
        } else {
          KB_DEBUG("{}: the download started over; extracting again from the stored blob", where());
        }
      }
      if (!done) {
        {
          std::unique_lock<std::mutex> g(mu);
          cv.wait(g, [&] { return stop || ready[i]; });
          if (!ready[i]) return;
        }
        auto chains = store.snapshots().prepare(prefix, eo);
        if (!chains.ok()) {
          fail(std::move(chains).error().wrap(where()));
          return;
        }
      }
      report({.kind = PullEvent::Kind::kExtracted, .layer = i, .layers = n, .digest = manifest.layers[i].digest});
    }
  };

  {
    std::vector<std::thread> threads;
    int parallel = std::clamp(options.parallel, 1, 16);
    for (int t = 0; t < parallel && static_cast<size_t>(t) < n; ++t) threads.emplace_back(worker);
    if (unpack) threads.emplace_back(extractor);
    for (auto& t : threads) t.join();
  }
  if (failure) return std::move(*failure).wrap(what);
  result.downloaded_bytes += downloaded;
  result.blobs_downloaded += fetched;
  result.blobs_present += present;

  // 4. The manifests last, so the store never holds a manifest whose blobs
  //    are missing; then the tag.
  for (const auto& m : documents) {
    if (blobs.has(m.digest)) continue;
    KRUNBOX_TRY_CTX(blobs.put_bytes(m.body, m.digest), what);
  }
  ImageRecord rec;
  rec.name = ref.name;
  rec.tag = ref.digest ? "" : ref.tag;
  rec.digest = top_digest;
  rec.media_type = top_media_type.empty() ? (std::holds_alternative<Index>(doc) ? std::string(media::kOciIndex) : std::string(media::kOciManifest))
                                          : top_media_type;
  rec.size = total_size;
  rec.created = config.created;
  rec.loaded_at = now_rfc3339();
  KRUNBOX_TRY_CTX(store.index().update([&](std::vector<ImageRecord>& all) -> Status {
                    std::erase_if(all, [&](const ImageRecord& r) {
                      if (r.name != rec.name || r.tag != rec.tag) return false;
                      // Untagged (by digest) records are one per digest.
                      return !rec.tag.empty() || r.digest == rec.digest;
                    });
                    all.push_back(rec);
                    return {};
                  }),
                  what);
  result.record = std::move(rec);
  return result;
}

Result<ResolvedImage> ensure_image(ImageStore& store, const std::string& ref, PullPolicy policy, const PullOptions& options) {
  if (policy == PullPolicy::kAlways) {
    KRUNBOX_TRY(pull_image(store, ref, options));
    return store.resolve(ref, options.platform);
  }
  auto found = store.resolve(ref, options.platform);
  if (found.ok() || policy == PullPolicy::kNever || found.error().code() != ErrorCode::kNotFound) return found;
  // Only a name that is not a local digest prefix can be pulled.
  if (!parse_reference(ref, store.limits().max_image_ref_len).ok()) return found;
  KRUNBOX_TRY(pull_image(store, ref, options));
  return store.resolve(ref, options.platform);
}

}  // namespace krunbox::image
