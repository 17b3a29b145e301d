// krunbox doctor: which backends work here, and every reason the others don't.
#include <cstdio>
#include <memory>

#include "backend/probe.h"
#include "backend/registry.h"
#include "base/log.h"
#include "base/paths.h"
#include "cli/command.h"

namespace krunbox::cli {
namespace {

struct DoctorOptions {
  bool json = false;
};

// What the backend can do by its nature, beside what the probe found here.
const BackendCapabilities* capabilities_of(const std::string& backend) {
  for (const auto& c : all_backend_capabilities())
    if (c.backend == backend) return &c;
  return nullptr;
}

int run_doctor(const DoctorOptions& opts) {
  auto reports = probe_all_backends();
  auto pick = pick_auto_backend(reports);
  if (opts.json) {
    Json out;
    out["schema_version"] = 1;
    Json backends = Json::array();
    for (const auto& r : reports) {
      Json b = r.to_json();
      if (const auto* caps = capabilities_of(r.backend)) b["capabilities"] = caps->to_json();
      backends.push_back(std::move(b));
    }
    out["backends"] = backends;
    out["auto"] = pick ? Json{{"backend", pick->backend},
                              {"isolation", to_string(pick->level)},
                              {"isolation_detail", pick->isolation}}
                       : Json(nullptr);
    out["data_root"] = data_root();
    out["run_root"] = run_root();
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& r : reports) {
      // The details quote what probes found (versions, error text), defused as table cells are.
      std::printf("%-7s %s  %s\n", r.backend.c_str(), r.usable ? "usable    " : "not usable",
                  terminal_safe_line(r.isolation).c_str());
      for (const auto& c : r.checks)
        std::printf("        [%s] %s: %s\n", c.ok ? "ok" : "--", terminal_safe_line(c.name).c_str(),
                    terminal_safe_line(c.detail).c_str());
      if (const auto* caps = capabilities_of(r.backend))
        std::printf("        capabilities: %s\n", caps->summary().c_str());
    }
    std::printf("\ndata root: %s\nrun dir:   %s\n", data_root().c_str(), run_root().c_str());
    if (pick) {
      std::printf("--backend auto: %s, isolation: %s\n", pick->backend.c_str(), pick->isolation.c_str());
    } else {
      std::printf("--backend auto: no isolating backend is usable here; see the reasons above\n");
    }
  }
  return pick ? 0 : 1;
}

void setup_doctor(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<DoctorOptions>();
  auto* cmd = app.add_subcommand("doctor", "Check which isolation backends this host can run, and why not");
  cmd->add_flag("--json", opts->json, "Machine-readable output (stable schema, see docs/cli.md)");
  cmd->callback([&ctx, opts] { ctx.exit_code = run_doctor(*opts); });
}

}  // namespace

KRUNBOX_COMMAND(doctor, setup_doctor);

}  // namespace krunbox::cli
