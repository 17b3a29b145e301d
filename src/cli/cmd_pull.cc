// krunbox pull [--platform P] [-q] REF: fetch an image from a registry into
// the local store, with per-layer progress bars on a terminal and plain
// lines otherwise.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "cli/command.h"
#include "sandbox/image_root.h"
#include "image/registry_pull.h"

namespace krunbox::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct PullFlags {
  std::string ref;
  std::string platform;
  bool quiet = false;
  std::vector<std::string> insecure;
  int timeout = static_cast<int>(image::kImagePullTimeout.count());
  int parallel = 3;
  bool no_unpack = false;
};

std::string human_bytes(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

std::string short_digest(const image::Digest& d) {
  return d.hex().substr(0, 12);
}

// Draws one line per layer and redraws them in place (ANSI cursor movement).
class ProgressView {
 public:
  explicit ProgressView(bool tty) : tty_(tty) {}

  void on_event(const image::PullEvent& e) {
    using K = image::PullEvent::Kind;
    if (e.kind == K::kResolved) {
      layers_.assign(e.layers, Layer{});
      std::fprintf(stderr, "Manifest %s: %zu layers, %s\n", e.digest.str().c_str(), e.layers,
                   human_bytes(static_cast<double>(e.total)).c_str());
      return;
    }
    if (e.kind == K::kRetrying) {
      if (tty_) clear();
      std::fprintf(stderr, "retrying: %s\n", terminal_safe(e.message).c_str());
      if (tty_) draw();
      return;
    }
    if (e.layer >= layers_.size()) return;
    Layer& l = layers_[e.layer];
    l.digest = e.digest;
    l.total = e.total ? e.total : l.total;
    switch (e.kind) {
      case K::kCached:
        l.state = "Already exists";
        l.bytes = l.total;
        break;
      case K::kStarted:
        l.state = "Downloading";
        l.started = Clock::now();
        break;
      case K::kProgress: l.bytes = e.bytes; break;
      case K::kDownloaded:
        l.state = "Verified";
        l.bytes = l.total;
        l.done = Clock::now();
        break;
      case K::kExtracted: l.state = "Extracted"; break;
      default: break;
    }
    if (tty_) {
      auto now = Clock::now();
      if (e.kind != K::kProgress || now - last_draw_ > std::chrono::milliseconds(100)) {
        last_draw_ = now;
        clear();
        draw();
      }
    } else if (e.kind != K::kProgress && e.kind != K::kStarted) {
      std::fprintf(stderr, "layer %zu/%zu %s %s: %s\n", e.layer + 1, layers_.size(), short_digest(l.digest).c_str(),
                   human_bytes(static_cast<double>(l.total)).c_str(), l.state.c_str());
    }
  }

  void finish() {
    if (tty_ && drawn_) {
      clear();
      draw();
    }
  }

 private:
  struct Layer {
    image::Digest digest;
    uint64_t bytes = 0, total = 0;
    std::string state = "Waiting";
    Clock::time_point started{}, done{};
  };

  void clear() {
    if (drawn_) std::fprintf(stderr, "\x1b[%zuA", drawn_);
    drawn_ = 0;
  }
  void draw() {
    for (const auto& l : layers_) {
      std::string line = short_digest(l.digest).empty() ? std::string(12, ' ') : short_digest(l.digest);
      line += "  " + l.state;
      if (l.state == "Downloading" && l.total) {
        constexpr int kWidth = 30;
        int fill = static_cast<int>(kWidth * static_cast<double>(l.bytes) / static_cast<double>(l.total));
        line = short_digest(l.digest) + "  [" + std::string(fill, '=') + (fill < kWidth ? ">" : "") +
               std::string(std::max(0, kWidth - fill - 1), ' ') + "] ";
        double secs = std::chrono::duration<double>(Clock::now() - l.started).count();
        double rate = secs > 0 ? static_cast<double>(l.bytes) / secs : 0;
        line += human_bytes(static_cast<double>(l.bytes)) + "/" + human_bytes(static_cast<double>(l.total));
        if (rate > 0) {
          line += "  " + human_bytes(rate) + "/s";
          line += "  ETA " + std::to_string(static_cast<int>(static_cast<double>(l.total - l.bytes) / rate)) + "s";
        }
      } else if (l.total) {
        line += "  " + human_bytes(static_cast<double>(l.total));
      }
      std::fprintf(stderr, "\x1b[2K%s\n", line.c_str());
      ++drawn_;
    }
    std::fflush(stderr);
  }

  bool tty_;
  std::vector<Layer> layers_;
  size_t drawn_ = 0;
  Clock::time_point last_draw_{};
};

int run_pull(const PullFlags& f) {
  image::PullOptions o;
  if (!f.platform.empty()) {
    auto p = image::parse_platform(f.platform);
    if (!p.ok()) return report_error(std::move(p).error().wrap("--platform"));
    o.platform = *p;
  }
  auto insecure = image::load_insecure_registries();
  if (!insecure.ok()) return report_error(insecure.error());
  o.registry.insecure = *insecure;
  o.registry.insecure.insert(o.registry.insecure.end(), f.insecure.begin(), f.insecure.end());
  if (f.timeout <= 0)
    return report_error(Error(ErrorCode::kInvalidArgument, "--timeout must be a positive number of seconds"));
  o.registry.timeout = std::chrono::seconds(f.timeout);
  o.parallel = f.parallel;
  o.unpack = !f.no_unpack;
  ProgressView view(::isatty(STDERR_FILENO) == 1);
  if (!f.quiet) o.progress = [&](const image::PullEvent& e) { view.on_event(e); };
  auto store = open_image_store();
  if (!store.ok()) return report_error(store.error());
  auto started = Clock::now();
  auto r = image::pull_image(**store, f.ref, o);
  view.finish();
  if (!r.ok()) return report_error(r.error());
  if (f.quiet) {
    std::printf("%s\n", r->record.digest.str().c_str());
    return 0;
  }
  double secs = std::chrono::duration<double>(Clock::now() - started).count();
  std::string name = image::familiar_name(r->record.name) + (r->record.tag.empty() ? "" : ":" + r->record.tag);
  std::printf("Pulled %s (%s) for %s: %zu blobs downloaded (%s), %zu already present, %.1f s\n", name.c_str(),
              r->record.digest.str().c_str(), r->platform.str().c_str(), r->blobs_downloaded,
              human_bytes(static_cast<double>(r->downloaded_bytes)).c_str(), r->blobs_present, secs);
  return 0;
}

void setup_pull(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<PullFlags>();
  auto* cmd = app.add_subcommand("pull", "Pull an image from a registry into the local store");
  cmd->add_option("ref", f->ref, "Image reference: NAME[:TAG][@DIGEST] (\"alpine\", \"ghcr.io/org/app:1.2\")");
  cmd->add_option("--platform", f->platform,
                  "os/arch[/variant] to pull from a multi-platform image (default: this host's)");
  cmd->add_flag("-q,--quiet", f->quiet, "Print only the image digest");
  cmd->add_option(
      "--insecure-registry", f->insecure,
      "Registry (host:port) to reach over plain HTTP or unverified TLS; also read from /etc/krunbox/registries.json");
  cmd->add_option("--timeout", f->timeout, "Seconds any one registry operation may take, retries included")
      ->capture_default_str();
  cmd->add_option("--parallel", f->parallel, "Layers downloaded at once")->capture_default_str();
  cmd->add_flag("--no-unpack", f->no_unpack, "Only download; extract layers when a sandbox first uses the image");
  cmd->callback([&ctx, f] {
    if (f->ref.empty()) {
      ctx.exit_code = report_error(Error(ErrorCode::kInvalidArgument, "pull needs an image: krunbox pull NAME[:TAG]"));
      return;
    }
    ctx.exit_code = run_pull(*f);
  });
}

}  // namespace

KRUNBOX_COMMAND(pull, setup_pull);

}  // namespace krunbox::cli
