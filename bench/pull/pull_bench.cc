// One timed "pull + root ready" with the krunbox library into a fresh store:
// pull_image (parallel downloads, verification, extraction as layers land)
// then create_root (the sandbox root a run would use). Prints the seconds.
// usage: krunbox_bench_pull STORE_DIR REF
// KRUNBOX_BENCH_TRACE=1 prints each layer's events with their times to stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "base/fs.h"
#include "image/registry_pull.h"

using namespace krunbox;
using namespace krunbox::image;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: krunbox_bench_pull STORE_DIR REF\n");
    return 2;
  }
  std::string dir = argv[1];
  (void)remove_tree(dir);
  auto t0 = std::chrono::steady_clock::now();
  auto store = ImageStore::open(dir);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().what().c_str());
    return 1;
  }
  PullOptions options;
  if (std::getenv("KRUNBOX_BENCH_TRACE")) {
    options.progress = [t0](const PullEvent& e) {
      static const char* kNames[] = {"resolved", "cached", "started", "progress", "retrying", "downloaded", "extracted"};
      if (e.kind == PullEvent::Kind::kProgress) return;
      double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "%7.3f s  layer %zu  %s %s\n", at, e.layer, kNames[static_cast<int>(e.kind)], e.message.c_str());
    };
  }
  auto pulled = pull_image(**store, argv[2], options);
  if (!pulled.ok()) {
    std::fprintf(stderr, "%s\n", pulled.error().what().c_str());
    return 1;
  }
  auto trace = [&](const char* what) {
    if (!std::getenv("KRUNBOX_BENCH_TRACE")) return;
    std::fprintf(stderr, "%7.3f s  %s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), what);
  };
  trace("pulled");
  auto img = (*store)->resolve(argv[2]);
  if (!img.ok()) {
    std::fprintf(stderr, "%s\n", img.error().what().c_str());
    return 1;
  }
  auto root = (*store)->create_root("bench", *img);
  if (!root.ok()) {
    std::fprintf(stderr, "%s\n", root.error().what().c_str());
    return 1;
  }
  trace("root ready");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t compressed = 0;
  for (const auto& l : img->manifest.layers) compressed += l.size;
  std::printf("%.3f %zu %llu %d\n", s, img->manifest.layers.size(), static_cast<unsigned long long>(compressed), root->overlay ? 1 : 0);
  (void)(*store)->release_root("bench");
  return 0;
}
