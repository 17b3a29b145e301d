// The image endpoints: the local store (list, inspect, remove) and pulls
// from a registry, with progress as NDJSON events.
#include "serve/api_images.h"

#include <chrono>
#include <mutex>

#include "image/image_store.h"
#include "image/reference.h"
#include "image/registry_pull.h"
#include "sandbox/image_root.h"
#include "serve/exec_events.h"
#include "serve/request_parse.h"
#include "serve/responses.h"

namespace krunbox::serve {
namespace {

using Clock = std::chrono::steady_clock;

// A layer's progress goes out at most this often; its other events always.
constexpr auto kProgressEvery = std::chrono::milliseconds(250);

const char* layer_state(image::PullEvent::Kind k) {
  using K = image::PullEvent::Kind;
  switch (k) {
    case K::kCached: return "cached";
    case K::kStarted: return "downloading";
    case K::kProgress: return "downloading";
    case K::kDownloaded: return "downloaded";
    case K::kExtracted: return "extracted";
    default: return "";
  }
}

Json pull_event(const image::PullEvent& e) {
  using K = image::PullEvent::Kind;
  if (e.kind == K::kResolved)
    return {{"type", "resolved"}, {"digest", e.digest.str()}, {"layers", e.layers}, {"total", e.total}};
  if (e.kind == K::kRetrying) return {{"type", "retrying"}, {"message", e.message}};
  return {{"type", "layer"},  {"index", e.layer}, {"digest", e.digest.str()}, {"state", layer_state(e.kind)},
          {"bytes", e.bytes}, {"total", e.total}};
}

Json pulled_event(const image::PullResult& r) {
  Json j = image::to_json(r.record);
  j["type"] = "pulled";
  j["platform"] = r.platform.str();
  j["blobs_downloaded"] = r.blobs_downloaded;
  j["blobs_present"] = r.blobs_present;
  j["downloaded_bytes"] = r.downloaded_bytes;
  return j;
}

Result<image::PullOptions> pull_options(const PullBody& body) {
  image::PullOptions o;
  o.platform = body.platform;
  KRUNBOX_ASSIGN_OR_RETURN(o.registry.insecure, image::load_insecure_registries());
  return o;
}

Result<HttpResponse> pull(const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  KRUNBOX_ASSIGN_OR_RETURN(PullBody body, parse_pull_body(req.body));
  KRUNBOX_ASSIGN_OR_RETURN(image::PullOptions options, pull_options(body));
  if (!wants_ndjson(req.accept)) {
    KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
    KRUNBOX_ASSIGN_OR_RETURN(auto result, image::pull_image(*store, body.ref, options));
    Json doc = pulled_event(result);
    doc.erase("type");
    return json_response(200, doc);
  }
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [body, options](const ChunkWriter& write) mutable {
    // Layer events come from the pull's download threads.
    std::mutex mu;
    bool gone = false;
    std::vector<Clock::time_point> last;
    auto line = [&](const Json& j) {
      std::lock_guard lock(mu);
      if (!gone && !write(dump_json(j) + "\n")) gone = true;
    };
    options.progress = [&](const image::PullEvent& e) {
      if (e.kind == image::PullEvent::Kind::kProgress) {
        std::lock_guard lock(mu);
        if (last.size() <= e.layer) last.resize(e.layer + 1);
        auto now = Clock::now();
        if (now - last[e.layer] < kProgressEvery) return;
        last[e.layer] = now;
      }
      line(pull_event(e));
    };
    auto store = open_image_store();
    if (!store) return line(error_event(store.error()));
    // A client that goes does not stop the pull: what is downloaded stays
    // in the store for the next one.
    auto result = image::pull_image(**store, body.ref, options);
    line(result ? pulled_event(*result) : error_event(result.error()));
  };
  return r;
}

}  // namespace

Result<HttpResponse> images_endpoint(const std::vector<std::string>& rest, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  if (rest.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
    (void)query;
    KRUNBOX_ASSIGN_OR_RETURN(auto list, store->list());
    Json out = Json::array();
    for (const auto& r : list) out.push_back(image::to_json(r));
    return json_response(200, out);
  }
  if (rest.size() == 1 && rest[0] == "pull" && req.method == "POST") return pull(req);
  // The reference is the rest of the path ("docker.io/library/busybox:1.36"),
  // or a digest or its prefix.
  std::string ref;
  for (const auto& seg : rest) ref += (ref.empty() ? "" : "/") + seg;
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  if (req.method == "DELETE") {
    KRUNBOX_ASSIGN_OR_RETURN(auto removed, store->remove(ref));
    Json out = Json::array();
    for (const auto& r : removed) out.push_back(image::to_json(r));
    return json_response(200, {{"removed", out}});
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto record, store->find(ref));
  KRUNBOX_ASSIGN_OR_RETURN(Json config, store->inspect(ref));
  Json doc = image::to_json(record);
  doc["inspect"] = std::move(config);
  return json_response(200, doc);
}

}  // namespace krunbox::serve
