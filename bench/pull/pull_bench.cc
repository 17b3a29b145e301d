// One timed "pull + root ready" with the krunbox library into a fresh store:
// pull_image (parallel downloads, verification, extraction as layers land)
// then create_root (the sandbox root a run would use). Prints the seconds.
// usage: krunbox_bench_pull STORE_DIR REF
#include <unistd.h>

#include <chrono>
#include <cstdio>

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
  auto pulled = pull_image(**store, argv[2]);
  if (!pulled.ok()) {
    std::fprintf(stderr, "%s\n", pulled.error().what().c_str());
    return 1;
  }
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
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t compressed = 0;
  for (const auto& l : img->manifest.layers) compressed += l.size;
  std::printf("%.3f %zu %llu %d\n", s, img->manifest.layers.size(), static_cast<unsigned long long>(compressed), root->overlay ? 1 : 0);
  (void)(*store)->release_root("bench");
  return 0;
}
