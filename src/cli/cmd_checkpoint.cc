// krunbox checkpoint: save a sandbox's state as a named checkpoint, and
// list, inspect and remove checkpoints (sandbox/checkpointing.h).
#include <cstdio>
#include <ctime>
#include <memory>

#include "base/json.h"
#include "cli/command.h"
#include "cli/table.h"
#include "sandbox/checkpointing.h"

namespace krunbox::cli {
namespace {

struct CheckpointFlags {
  std::string sandbox;
  std::string name;
  bool leave_running = false;
  std::string format = "table";
  std::vector<std::string> names;
};

std::string when(int64_t unix_seconds) {
  char buf[32];
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json inspect_document(const CheckpointInfo& info) {
  Json j = to_json(info);
  j["dir"] = info.dir;
  j["size_bytes"] = info.size_bytes;
  j["created"] = when(info.created_at);
  return j;
}

int run_checkpoint(const CheckpointFlags& f) {
  if (f.sandbox.empty() || f.name.empty())
    return report_error(Error(ErrorCode::kInvalidArgument,
                              "krunbox checkpoint needs a sandbox and a name: krunbox checkpoint SANDBOX NAME "
                              "(or one of ls, inspect, rm)"));
  Lifecycle lc;
  auto info = checkpoint_sandbox(lc, CheckpointRequest{f.sandbox, f.name, f.leave_running});
  if (!info) return report_error(info.error());
  std::printf("%s\n", info->name.c_str());
  return 0;
}

int run_ls(const CheckpointFlags& f) {
  std::vector<std::string> broken;
  auto list = CheckpointStore().list(&broken);
  if (!list) return report_error(list.error());
  for (const auto& b : broken) std::fprintf(stderr, "krunbox: skipping a damaged checkpoint: %s\n", b.c_str());
  if (f.format == "json") {
    Json out = Json::array();
    for (const auto& c : *list) out.push_back(inspect_document(c));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (f.format != "table")
    return report_error(Error(ErrorCode::kInvalidArgument, "--format must be table or json, not \"" + f.format + "\""));
  Table table({{"NAME", 24, true}, {"SANDBOX", 14}, {"IMAGE", 24, true}, {"SIZE", 10}, {"CREATED"}});
  for (const auto& c : *list)
    table.add_row({c.name, c.source_id.substr(0, 12), c.config.image, human_size(c.size_bytes), when(c.created_at)});
  table.print();
  return 0;
}

int run_inspect(const CheckpointFlags& f) {
  Json out = Json::array();
  int code = 0;
  for (const auto& name : f.names) {
    auto info = CheckpointStore().load(name);
    if (!info) {
      code = report_error(info.error());
      continue;
    }
    out.push_back(inspect_document(*info));
  }
  std::printf("%s\n", out.dump(2).c_str());
  return code;
}

int run_rm(const CheckpointFlags& f) {
  int code = 0;
  StateStore sandboxes;
  for (const auto& name : f.names) {
    if (auto st = CheckpointStore().remove(name, sandboxes); !st.ok()) {
      code = report_error(st.error());
      continue;
    }
    std::printf("%s\n", name.c_str());
  }
  return code;
}

void setup_checkpoint(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<CheckpointFlags>();
  auto* cmd = app.add_subcommand("checkpoint", "Save a sandbox's state (qemu) as a named checkpoint; manage them");
  cmd->footer(
      "  krunbox checkpoint web web-ready         saves sandbox web, then stops it\n"
      "  krunbox run -d --from-checkpoint web-ready --name web2\n"
      "  krunbox checkpoint ls | inspect NAME... | rm NAME...");
  cmd->add_option("sandbox", f->sandbox, "Id, id prefix or name of a running or paused sandbox");
  cmd->add_option("name", f->name, "Name of the new checkpoint");
  cmd->add_flag("--leave-running", f->leave_running, "Keep the sandbox running after its checkpoint");
  cmd->require_subcommand(0, 1);
  auto* ls = cmd->add_subcommand("ls", "List the checkpoints");
  ls->add_option("--format", f->format, "table (default) or json");
  ls->callback([&ctx, f] { ctx.exit_code = run_ls(*f); });
  auto* inspect = cmd->add_subcommand("inspect", "Print checkpoints' records as JSON");
  inspect->add_option("name", f->names, "Checkpoint names")->required();
  inspect->callback([&ctx, f] { ctx.exit_code = run_inspect(*f); });
  auto* rm = cmd->add_subcommand("rm", "Remove checkpoints no sandbox starts from");
  rm->add_option("name", f->names, "Checkpoint names")->required();
  rm->callback([&ctx, f] { ctx.exit_code = run_rm(*f); });
  cmd->callback([&ctx, f, cmd] {
    if (cmd->get_subcommands().empty()) ctx.exit_code = run_checkpoint(*f);
  });
}

}  // namespace

KRUNBOX_COMMAND(checkpoint, setup_checkpoint);

}  // namespace krunbox::cli
