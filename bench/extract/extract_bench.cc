// Layer extraction benchmark: krunbox vs `tar -xzf` (the same layer blobs,
// one after another into one directory) vs `umoci unpack` (the whole image),
// in one run on one generated fixture. Prints medians and ratios.
//
// usage: krunbox_bench_extract WORK_DIR [RUNS] [OUT_DIR]
// The fixture lives in WORK_DIR; everything the tools write (krunbox's store,
// tar's tree, umoci's bundle) goes to OUT_DIR (default WORK_DIR). run.sh
// points OUT_DIR at a freshly made ext4, see bench/lib/scratch-fs.sh.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/subprocess.h"
#include "image/image_store.h"

using namespace krunbox;
using namespace krunbox::image;

namespace {

constexpr const char* kTag = "bench";

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "extract_bench: %s\n", msg.c_str());
  std::exit(1);
}

void run(const std::vector<std::string>& argv) {
  RunOptions o;
  o.timeout = std::chrono::minutes(30);
  auto r = run_capture(argv, o);
  if (!r.ok()) die(argv[0] + ": " + r.error().what());
  if (!r->status.success()) die(argv[0] + " failed: " + r->err);
}

// File content: part incompressible, part text-like, so the layers
// compress about as well as a distribution image does (~45%).
std::string content(std::mt19937_64& rng, size_t size) {
  std::string s(size, '\0');
  size_t random_part = size * 45 / 100;
  for (size_t i = 0; i < random_part; ++i) s[i] = static_cast<char>(rng());
  static const char* kWords[] = {"config ", "value ", "library ", "=1\n", "function ", "return ", "int ", "{}\n", "path/to/"};
  size_t i = random_part;
  while (i < size) {
    std::string w = kWords[rng() % 9];
    if (rng() % 4 == 0) w += std::to_string(rng() % 100000);
    for (char c : w) {
      if (i >= size) break;
      s[i++] = c;
    }
  }
  return s;
}

struct LayerPlan {
  int files;
  int dirs;
  unsigned seed;
};

void make_stage(const std::string& dir, const LayerPlan& plan, int index) {
  std::mt19937_64 rng(plan.seed);
  if (auto st = make_dirs(dir); !st) die(st.error().what());
  for (int i = 0; i < plan.files; ++i) {
    std::string sub = "usr/share/pkg" + std::to_string(i % plan.dirs) + "/d" + std::to_string(i % 7);
    size_t size = (rng() % 100 < 6) ? 100000 + rng() % 500000 : 500 + rng() % 15500;
    std::string path = dir + "/" + sub + "/file" + std::to_string(index) + "_" + std::to_string(i);
    if (i % 7 == 0) (void)make_dirs(dir + "/" + sub);
    (void)make_dirs(dir + "/" + sub);
    if (auto st = write_file_atomic(path, content(rng, size)); !st) die(st.error().what());
  }
  if (index == 1) {
    // Deletions of layer 1 content: file and directory whiteouts, an opaque dir.
    (void)write_file_atomic(dir + "/usr/share/pkg0/d0/.wh.file0_0", "");
    (void)write_file_atomic(dir + "/usr/share/pkg1/.wh.d1", "");
    (void)make_dirs(dir + "/usr/share/pkg2");
    (void)write_file_atomic(dir + "/usr/share/pkg2/.wh..wh..opq", "");
  }
  (void)::symlink("usr/share", (dir + "/share").c_str());
}

std::string layout_dir(const std::string& work) { return work + "/layout"; }

void make_fixture(const std::string& work) {
  if (path_exists(work + "/fixture.done")) return;
  std::fprintf(stderr, "generating the fixture in %s (once)...\n", work.c_str());
  (void)remove_tree(layout_dir(work));
  run({"umoci", "init", "--layout", layout_dir(work)});
  run({"umoci", "new", "--image", layout_dir(work) + ":" + kTag});
  std::vector<LayerPlan> plans = {{6400, 400, 1}, {1800, 150, 2}, {400, 40, 3}};
  for (size_t i = 0; i < plans.size(); ++i) {
    std::string stage = work + "/stage" + std::to_string(i);
    (void)remove_tree(stage);
    make_stage(stage, plans[i], static_cast<int>(i));
    std::string tar = work + "/layer" + std::to_string(i) + ".tar";
    run({"tar", "--numeric-owner", "-C", stage, "-cf", tar, "."});
    run({"umoci", "raw", "add-layer", "--no-history", "--image", layout_dir(work) + ":" + kTag, tar});
    (void)remove_tree(stage);
    ::unlink(tar.c_str());
  }
  run({"umoci", "config", "--image", layout_dir(work) + ":" + kTag, "--config.cmd", "/bin/sh"});
  (void)write_file_atomic(work + "/fixture.done", "");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: krunbox_bench_extract WORK_DIR [RUNS] [OUT_DIR]");
  std::string work = argv[1];
  int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::string out_dir = argc > 3 ? argv[3] : work;
  if (auto st = make_dirs(work); !st) die(st.error().what());
  if (auto st = make_dirs(out_dir); !st) die(st.error().what());
  for (const char* tool : {"umoci", "tar", "gzip"})
    if (!find_program(tool)) die(std::string(tool) + " is not installed");
  make_fixture(work);

  std::string store_dir = out_dir + "/store";
  (void)remove_tree(store_dir);
  auto store = ImageStore::open(store_dir);
  if (!store.ok()) die(store.error().what());
  auto loaded = (*store)->load(layout_dir(work), {.name = "bench"});
  if (!loaded.ok()) die(loaded.error().what());
  auto img = (*store)->resolve(std::string("bench:") + kTag);
  if (!img.ok()) die(img.error().what());

  uint64_t compressed = 0, entries = 0;
  for (const auto& l : img->manifest.layers) compressed += l.size;
  std::vector<std::string> blobs;
  for (const auto& l : img->layers) {
    blobs.push_back((*store)->blobs().blob_path(l.blob));
    // Warm the page cache: krunbox and tar read the store's copy, umoci the layout's.
    (void)read_file(blobs.back(), 1ull << 31);
    (void)read_file(layout_dir(work) + "/blobs/sha256/" + l.blob.hex(), 1ull << 31);
  }

  auto drop_snapshots = [&] {
    auto all = (*store)->snapshots().list();
    if (!all.ok()) die(all.error().what());
    for (const auto& c : *all) (void)(*store)->snapshots().remove(c);
  };
  bool read_ahead = std::getenv("KRUNBOX_BENCH_NO_READ_AHEAD") == nullptr;
  auto extract_snapshots = [&](Inflater inflater) {
    drop_snapshots();
    (void)(*store)->blobs().clean_temp();
    ExtractOptions o;
    o.limits = (*store)->limits();
    o.inflater = inflater;
    o.read_ahead = read_ahead;
    o.chown = ::geteuid() == 0;
    o.opaque_xattr = default_opaque_xattr();
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*store)->snapshots().prepare(img->layers, o);
    double s = seconds_since(t0);
    if (!r.ok()) die(r.error().what());
    entries = 0;
    for (const auto& c : *r) {
      auto info = (*store)->snapshots().info(c);
      if (info.ok()) entries += info->entries;
    }
    return s;
  };
  auto tar_xzf = [&] {
    std::string out = out_dir + "/tar-out";
    (void)remove_tree(out);
    (void)make_dirs(out);
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& b : blobs) run({"tar", "--numeric-owner", "-xzf", b, "-C", out});
    double s = seconds_since(t0);
    (void)remove_tree(out);
    return s;
  };
  auto umoci_unpack = [&] {
    std::string bundle = out_dir + "/bundle";
    (void)remove_tree(bundle);
    auto t0 = std::chrono::steady_clock::now();
    run({"umoci", "unpack", "--image", layout_dir(work) + ":" + kTag, bundle});
    double s = seconds_since(t0);
    (void)remove_tree(bundle);
    return s;
  };

  std::vector<double> k_isal, k_zlib, t_tar, t_umoci;
  bool have_isal = inflater_available(Inflater::kIsal);
  // KRUNBOX_BENCH_ONLY_KRUNBOX=1 skips the peers (for profiling).
  bool only_krunbox = std::getenv("KRUNBOX_BENCH_ONLY_KRUNBOX") != nullptr;
  for (int i = 0; i < runs; ++i) {
    if (have_isal) k_isal.push_back(extract_snapshots(Inflater::kIsal));
    if (only_krunbox) {
      std::fprintf(stderr, "krunbox (isa-l): %.3f s\n", k_isal.empty() ? 0.0 : k_isal.back());
      continue;
    }
    k_zlib.push_back(extract_snapshots(Inflater::kZlib));
    t_tar.push_back(tar_xzf());
    t_umoci.push_back(umoci_unpack());
    std::fprintf(stderr, "run %d/%d done\n", i + 1, runs);
  }
  drop_snapshots();
  if (only_krunbox) return 0;

  double k = have_isal ? median(k_isal) : median(k_zlib);
  std::printf("fixture: %zu layers, %.1f MB compressed, %llu entries; %d runs, medians\n", blobs.size(), compressed / 1e6,
              static_cast<unsigned long long>(entries), runs);
  if (have_isal) std::printf("krunbox extract (isa-l inflate)  %7.3f s\n", median(k_isal));
  std::printf("krunbox extract (zlib inflate)   %7.3f s\n", median(k_zlib));
  std::printf("tar -xzf (same layers)           %7.3f s\n", median(t_tar));
  std::printf("umoci unpack (whole image)       %7.3f s\n", median(t_umoci));
  std::printf("ratio tar/krunbox                %7.2fx  (goal >= 2x)\n", median(t_tar) / k);
  std::printf("ratio umoci/krunbox              %7.2fx  (goal >= 5x)\n", median(t_umoci) / k);
  if (have_isal) std::printf("ratio zlib/isa-l (krunbox)       %7.2fx\n", median(k_zlib) / median(k_isal));
  return 0;
}
