// One function per verb, each in its own file, registering the verb's
// flags and callback on the runtime's CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "oci/runtime.h"

namespace krunbox::oci {

void setup_create(CLI::App& app, Context& ctx);
void setup_start(CLI::App& app, Context& ctx);
void setup_run(CLI::App& app, Context& ctx);
void setup_state(CLI::App& app, Context& ctx);
void setup_kill(CLI::App& app, Context& ctx);
void setup_delete(CLI::App& app, Context& ctx);
void setup_exec(CLI::App& app, Context& ctx);
void setup_ps(CLI::App& app, Context& ctx);
void setup_pause(CLI::App& app, Context& ctx);  // pause and resume
void setup_list(CLI::App& app, Context& ctx);
void setup_features(CLI::App& app, Context& ctx);
void setup_unsupported(CLI::App& app, Context& ctx);  // checkpoint, restore, update
void setup_monitor(CLI::App& app, Context& ctx);      // hidden: the attached monitor

// Shared by create and run: makes the container and its monitor; its pid.
struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
  bool ignored = false;  // flags runc takes that change nothing here
};
Result<pid_t> create_container(Context& ctx, const CreateOptions& options);
// Shared by start and run.
Status start_container(Context& ctx, const std::string& id);

}  // namespace krunbox::oci
