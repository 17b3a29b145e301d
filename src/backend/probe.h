// What each backend needs from the host, checked for real (namespaces are
// created, libkrun is loaded), with every reason a backend is not usable.
// `krunbox doctor` prints this; `--backend auto` picks from it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/json.h"

namespace krunbox {

struct ProbeCheck {
  std::string name;    // "/dev/kvm", "user namespace", ...
  bool ok = false;
  std::string detail;  // what was found, or why not
};

// How strongly a backend isolates the workload from the host, weakest first.
enum class IsolationLevel { kNone = 0, kContainer = 1, kVm = 2 };
std::string_view to_string(IsolationLevel level);

struct BackendReport {
  std::string backend;        // "krun", "qemu", "native", "mock"
  IsolationLevel level = IsolationLevel::kNone;
  std::string isolation;      // human wording, e.g. "hardware VM (KVM)"
  bool usable = false;
  std::vector<std::string> reasons;  // why not usable (empty when usable)
  std::vector<ProbeCheck> checks;    // everything looked at
  int preference = 0;                // among usable backends of equal level, higher wins

  Json to_json() const;
};

BackendReport probe_krun();
BackendReport probe_qemu();
BackendReport probe_native();
BackendReport probe_mock();

// The cheap part of a probe, for a backend the user named with --backend:
// only files and flags that backend needs, no helper runs and no namespace
// children. What they skip (e.g. whether each namespace can really be
// created) shows up as the start's own error, and in `doctor`'s full report.
BackendReport probe_qemu_quick();
// The full qemu probe plus, when no earlier boot has told, one KVM boot of
// the guest with a deadline, whose verdict later commands reuse (doctor).
BackendReport probe_qemu_with_kvm_boot();
BackendReport probe_native_quick();

// All backends, strongest first, each checked in full (doctor).
std::vector<BackendReport> probe_all_backends();

// The backend `--backend auto` picks: the usable one with the strongest
// isolation (ties broken by preference). Never "mock": it does not isolate.
std::optional<BackendReport> pick_auto_backend(const std::vector<BackendReport>& reports);

}  // namespace krunbox
