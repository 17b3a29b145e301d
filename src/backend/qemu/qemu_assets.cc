#include "backend/qemu/qemu_assets.h"

#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/subprocess.h"

namespace krunbox {

std::string qemu_assets_manifest_path() { return join_path(assets_dir(), "qemu/current.json"); }

Result<QemuAssets> find_qemu_assets() {
  std::string manifest = qemu_assets_manifest_path();
  if (!path_exists(manifest))
    return Error(ErrorCode::kNotFound, "guest boot assets missing (" + manifest + "); run scripts/setup.sh");
  KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(manifest, 64 * 1024));
  QemuAssets a;
  if (!j.is_object() || !j["kernel"].is_string() || !j["initramfs"].is_string())
    return Error(ErrorCode::kCorrupt, manifest + " lacks 'kernel' or 'initramfs'; rerun scripts/setup.sh");
  a.kernel = j["kernel"].get<std::string>();
  a.initramfs = j["initramfs"].get<std::string>();
  a.kernel_version = j.value("kernel_version", std::string());
  a.kernel_config = j.value("kernel_config", std::string());
  for (const auto* p : {&a.kernel, &a.initramfs})
    if (::access(p->c_str(), R_OK) != 0)
      return Error::from_errno(*p + " (named in " + manifest + ") is not readable; rerun scripts/setup.sh");
  return a;
}

Result<std::string> find_qemu_binary() {
  if (const char* env = std::getenv("KRUNBOX_QEMU"); env && *env) {
    std::string path = env;
    if (path[0] != '/') return Error(ErrorCode::kInvalidArgument, "KRUNBOX_QEMU='" + path + "' is not an absolute path");
    if (::access(path.c_str(), X_OK) != 0) return Error::from_errno("KRUNBOX_QEMU=" + path + " is not executable");
    return path;
  }
  auto found = find_program("qemu-system-x86_64");
  if (!found) return Error(ErrorCode::kUnavailable, "qemu-system-x86_64 not found (apt-get install qemu-system-x86)");
  return *found;
}

}  // namespace krunbox
