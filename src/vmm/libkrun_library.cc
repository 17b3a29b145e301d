#include "vmm/libkrun_library.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <utility>

namespace krunbox::vmm {
namespace {

std::string loaded_path(void* handle, const std::string& fallback) {
  link_map* map = nullptr;
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) return map->l_name;
  return fallback;
}

template <typename Fn>
bool resolve(void* handle, const char* name, Fn& slot) {
  slot = reinterpret_cast<Fn>(::dlsym(handle, name));
  return slot != nullptr;
}

}  // namespace

const std::vector<LibkrunFeature>& libkrun_features() {
  static const std::vector<LibkrunFeature> features = {
      {"net", 0},        {"blk", 1},        {"gpu", 2},        {"input", 4},
      {"tee", 6},        {"amd_sev", 7},    {"intel_tdx", 8},  {"aws_nitro", 9},
      {"virgl_resource_map2", 10},          {"init_blob", 11},
  };
  return features;
}

Result<LibkrunLibrary> LibkrunLibrary::open(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return Error(ErrorCode::kUnavailable,
                 "cannot load " + path + (why ? std::string(" (") + why + ")" : std::string()) +
                     "; install libkrun or point KRUNBOX_LIBKRUN at it");
  }
  LibkrunLibrary lib;
  lib.handle_ = handle;
  lib.resolved_path_ = loaded_path(handle, path);
  auto& a = lib.api_;
  struct Required {
    const char* name;
    bool ok;
  };
  const Required required[] = {
      {"krun_create_ctx", resolve(handle, "krun_create_ctx", a.create_ctx)},
      {"krun_free_ctx", resolve(handle, "krun_free_ctx", a.free_ctx)},
      {"krun_set_vm_config", resolve(handle, "krun_set_vm_config", a.set_vm_config)},
      {"krun_set_root", resolve(handle, "krun_set_root", a.set_root)},
      {"krun_set_workdir", resolve(handle, "krun_set_workdir", a.set_workdir)},
      {"krun_set_exec", resolve(handle, "krun_set_exec", a.set_exec)},
      {"krun_set_port_map", resolve(handle, "krun_set_port_map", a.set_port_map)},
      {"krun_set_rlimits", resolve(handle, "krun_set_rlimits", a.set_rlimits)},
      {"krun_set_log_level", resolve(handle, "krun_set_log_level", a.set_log_level)},
      {"krun_add_vsock_port", resolve(handle, "krun_add_vsock_port", a.add_vsock_port)},
      {"krun_start_enter", resolve(handle, "krun_start_enter", a.start_enter)},
  };
  for (const auto& r : required) {
    if (!r.ok)
      return Error(ErrorCode::kUnavailable, lib.resolved_path_ + " lacks the required symbol " + r.name +
                                                "; krunbox needs libkrun 1.9 or newer");
  }
  resolve(handle, "krun_has_feature", a.has_feature);
  resolve(handle, "krun_get_max_vcpus", a.get_max_vcpus);
  resolve(handle, "krun_check_nested_virt", a.check_nested_virt);
  resolve(handle, "krun_add_vsock_port2", a.add_vsock_port2);
  resolve(handle, "krun_set_console_output", a.set_console_output);
  resolve(handle, "krun_add_net_unixstream", a.add_net_unixstream);
  resolve(handle, "krun_set_env", a.set_env);
  resolve(handle, "krun_disable_implicit_vsock", a.disable_implicit_vsock);
  resolve(handle, "krun_add_vsock", a.add_vsock);
  resolve(handle, "krunbox_libkrun_double", a.test_double);
  return lib;
}

LibkrunLibrary::LibkrunLibrary(LibkrunLibrary&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      api_(other.api_),
      resolved_path_(std::move(other.resolved_path_)) {}

LibkrunLibrary& LibkrunLibrary::operator=(LibkrunLibrary&& other) noexcept {
  if (this != &other) {
    if (handle_) ::dlclose(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    api_ = other.api_;
    resolved_path_ = std::move(other.resolved_path_);
  }
  return *this;
}

LibkrunLibrary::~LibkrunLibrary() {
  if (handle_) ::dlclose(handle_);
}

LibkrunfwInfo probe_libkrunfw(const std::string& first_dir) {
  LibkrunfwInfo info;
  std::string errors;
  std::vector<std::pair<std::string, std::string>> candidates;  // {soname, what to dlopen}
  for (const char* soname : {"libkrunfw.so.5", "libkrunfw.so.4"}) {
    if (!first_dir.empty()) candidates.emplace_back(soname, first_dir + "/" + soname);
    candidates.emplace_back(soname, soname);
  }
  for (const auto& [soname, name] : candidates) {
    if (name != soname && ::access(name.c_str(), F_OK) != 0) continue;
    void* h = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* why = ::dlerror();
      errors += std::string(errors.empty() ? "" : "; ") + (why ? why : name);
      continue;
    }
    info.found = true;
    info.soname = soname;
    info.path = loaded_path(h, soname);
    using VersionFn = int (*)();
    if (auto fn = reinterpret_cast<VersionFn>(::dlsym(h, "krunfw_get_version"))) info.version = fn();
    ::dlclose(h);
    return info;
  }
  info.error = errors;
  return info;
}

}  // namespace krunbox::vmm
