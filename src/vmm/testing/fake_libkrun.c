/* A test double of libkrun's C API, loaded by the tests through dlopen exactly
 * as the real library is. It answers like libkrun does (negative errno on bad
 * input, context ids from 0) without creating a VM. Built twice: complete,
 * and with FAKE_LIBKRUN_OLD defined to mimic a release without the optional
 * 1.16+/1.18+ symbols and without krun_start_enter (to test the required-symbol check). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

static int32_t next_ctx = 0;

int32_t krun_create_ctx(void) { return next_ctx++; }
int32_t krun_free_ctx(uint32_t ctx) { return ctx < (uint32_t)next_ctx ? 0 : -ENOENT; }
int32_t krun_set_vm_config(uint32_t ctx, uint8_t vcpus, uint32_t ram) {
  if (ctx >= (uint32_t)next_ctx) return -ENOENT;
  return (vcpus == 0 || ram == 0) ? -EINVAL : 0;
}
int32_t krun_set_root(uint32_t ctx, const char* p) { return p ? 0 : -EINVAL; }
int32_t krun_set_workdir(uint32_t ctx, const char* p) { return p ? 0 : -EINVAL; }
int32_t krun_set_exec(uint32_t ctx, const char* p, const char* const a[], const char* const e[]) { return p ? 0 : -EINVAL; }
int32_t krun_set_port_map(uint32_t ctx, const char* const m[]) { return 0; }
int32_t krun_set_rlimits(uint32_t ctx, const char* const r[]) { return 0; }
int32_t krun_set_log_level(uint32_t level) { return level <= 5 ? 0 : -EINVAL; }
int32_t krun_add_vsock_port(uint32_t ctx, uint32_t port, const char* path) { return path ? 0 : -EINVAL; }

#ifndef FAKE_LIBKRUN_OLD
int32_t krun_start_enter(uint32_t ctx) { return -EINVAL; }
int32_t krun_get_max_vcpus(void) { return 16; }
int32_t krun_has_feature(uint64_t feature) {
  switch (feature) {
    case 0: /* net */
    case 1: /* blk */
      return 1;
    case 2: case 4: case 6: case 7: case 8: case 9: case 10: case 11:
      return 0;
    default:
      return -EINVAL;
  }
}
int32_t krun_check_nested_virt(void) { return 0; }
#endif
