// libkrun, loaded at run time. krunbox does not link libkrun: Debian does not
// package it, and one krunbox binary must work on hosts with and without it.
// Every symbol is resolved once, here, into a table; required symbols must be
// present, optional ones may be null and callers check before use.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::vmm {

// Function pointer types, prototypes as in libkrun's include/libkrun.h.
struct LibkrunApi {
  // Required: present in every libkrun release krunbox supports (1.9+).
  int32_t (*create_ctx)() = nullptr;
  int32_t (*free_ctx)(uint32_t ctx_id) = nullptr;
  int32_t (*set_vm_config)(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib) = nullptr;
  int32_t (*set_root)(uint32_t ctx_id, const char* root_path) = nullptr;
  int32_t (*set_workdir)(uint32_t ctx_id, const char* workdir_path) = nullptr;
  int32_t (*set_exec)(uint32_t ctx_id, const char* exec_path, const char* const argv[],
                      const char* const envp[]) = nullptr;
  int32_t (*set_port_map)(uint32_t ctx_id, const char* const port_map[]) = nullptr;
  int32_t (*set_rlimits)(uint32_t ctx_id, const char* const rlimits[]) = nullptr;
  int32_t (*set_log_level)(uint32_t level) = nullptr;
  int32_t (*add_vsock_port)(uint32_t ctx_id, uint32_t port, const char* filepath) = nullptr;
  int32_t (*start_enter)(uint32_t ctx_id) = nullptr;

  // Optional: newer releases or feature-gated builds.
  int32_t (*has_feature)(uint64_t feature) = nullptr;                                        // 1.18
  int32_t (*get_max_vcpus)() = nullptr;                                                      // 1.16
  int32_t (*check_nested_virt)() = nullptr;                                                  // 1.12
  int32_t (*add_vsock_port2)(uint32_t ctx_id, uint32_t port, const char* filepath, bool listen) = nullptr;  // 1.11
  int32_t (*set_console_output)(uint32_t ctx_id, const char* filepath) = nullptr;            // 1.10
  int32_t (*add_net_unixstream)(uint32_t ctx_id, const char* c_path, int fd, uint8_t* const c_mac, uint32_t features,
                                uint32_t flags) = nullptr;  // 1.15, "net" builds only
  int32_t (*set_env)(uint32_t ctx_id, const char* const envp[]) = nullptr;
  int32_t (*disable_implicit_vsock)(uint32_t ctx_id) = nullptr;                              // 1.17
  int32_t (*add_vsock)(uint32_t ctx_id, uint32_t tsi_features) = nullptr;                    // 1.17
  // Not libkrun: exported only by the test double under tests/libkrun_double.
  const char* (*test_double)() = nullptr;
};

// KRUN_FEATURE_* constants from libkrun.h (1.18+).
struct LibkrunFeature {
  const char* name;
  uint64_t value;
};
const std::vector<LibkrunFeature>& libkrun_features();

class LibkrunLibrary {
 public:
  // dlopen()s `path` (default "libkrun.so.1", searched by the dynamic loader)
  // and resolves the table. Fails naming the first missing required symbol.
  static Result<LibkrunLibrary> open(const std::string& path = "libkrun.so.1");

  LibkrunLibrary(LibkrunLibrary&& other) noexcept;
  LibkrunLibrary& operator=(LibkrunLibrary&& other) noexcept;
  LibkrunLibrary(const LibkrunLibrary&) = delete;
  LibkrunLibrary& operator=(const LibkrunLibrary&) = delete;
  ~LibkrunLibrary();

  const LibkrunApi& api() const { return api_; }
  // The file the loader actually opened.
  const std::string& resolved_path() const { return resolved_path_; }

 private:
  LibkrunLibrary() = default;
  void* handle_ = nullptr;
  LibkrunApi api_;
  std::string resolved_path_;
};

// What libkrunfw (the guest kernel bundle) is present: soname, path, version.
struct LibkrunfwInfo {
  bool found = false;
  std::string soname;
  std::string path;
  int version = -1;  // krunfw_get_version(), when exported
  std::string error;
};
// Looks in `first_dir` (the directory libkrun was loaded from, where a
// bundled libkrunfw sits) before asking the loader for the bare sonames.
LibkrunfwInfo probe_libkrunfw(const std::string& first_dir = "");

}  // namespace krunbox::vmm
