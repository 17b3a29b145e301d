// Fuzzes the layer path end to end: decompression sniffing, the tar reader,
// and flat extraction into a scratch directory under tight limits.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "image/extract.h"
#include "image/layer_view.h"
#include "image/tar_reader.h"

namespace {

const std::string& scratch() {
  static krunbox::TempDir dir = std::move(*krunbox::TempDir::create("krunbox-tar-fuzz-"));
  return dir.path();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::image;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  {
    auto src = decompressing_source(memory_source(input), 8 << 20);
    if (src.ok()) {
      TarReader reader(**src, TarLimits{4096, 64 << 10, 16 << 10});
      TarEntry e;
      for (int i = 0; i < 1000; ++i) {
        auto more = reader.next(e);
        if (!more.ok() || !*more) break;
        (void)clean_entry_path(e.path);
        if (i % 2 == 0) {
          for (;;) {
            auto c = reader.data_chunk(4096);
            if (!c.ok() || c->empty()) break;
          }
        }
      }
    }
  }
  std::string dir = scratch() + "/root";
  (void)krunbox::remove_tree(dir);
  if (::mkdir(dir.c_str(), 0755) != 0) return 0;
  krunbox::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ExtractOptions o;
  o.mode = ExtractMode::kFlat;
  o.chown = false;
  o.opaque_xattr = "user.overlay.opaque";
  o.limits.max_files_per_layer = 200;
  o.limits.max_rootfs_size = 1 << 20;
  o.limits.max_layer_uncompressed_size = 8 << 20;
  o.read_ahead = false;
  (void)extract_layer(memory_source(input), fd.get(), {}, o, nullptr);
  return 0;
}
