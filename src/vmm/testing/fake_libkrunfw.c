/* A test double of libkrunfw: only what krunbox asks of it. */
#include <stddef.h>
int krunfw_get_version(void) { return 5; }
char* krunfw_get_kernel(size_t* load_addr, size_t* entry_addr, size_t* size) {
  *load_addr = *entry_addr = *size = 0;
  return NULL;
}
