// krunbox serve: the REST API over a Unix socket (and TCP with a token), in
// the foreground. Sandboxes stay with their monitors: the server holds no
// state of its own, so killing it leaves them running. See docs/api.md.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "cli/command.h"
#include "docker/docker_api.h"
#include "e2b/handler.h"
#include "e2b/keys.h"
#include "serve/api.h"
#include "serve/auth.h"
#include "serve/server.h"

namespace krunbox::cli {
namespace {

struct Options {
  std::string socket;
  std::string listen;
  std::string token_file;
  std::string docker_socket;
  bool docker = false;
  size_t max_connections = 256;
  unsigned grace_s = 30;
  // E2B's API (docs/e2b.md): its own listener and its own keys.
  std::string e2b;
  std::string e2b_key_file;
  std::string e2b_templates;
  std::string e2b_backend = "auto";
  std::string e2b_domain;
};

// The E2B handler `--e2b` asks for; null without it.
Result<std::unique_ptr<e2b::E2bHandler>> e2b_handler(const Options& o) {
  if (o.e2b.empty()) {
    if (!o.e2b_key_file.empty() || !o.e2b_templates.empty() || !o.e2b_domain.empty())
      return Error(ErrorCode::kInvalidArgument, "--e2b-key-file, --e2b-templates and --e2b-domain are for --e2b");
    return std::unique_ptr<e2b::E2bHandler>();
  }
  // Keys of their own, not --token-file's: an E2B key reaches only what the
  // E2B API offers (sandboxes from images, no host volumes or ports), the
  // SDK's keys have a format of their own (e2b_<hex>), and a file of several
  // lets keys rotate.
  if (o.e2b_key_file.empty())
    return Error(ErrorCode::kInvalidArgument,
                 "--e2b needs --e2b-key-file: a file (mode 0600) of E2B API keys, one e2b_<hex> a line "
                 "(make one with: echo e2b_$(openssl rand -hex 20) > keys; chmod 600 keys)");
  KRUNBOX_ASSIGN_OR_RETURN(auto keys, e2b::load_key_file(o.e2b_key_file));
  KRUNBOX_TRY_CTX(ensure_private_dir(data_root()), "preparing the data root for the E2B token secret");
  KRUNBOX_ASSIGN_OR_RETURN(std::string secret, e2b::load_or_make_secret(join_path(data_root(), "e2b-token.secret")));
  e2b::E2bOptions eo;
  eo.backend = o.e2b_backend;
  eo.domain = o.e2b_domain;
  if (!o.e2b_templates.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string text, read_file(o.e2b_templates, 1u << 20));
    KRUNBOX_ASSIGN_OR_RETURN(eo.templates, e2b::parse_templates(text, o.e2b_templates));
  }
  return std::make_unique<e2b::E2bHandler>(std::move(eo), e2b::Keys(std::move(keys), std::move(secret)));
}

// A listener on the Unix socket `path`, or on <run dir>/`default_name`
// (the run dir made private first) when none is given.
Result<serve::Listener> unix_listener(std::string name, serve::Handler* handler, const std::string& path,
                                      const std::string& default_name) {
  serve::Listener l;
  l.name = std::move(name);
  l.handler = handler;
  l.unix_path = path;
  if (path.empty()) {
    KRUNBOX_TRY_CTX(ensure_private_dir(run_root()), "preparing the run dir for " + default_name);
    l.unix_path = join_path(run_root(), default_name);
  }
  return l;
}

Status run_serve(const Options& o) {
  serve::ServerOptions s;
  serve::Api api(KRUNBOX_VERSION);
  KRUNBOX_ASSIGN_OR_RETURN(serve::Listener native, unix_listener("api", &api, o.socket, "api.sock"));
  s.listeners.push_back(native);
  // The Docker Engine API (docs/docker-api.md) on a socket of its own, as
  // private as api.sock (same owner, mode 0600). Asked for, not on by
  // default: a second server in the same run dir (its own --socket) must
  // not collide on docker.sock, and Docker clients are a surface to opt into.
  docker::DockerApi docker_api(KRUNBOX_VERSION);
  if (o.docker || !o.docker_socket.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(serve::Listener d, unix_listener("docker", &docker_api, o.docker_socket, "docker.sock"));
    s.listeners.push_back(d);
    docker_api.record_events();
  }
  if (!o.listen.empty()) {
    if (o.token_file.empty())
      return Error(ErrorCode::kInvalidArgument,
                   "--listen needs --token-file: a TCP port is open to every local user (or the network), so "
                   "each request there must carry the token");
    serve::Listener tcp = native;
    tcp.unix_path.clear();
    tcp.tcp = o.listen;
    KRUNBOX_ASSIGN_OR_RETURN(tcp.bearer_token, serve::load_token_file(o.token_file));
    s.listeners.push_back(tcp);
  } else if (!o.token_file.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--token-file is for --listen; the Unix socket needs no token");
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto e2b_api, e2b_handler(o));
  if (e2b_api) {
    serve::Listener e2b;
    e2b.name = "e2b";
    e2b.tcp = o.e2b;
    e2b.handler = e2b_api.get();
    s.listeners.push_back(e2b);
  }
  if (o.max_connections == 0) return Error(ErrorCode::kInvalidArgument, "--max-connections must be at least 1");
  s.max_connections = o.max_connections;
  s.shutdown_grace = std::chrono::seconds(o.grace_s);
  auto outcome = serve::serve(s);
  if (!outcome) return std::move(outcome).error().wrap("krunbox serve");
  if (outcome->abandoned) {
    // Their threads still use the handler and the server's state: end here,
    // without destructors pulling those away under them.
    std::fflush(nullptr);
    ::_exit(0);
  }
  return {};
}

void setup_serve(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("serve", "Serve the REST API (docs/api.md) in the foreground");
  cmd->footer(
      "  krunbox serve                                   Unix socket <run dir>/api.sock, mode 0600\n"
      "  krunbox serve --listen 127.0.0.1:2375 --token-file /etc/krunbox/token\n"
      "  krunbox serve --e2b 127.0.0.1:3000 --e2b-key-file /etc/krunbox/e2b-keys   E2B's API (docs/e2b.md)\n"
      "  krunbox serve --docker                          also <run dir>/docker.sock, for DOCKER_HOST=unix://...\n"
      "Sandboxes outlive the server: each is owned by its own monitor.");
  cmd->add_option("--socket", opts->socket, "Unix socket path (default <run dir>/api.sock)");
  cmd->add_flag("--docker", opts->docker, "Also serve the Docker Engine API on <run dir>/docker.sock (docs/docker-api.md)");
  cmd->add_option("--docker-socket", opts->docker_socket, "Serve the Docker Engine API on this Unix socket instead");
  cmd->add_option("--listen", opts->listen, "Also listen on TCP HOST:PORT (needs --token-file)");
  cmd->add_option("--token-file", opts->token_file, "File with the bearer token TCP clients must send (mode 0600)");
  cmd->add_option("--max-connections", opts->max_connections, "Connections served at once; more get 503 (default 256)");
  cmd->add_option("--e2b", opts->e2b, "Also serve E2B's API (control plane and envd) on TCP HOST:PORT");
  cmd->add_option("--e2b-key-file", opts->e2b_key_file, "File of E2B API keys, one e2b_<hex> a line (mode 0600)");
  cmd->add_option("--e2b-templates", opts->e2b_templates, "JSON file of E2B template names to image references");
  cmd->add_option("--e2b-backend", opts->e2b_backend, "Backend of E2B sandboxes (default auto)");
  cmd->add_option("--e2b-domain", opts->e2b_domain, "Domain E2B sandboxes are told they live under (default none)");
  cmd->add_option("--shutdown-grace", opts->grace_s, "Seconds requests in flight get after SIGTERM (default 30)");
  cmd->callback([&ctx, opts] {
    // One line per request is the server's output: on unless asked otherwise.
    if (ctx.log_level.empty() && !::getenv("KRUNBOX_LOG") && log_level() > LogLevel::kInfo)
      set_log_level(LogLevel::kInfo);
    if (auto st = run_serve(*opts); !st.ok()) ctx.exit_code = report_error(st.error());
  });
}

}  // namespace

KRUNBOX_COMMAND(serve, setup_serve);

}  // namespace krunbox::cli
