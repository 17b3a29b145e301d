// Fuzzes a docker save archive's manifest.json as the loader reads it: the
// parser, its path checks, and the import over a scratch store holding one
// config and one layer, reachable directly and through symlinks (one of
// them a loop, one leaving the archive).
#include <cstdint>
#include <string>

#include "base/json.h"
#include "base/temp_dir.h"
#include "image/docker_archive.h"

namespace {

using namespace krunbox::image;

struct Scratch {
  krunbox::TempDir dir = std::move(*krunbox::TempDir::create("krunbox-docker-archive-fuzz-"));
  BlobStore store{dir.path()};
  ArchiveFiles files;

  Scratch() {
    std::string layer(1024, '\0');  // an empty tar: two zero blocks
    Digest ld = Sha256::of(layer);
    krunbox::Json config = {
        {"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", {ld.str()}}}}};
    std::string ct = config.dump();
    Digest cd = Sha256::of(ct);
    (void)store.put_bytes(layer, ld);
    (void)store.put_bytes(ct, cd);
    files.stored["c.json"] = {cd, ct.size()};
    files.stored["l.tar"] = {ld, layer.size()};
    files.stored["blobs/sha256/" + ld.hex()] = {ld, layer.size()};
    files.links["x/layer.tar"] = "../l.tar";
    files.links["loop.tar"] = "loop.tar";
    files.links["out.tar"] = "../../etc/passwd";
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Scratch s;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ImageLimits limits;
  limits.max_manifest_size = 256 << 10;
  (void)parse_docker_archive_manifest(input, limits);
  uint64_t blobs = 0;
  (void)import_docker_archive(input, s.files, s.store, limits, "", "fuzz", blobs);
  if (size < 8192) (void)clean_archive_path(input, limits);
  return 0;
}
