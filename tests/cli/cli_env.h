// Where the built programs are, for tests that run them as a user would.
#pragma once

#include <cstdlib>
#include <string>

namespace krunbox::testing {

inline std::string bin_dir() {
  const char* d = std::getenv("KRUNBOX_BIN_DIR");
  return d ? d : "build/bin";
}
inline std::string krunbox_bin() { return bin_dir() + "/krunbox"; }

}  // namespace krunbox::testing
