#include "vmm/probe.h"

#include "base/fs.h"
#include "vmm/libkrun_library.h"

namespace krunbox::vmm {

Json probe_host(const std::string& libkrun_path) {
  Json out;
  auto lib = LibkrunLibrary::open(libkrun_path);
  Json& krun = out["libkrun"];
  krun["found"] = lib.ok();
  if (!lib.ok()) {
    krun["error"] = lib.error().what();
  } else {
    const auto& api = lib->api();
    krun["path"] = lib->resolved_path();
    if (api.has_feature) {
      Json features = Json::object();
      for (const auto& f : libkrun_features()) features[f.name] = api.has_feature(f.value) == 1;
      krun["features"] = features;
    }
    if (api.get_max_vcpus) krun["max_vcpus"] = api.get_max_vcpus();
    if (api.check_nested_virt) krun["nested_virt"] = api.check_nested_virt() == 1;
    if (api.test_double) krun["test_double"] = api.test_double();
  }
  auto fw = probe_libkrunfw(lib.ok() ? dirname_of(lib->resolved_path()) : std::string());
  Json& kfw = out["libkrunfw"];
  kfw["found"] = fw.found;
  if (fw.found) {
    kfw["soname"] = fw.soname;
    kfw["path"] = fw.path;
    if (fw.version >= 0) kfw["version"] = fw.version;
  } else {
    kfw["error"] = fw.error;
  }
  return out;
}

}  // namespace krunbox::vmm
