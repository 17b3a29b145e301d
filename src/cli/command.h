// Every verb of the `krunbox` command lives in its own file (cmd_<verb>.cc)
// and registers itself here; main.cc only builds the CLI11 app from the list.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::cli {

// State shared by all verbs: global flags, and the exit code the verb chose.
struct Context {
  std::string log_level;
  bool verbose = false;
  int exit_code = 0;
  // Everything after the first "--" on the command line (the workload's
  // command for run/exec), kept away from flag parsing.
  bool has_command = false;
  std::vector<std::string> command;
};

// Adds one subcommand (with its flags and callback) to the app.
using CommandSetup = std::function<void(CLI::App& app, Context& ctx)>;

struct CommandEntry {
  std::string name;
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(setup)});
  }
};

// Prints "krunbox: <error>" to stderr, with the flag the error is about in
// our spelling (flag_names.h), and returns the exit code for it (125, as
// docker and podman do for errors of the tool itself).
int report_error(const Error& error);
constexpr int kExitToolError = 125;

}  // namespace krunbox::cli

#define KRUNBOX_COMMAND(verb, setup_fn) \
  static const ::krunbox::cli::CommandRegistrar krunbox_registrar_##verb(#verb, setup_fn)
