#!/usr/bin/env bash
# The E2B layer's cost, in one run: the unmodified E2B JS SDK (tests/e2b's
# pinned `e2b`) doing Sandbox.create -> first commands.run('echo hi') -> kill
# against `krunbox serve --e2b`, beside krunbox's own Python SDK (sdk/python)
# doing the same through the native REST API of the same server, both over
# loopback TCP. Rounds alternate which goes first. Prints median and P95 of
# each step, the ratio and the difference (what the E2B layer adds: the
# SDK's requests and envd's shape over the same sandboxes). Native by
# default; qemu (under TCG here) with QEMU_ROUNDS > 0. Needs root, node >=
# 20.18.1 and the SDK (scripts/setup.sh runs npm ci in tests/e2b).
#
#   bench/e2b/run.sh [ROUNDS] [QEMU_ROUNDS]      (default 20 0)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
sdk_dir=$repo/tests/e2b
source "$here/../lib/serve-world.sh"
serve_world_init e2b
command -v node >/dev/null || die "node is not installed (scripts/setup.sh installs it; see docs/e2b.md)"
[[ -d $sdk_dir/node_modules/e2b ]] || die "the E2B SDK is not installed: run npm ci in $sdk_dir"
/usr/bin/python3 -c 'import httpx' 2>/dev/null || die "python3-httpx is not installed (scripts/setup.sh installs it)"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
e2b_port=$(free_port)
api_port=$(free_port)
e2b_key=e2b_$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
api_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && echo "$e2b_key" >"$work/e2b-keys" && echo "$api_token" >"$work/token")

# One server per backend: the E2B listener's backend is the server's.
start_server() {
  serve_world_serve api.sock --e2b "127.0.0.1:$e2b_port" --e2b-key-file "$work/e2b-keys" --e2b-backend "$1" \
    --listen "127.0.0.1:$api_port" --token-file "$work/token"
}
stop_server() {
  kill "$serve_world_server" && wait "$serve_world_server" 2>/dev/null || true
  serve_world_server=""
  rm -f "$KRUNBOX_RUN_DIR/api.sock"
}

compare() {
  KB_BACKEND=$1 KB_N=$2 /usr/bin/python3 - <<'PY'
import json
import os
import statistics
import subprocess
import time

from krunbox import Sandbox

backend, rounds = os.environ["KB_BACKEND"], int(os.environ["KB_N"])
api_url, token = os.environ["KB_API_URL"], os.environ["KB_API_TOKEN"]

# One long-lived node process with the SDK loaded, timing each cycle itself,
# so node's start-up is in neither figure.
worker = r"""
import { Sandbox } from 'e2b';
import readline from 'node:readline';
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  try {
    const t0 = performance.now();
    const sbx = await Sandbox.create(line.trim(), { timeoutMs: 600_000 });
    const created = performance.now() - t0;
    const r = await sbx.commands.run('echo hi');
    if (r.stdout !== 'hi\n') throw new Error('echo hi gave ' + JSON.stringify(r.stdout));
    const first = performance.now() - t0;
    await sbx.kill();
    console.log(JSON.stringify({ created, first, total: performance.now() - t0 }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e) }));
  }
}
"""
env = dict(os.environ, E2B_API_URL=os.environ["KB_E2B_URL"], E2B_SANDBOX_URL=os.environ["KB_E2B_URL"],
           E2B_API_KEY=os.environ["KB_E2B_KEY"])
node = subprocess.Popen(["node", "--input-type=module", "-e", worker], cwd=os.environ["KB_SDK_DIR"], env=env,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

def e2b_cycle():
    node.stdin.write("busybox\n")
    node.stdin.flush()
    line = node.stdout.readline()
    if not line:
        raise SystemExit("the node worker ended")
    r = json.loads(line)
    if "error" in r:
        raise SystemExit("the E2B SDK's cycle failed: " + r["error"])
    return r["created"], r["first"], r["total"]

def own_cycle():
    t0 = time.perf_counter()
    sb = Sandbox.create(image="busybox", backend=backend, host=api_url, api_key=token, timeout=600)
    created = (time.perf_counter() - t0) * 1000
    r = sb.commands.run("echo hi")
    if r.stdout != "hi\n":
        raise SystemExit("echo hi gave %r" % r.stdout)
    first = (time.perf_counter() - t0) * 1000
    sb.kill()
    return created, first, (time.perf_counter() - t0) * 1000

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

e2b_cycle(), own_cycle()  # warm: image roots, page cache, connections
e, k = [], []
for i in range(rounds):
    if i % 2:
        k.append(own_cycle()); e.append(e2b_cycle())
    else:
        e.append(e2b_cycle()); k.append(own_cycle())
node.stdin.close()
node.wait()
print("%s, %d rounds, E2B JS SDK vs krunbox's Python SDK:" % (backend, rounds))
for label, idx in (("create", 0), ("create->first run", 1), ("create->run->kill", 2)):
    es, ks = [x[idx] for x in e], [x[idx] for x in k]
    em, km = statistics.median(es), statistics.median(ks)
    print("  %-18s E2B median %7.1f ms P95 %7.1f | krunbox median %7.1f ms P95 %7.1f | ratio %.2f, E2B adds %+.1f ms"
          % (label, em, pct(es, 95), km, pct(ks, 95), em / km, em - km))
PY
}

export KB_SDK_DIR=$sdk_dir KB_E2B_KEY=$e2b_key KB_E2B_URL=http://127.0.0.1:$e2b_port
export KB_API_URL=http://127.0.0.1:$api_port KB_API_TOKEN=$api_token PYTHONPATH=$repo/sdk/python
rounds=${1:-20} qemu_rounds=${2:-0}
start_server native
compare native "$rounds"
if ((qemu_rounds > 0)); then
  stop_server
  start_server qemu
  compare qemu "$qemu_rounds"
fi
