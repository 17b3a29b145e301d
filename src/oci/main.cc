// krunbox-runc: the OCI runtime (oci/runtime.h).
#include <unistd.h>

#include <string>
#include <vector>

#include "base/log.h"
#include "oci/runtime.h"

int main(int argc, char** argv) {
  krunbox::init_logging_from_env();
  krunbox::set_log_program("krunbox-runc");
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string exe = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(argv[0]);
  return krunbox::oci::run_runtime({exe}, std::vector<std::string>(argv + 1, argv + argc));
}
