#include "docker/images.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <mutex>

#include "base/json.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "docker/errors.h"
#include "image/image_store.h"
#include "image/reference.h"
#include "image/registry_auth.h"
#include "image/registry_pull.h"
#include "sandbox/image_root.h"
#include "sandbox/provision.h"
#include "serve/responses.h"

namespace krunbox::docker {
namespace {

using serve::HttpResponse;

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

std::string repo_tag(const image::ImageRecord& r) { return image::familiar_name(r.name) + ":" + r.tag; }

Json summary(const image::ImageRecord& r) {
  return {{"Id", r.digest.str()},
          {"ParentId", ""},
          {"RepoTags", {repo_tag(r)}},
          {"RepoDigests", {image::familiar_name(r.name) + "@" + r.digest.str()}},
          {"Created", unix_of_rfc3339(r.created)},
          {"Size", r.size},
          {"SharedSize", -1},
          {"VirtualSize", r.size},
          {"Labels", Json::object()},
          {"Containers", -1}};
}

Result<image::ImageRecord> find(image::ImageStore& store, const std::string& name) {
  // "sha256:HEX" and bare hex prefixes are ids; the store takes both.
  std::string ref = name.rfind("sha256:", 0) == 0 ? name.substr(7) : name;
  auto r = store.find(ref);
  // A name the store cannot read is not in it either, as Docker answers.
  if (!r && (r.error().code() == ErrorCode::kNotFound || r.error().code() == ErrorCode::kInvalidArgument))
    return no_such_image(name);
  return r;
}

std::string short_digest(const image::Digest& d) { return d.hex().substr(0, 12); }

void image_event(Call& c, const std::string& action, const std::string& name) {
  c.state.events.add({.type = "image", .action = action, .id = name, .attributes = {{"name", name}}});
}

Json message(std::string status, std::string id = "") {
  Json j = {{"status", std::move(status)}};
  if (!id.empty()) j["id"] = std::move(id);
  return j;
}

}  // namespace

int64_t unix_of_rfc3339(const std::string& text) {
  std::tm tm{};
  if (text.size() < 19 || !strptime(text.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

Result<HttpResponse> list_images(Call& c) {
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  KRUNBOX_ASSIGN_OR_RETURN(auto list, store->list());
  KRUNBOX_ASSIGN_OR_RETURN(Filters filters, parse_filters(c.query.get("filters").value_or("")));
  Json out = Json::array();
  for (const auto& r : list) {
    bool keep = true;
    for (const auto& want : filters["reference"]) keep = keep && repo_tag(r).find(want) != std::string::npos;
    if (keep) out.push_back(summary(r));
  }
  return serve::json_response(200, out);
}

Result<HttpResponse> inspect_image(Call& c, const std::string& name) {
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  KRUNBOX_ASSIGN_OR_RETURN(image::ImageRecord rec, find(*store, name));
  KRUNBOX_ASSIGN_OR_RETURN(Json doc, store->inspect(rec.digest.hex()));
  Json config = doc["config"];
  // Docker's config has sets as objects ({"80/tcp": {}}).
  for (const char* set : {"ExposedPorts", "Volumes"}) {
    Json& v = config[set];
    if (!v.is_array()) continue;
    Json obj = Json::object();
    for (const auto& e : v)
      if (e.is_string()) obj[e.get<std::string>()] = Json::object();
    v = obj.empty() ? Json(nullptr) : obj;
  }
  Json layers = Json::array();
  for (const auto& l : doc["layers"]) layers.push_back(l.value("diff_id", ""));
  std::string platform = doc.value("platform", "linux/amd64");
  std::string os = platform.substr(0, platform.find('/'));
  std::string arch = platform.find('/') == std::string::npos ? "" : platform.substr(platform.find('/') + 1);
  Json out = summary(rec);
  out["Created"] = doc.value("created", "");
  out["Architecture"] = arch.substr(0, arch.find('/'));
  out["Os"] = os;
  out["Author"] = doc.value("author", "");
  out["Config"] = config;
  out["RootFS"] = {{"Type", "layers"}, {"Layers", layers}};
  out["Metadata"] = {{"LastTagTime", doc.value("loaded_at", "")}};
  out["DockerVersion"] = "";
  out["Comment"] = "";
  (void)c;
  return serve::json_response(200, out);
}

Result<HttpResponse> remove_image(Call& c, const std::string& name) {
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  KRUNBOX_ASSIGN_OR_RETURN(image::ImageRecord rec, find(*store, name));
  // An image a container was made from stays unless forced, as in Docker.
  if (!c.query.flag("force")) {
    KRUNBOX_ASSIGN_OR_RETURN(auto views, c.lc.list());
    for (const auto& v : views) {
      auto used = store->find(v.config.image);
      if (used && used->digest == rec.digest)
        return Error(ErrorCode::kAlreadyExists, "conflict: unable to remove repository reference \"" + name +
                                                    "\" (must force) - container " + v.id.substr(0, 12) +
                                                    " is using its referenced image " + short_digest(rec.digest));
    }
  }
  std::string ref = name.rfind("sha256:", 0) == 0 ? name.substr(7) : name;
  KRUNBOX_ASSIGN_OR_RETURN(auto removed, store->remove(ref));
  for (const auto& r : removed) image_event(c, "untag", repo_tag(r));
  for (const auto& r : removed) image_event(c, "delete", r.digest.str());
  Json out = Json::array();
  for (const auto& r : removed) out.push_back({{"Untagged", repo_tag(r)}});
  for (const auto& r : removed) out.push_back({{"Deleted", r.digest.str()}});
  return serve::json_response(200, out);
}

Result<HttpResponse> pull_image(Call& c) {
  if (c.query.get("fromSrc")) return bad("importing (fromSrc) is not supported; pull with fromImage");
  std::string from = c.query.get("fromImage").value_or("");
  if (from.empty()) return bad("fromImage is required");
  std::string tag = c.query.get("tag").value_or("");
  std::string text = from;
  if (!tag.empty()) text += (tag.rfind("sha256:", 0) == 0 ? "@" : ":") + tag;
  auto ref = image::parse_reference(text);
  if (!ref) return bad("invalid reference format: " + text.substr(0, 128));
  image::PullOptions options;
  if (auto p = c.query.get("platform"); p && !p->empty()) {
    auto plat = image::parse_platform(*p);
    if (!plat) return std::move(plat).error();
    options.platform = *plat;
  }
  KRUNBOX_ASSIGN_OR_RETURN(options.registry.insecure, image::load_insecure_registries());
  std::string familiar = ref->familiar();
  HttpResponse r;
  r.stream = [options, text, familiar, path = ref->path(), tag = ref->tag,
              events = c.state.events](const serve::ChunkWriter& write) mutable {
    std::mutex mu;
    bool gone = false;
    auto line = [&](const Json& j) {
      std::lock_guard lock(mu);
      if (!gone && !write(serve::dump_json(j) + "\r\n")) gone = true;
    };
    auto fail = [&](const Error& e) { line({{"errorDetail", {{"message", e.what()}}}, {"error", e.what()}}); };
    auto store = open_image_store();
    if (!store) return fail(store.error());
    line(message("Pulling from " + path, tag.empty() ? "latest" : tag));
    // Layer ids by index, once the manifest is known.
    std::vector<std::string> ids;
    options.progress = [&](const image::PullEvent& e) {
      using K = image::PullEvent::Kind;
      std::string id = e.digest.hex().empty() ? "" : short_digest(e.digest);
      switch (e.kind) {
        case K::kResolved: return;
        case K::kCached: return line(message("Already exists", id));
        case K::kStarted: return line(message("Pulling fs layer", id));
        case K::kProgress: {
          Json j = message("Downloading", id);
          j["progressDetail"] = {{"current", e.bytes}, {"total", e.total}};
          return line(j);
        }
        case K::kRetrying: return line(message("Retrying: " + e.message));
        case K::kDownloaded: return line(message("Download complete", id));
        case K::kExtracted: return line(message("Pull complete", id));
      }
    };
    auto result = image::pull_image(**store, text, options);
    if (!result) return fail(result.error());
    events.add({.type = "image", .action = "pull", .id = familiar, .attributes = {{"name", familiar}}});
    line(message("Digest: " + result->record.digest.str()));
    line(message((result->blobs_downloaded ? "Status: Downloaded newer image for " : "Status: Image is up to date for ") +
                 familiar));
  };
  return r;
}

Result<HttpResponse> load_image(Call& c) {
  if (auto p = c.query.get("platform"); p && !p->empty() && *p != "linux" && p->rfind("linux/", 0) != 0)
    return bad("platform " + p->substr(0, 32) + " is not supported");
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  // Shared, as the load itself holds it: a gc cannot sweep the spooled body.
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd held, store->lock_shared());
  KRUNBOX_TRY(store->blobs().init());
  // The loader reads a file (it may take the archive apart in two passes
  // of its own): the body is spooled into the store's temp dir first.
  KRUNBOX_ASSIGN_OR_RETURN(TempDir dir, TempDir::create("load-", store->blobs().temp_dir()));
  std::string path = dir.path() + "/image.tar";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno("create " + path);
    uint64_t total = 0;
    const uint64_t limit = store->limits().max_layers * store->limits().max_layer_size + (64ull << 20);
    std::vector<char> buf(1 << 20);
    size_t used = 0;
    for (;;) {
      size_t n = 0;
      if (c.req.body_source) {
        KRUNBOX_ASSIGN_OR_RETURN(n, c.req.body_source(buf.data(), buf.size()));
      } else {
        n = std::min(buf.size(), c.req.body.size() - used);
        std::copy_n(c.req.body.data() + used, n, buf.data());
        used += n;
      }
      if (n == 0) break;
      total += n;
      if (total > limit)
        return Error(ErrorCode::kLimitExceeded, "the image archive is over " + std::to_string(limit >> 20) + " MiB");
      KRUNBOX_TRY_CTX(write_all(fd.get(), buf.data(), n), "write " + path);
    }
    if (total == 0) return bad("the request body is empty: send a docker save or OCI layout tar");
  }
  auto loaded = store->load(path);
  if (!loaded) return std::move(loaded).error().wrap("load the image archive");
  // Docker's clients (the CLI, docker-py) take the names from these lines.
  std::string body;
  for (const auto& rec : loaded->images) {
    body += serve::dump_json({{"stream", "Loaded image: " + repo_tag(rec) + "\n"}}) + "\r\n";
    image_event(c, "load", repo_tag(rec));
  }
  HttpResponse r;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

}  // namespace krunbox::docker
