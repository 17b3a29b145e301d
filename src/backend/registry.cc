#include "backend/registry.h"

#include "backend/krun/krun_backend.h"
#include "backend/mock/mock_backend.h"
#include "backend/native/native_backend.h"
#include "backend/qemu/qemu_backend.h"
#include "backend/qemu/root_image.h"
#include "base/log.h"
#include "base/paths.h"

namespace krunbox {
namespace {

struct Entry {
  const char* name;
  BackendReport (*probe)();
  std::unique_ptr<Backend> (*make)();
  // For an explicit --backend: the cheap checks only (null: the full probe).
  BackendReport (*quick_probe)() = nullptr;
};

std::unique_ptr<Backend> make_default_mock() { return make_mock_backend(); }

// Strongest first: the order --backend auto prefers among equals.
const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      {"krun", probe_krun, make_krun_backend},
      {"qemu", probe_qemu, make_qemu_backend, probe_qemu_quick},
      {"native", probe_native, make_native_backend, probe_native_quick},
      {"mock", probe_mock, make_default_mock},
  };
  return all;
}

std::string reasons_text(const BackendReport& r) {
  std::string s;
  for (const auto& reason : r.reasons) s += (s.empty() ? "" : "; ") + reason;
  return s;
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& e : entries()) names.push_back(e.name);
  return names;
}

Result<BackendChoice> select_backend(std::string_view requested, bool require_vm) {
  if (requested != "auto") {
    for (const auto& e : entries()) {
      if (requested != e.name) continue;
      auto backend = e.make();
      // By the backend's nature first: no probe can make a container a VM.
      if (require_vm) KRUNBOX_TRY(check_vm_isolation(backend->capabilities(), all_backend_capabilities()));
      BackendReport report = e.quick_probe ? e.quick_probe() : e.probe();
      if (!report.usable)
        return Error(ErrorCode::kUnavailable, "backend " + std::string(requested) + " is not usable here: " +
                                                  reasons_text(report) + " (see krunbox doctor)");
      // And by what it is here (a libkrun test double is no VM).
      if (require_vm && report.level < IsolationLevel::kVm)
        return Error(ErrorCode::kInvalidArgument, "isolation vm is required, but backend " + std::string(requested) +
                                                      " gives " + std::string(to_string(report.level)) +
                                                      " isolation here, not a VM (" + report.isolation + ")")
            .with_field(spec_field::kIsolation, "vm");
      return BackendChoice{std::move(backend), std::move(report)};
    }
    std::string known;
    for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
    return Error(ErrorCode::kInvalidArgument,
                 "unknown backend '" + std::string(requested) + "' (this build has: auto, " + known + ")");
  }

  std::vector<BackendReport> reports;
  for (const auto& e : entries()) reports.push_back(e.probe());
  if (require_vm) {
    for (auto& r : reports) {
      if (r.level < IsolationLevel::kVm && r.usable) {
        r.usable = false;
        r.reasons.push_back("not a VM");
      }
    }
  }
  auto pick = pick_auto_backend(reports);
  if (!pick) {
    std::string why;
    for (const auto& r : reports)
      if (r.level != IsolationLevel::kNone) why += (why.empty() ? "" : "; ") + r.backend + ": " + reasons_text(r);
    if (require_vm)
      return Error(ErrorCode::kUnavailable, "isolation vm is required, but no VM backend is usable here (" + why +
                                                "); krunbox will not fall back to a container (see krunbox doctor)")
          .with_field(spec_field::kIsolation, "vm");
    return Error(ErrorCode::kUnavailable, "no isolating backend is usable here (" + why + "); see krunbox doctor");
  }
  for (const auto& e : entries())
    if (pick->backend == e.name) return BackendChoice{e.make(), *pick};
  return Error(ErrorCode::kInternal, "picked backend " + pick->backend + " is not registered");
}

const std::vector<BackendCapabilities>& all_backend_capabilities() {
  static const std::vector<BackendCapabilities> all = [] {
    std::vector<BackendCapabilities> out;
    for (const auto& e : entries()) out.push_back(e.make()->capabilities());
    return out;
  }();
  return all;
}

std::vector<std::string> sweep_backend_leftovers() {
  std::vector<std::string> lines;
  if (auto native = native::sweep_leftovers({}); native.ok()) {
    lines.insert(lines.end(), native->begin(), native->end());
  } else {
    KB_WARN("cleaning up after earlier native sandboxes: {}", native.error().what());
  }
  for (auto* sweep : {&sweep_qemu_leftovers, &sweep_krun_leftovers}) {
    auto swept = (*sweep)(run_root());
    if (swept.ok()) {
      lines.insert(lines.end(), swept->begin(), swept->end());
    } else {
      KB_WARN("cleaning up after earlier VMs: {}", swept.error().what());
    }
  }
  return lines;
}

Result<BackendCachePrune> prune_backend_caches(const std::set<std::string>& live_content_keys) {
  KRUNBOX_ASSIGN_OR_RETURN(RootImagePrune images, prune_root_images(root_image_cache_dir(), live_content_keys));
  return BackendCachePrune{images.removed, images.bytes_freed};
}

}  // namespace krunbox
