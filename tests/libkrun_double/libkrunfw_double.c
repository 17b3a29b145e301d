/* A test double of libkrunfw.so.5 for the libkrun double: the two symbols
 * libkrun asks of it. It holds no kernel; see libkrun_double.cc. */
#include <stddef.h>

__attribute__((visibility("default"))) int krunfw_get_version(void) { return 5; }

__attribute__((visibility("default"))) char* krunfw_get_kernel(size_t* load_addr, size_t* entry_addr, size_t* size) {
  *load_addr = *entry_addr = *size = 0;
  return NULL;
}
