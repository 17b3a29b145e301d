#!/usr/bin/env bash
# The API server's cost, in one run:
#   1. exec `true` in a running native sandbox three ways: through the API
#      (POST .../exec), with `krunbox exec`, and by a direct call to the
#      sandbox's monitor (its socket and frames, no CLI, no server):
#      medians, and what the API adds over the direct call (goal: <= 1 ms);
#   2. create -> first exec -> delete through the API, P50/P95, one at a time
#      and 20 at once, native and qemu;
#   3. the figures a published E2B-compatible runtime quotes on its own
#      hardware, printed beside ours (not measured here: no such peer is
#      packaged for Debian).
# Needs root (native sandboxes).
#
#   bench/api/run.sh [EXECS] [AT_ONCE] [QEMU_AT_ONCE]     (default 50 20 20)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/serve-world.sh"
serve_world_init api
/usr/bin/python3 -c 'import httpx' 2>/dev/null || die "python3-httpx is not installed (scripts/setup.sh installs it)"
serve_world_serve api.sock

export KB="$krunbox" KB_EXECS=${1:-50} KB_AT_ONCE=${2:-20} KB_QEMU_AT_ONCE=${3:-20}
/usr/bin/python3 - <<'PY'
import concurrent.futures as cf
import http.client
import json
import os
import socket
import statistics
import struct
import subprocess
import time

import httpx

kb, run_dir = os.environ["KB"], os.environ["KRUNBOX_RUN_DIR"]
execs, at_once, qemu_at_once = (int(os.environ[k]) for k in ("KB_EXECS", "KB_AT_ONCE", "KB_QEMU_AT_ONCE"))
api = httpx.Client(transport=httpx.HTTPTransport(uds=os.path.join(run_dir, "api.sock")), base_url="http://kb",
                   timeout=600)

def ms(t0):
    return (time.perf_counter() - t0) * 1000

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def create(backend, **extra):
    body = {"backend": backend, "cmd": ["sleep", "3600"]}
    if backend == "qemu":
        body["memory_mib"] = 256
    body.update(extra)
    r = api.post("/v1/sandboxes", json=body)
    if r.status_code != 201:
        raise SystemExit("create on %s failed: %s" % (backend, r.text))
    return r.json()["id"]

def api_exec(sid):
    r = api.post("/v1/sandboxes/%s/exec" % sid, json={"argv": ["true"]})
    if r.status_code != 200 or r.json()["exit_code"] != 0:
        raise SystemExit("exec failed: %s" % r.text)

# For the exec latency, the leanest real HTTP client (the standard library's,
# one keep-alive connection), so the figure is the server's and not httpx's
# own per-request cost (about 0.5 ms here).
class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("krunbox")
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.unix_path)

lean = UnixHTTPConnection(os.path.join(run_dir, "api.sock"))

def lean_exec(sid):
    lean.request("POST", "/v1/sandboxes/%s/exec" % sid, body=b'{"argv":["true"]}',
                 headers={"Content-Type": "application/json"})
    r = lean.getresponse()
    body = r.read()
    if r.status != 200 or json.loads(body)["exit_code"] != 0:
        raise SystemExit("exec failed: %s" % body)

# The monitor's own protocol (docs/lifecycle.md): 1 byte type, 4 bytes length.
def frame(t, payload):
    return struct.pack(">BI", t, len(payload)) + payload

def read_frame(s):
    head = b""
    while len(head) < 5:
        chunk = s.recv(5 - len(head))
        if not chunk:
            return None
        head += chunk
    t, n = struct.unpack(">BI", head)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return t, body

def direct_exec(sid):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(run_dir, "monitors", sid[:16] + ".sock"))
        req = {"op": "exec", "argv": ["true"], "env": [], "cwd": "", "user": "", "tty": False, "stdin": False}
        s.sendall(frame(ord("Q"), json.dumps(req).encode()))
        while True:
            f = read_frame(s)
            if f is None:
                raise SystemExit("the monitor ended the exec without an exit")
            if f[0] == ord("R") and not json.loads(f[1])["ok"]:
                raise SystemExit("monitor refused: %s" % f[1])
            if f[0] == 7:
                return

# 1. exec, interleaved so drift hits all three alike.
sid = create("native")
ways = {"api": [], "cli": [], "direct": []}
for i in range(execs + 3):
    t0 = time.perf_counter(); lean_exec(sid); a = ms(t0)
    t0 = time.perf_counter()
    subprocess.run([kb, "exec", sid, "--", "true"], check=True, stdin=subprocess.DEVNULL)
    c = ms(t0)
    t0 = time.perf_counter(); direct_exec(sid); d = ms(t0)
    if i >= 3:
        ways["api"].append(a); ways["cli"].append(c); ways["direct"].append(d)
api.delete("/v1/sandboxes/" + sid)
med = {k: statistics.median(v) for k, v in ways.items()}
print("exec `true` in a running native sandbox, median of %d:" % execs)
print("  through the API (http.client) %4.2f ms   (P95 %.2f)" % (med["api"], pct(ways["api"], 95)))
print("  krunbox exec (CLI)        %7.2f ms   (P95 %.2f)" % (med["cli"], pct(ways["cli"], 95)))
print("  direct monitor call       %7.2f ms   (P95 %.2f)" % (med["direct"], pct(ways["direct"], 95)))
print("  API / CLI ratio           %7.2f" % (med["api"] / med["cli"]))
print("  API adds over the monitor %7.2f ms   (goal <= 1 ms)" % (med["api"] - med["direct"]))

# 2. create -> first exec -> delete.
def cycle(backend):
    t0 = time.perf_counter()
    s = create(backend)
    created = ms(t0)
    api_exec(s)
    first = ms(t0)
    api.delete("/v1/sandboxes/" + s)
    return created, first, ms(t0)

def report(label, results):
    firsts = [r[1] for r in results]
    totals = [r[2] for r in results]
    print("  %-28s create->first exec P50 %7.1f P95 %7.1f ms; ->delete P50 %7.1f P95 %7.1f ms" %
          (label, pct(firsts, 50), pct(firsts, 95), pct(totals, 50), pct(totals, 95)))

print("create -> first exec -> delete through the API:")
for backend, n, together in (("native", 20, at_once), ("qemu", 5, qemu_at_once)):
    report("%s, one at a time (%d)" % (backend, n), [cycle(backend) for _ in range(n)])
    with cf.ThreadPoolExecutor(together) as pool:
        t0 = time.perf_counter()
        results = list(pool.map(lambda _: cycle(backend), range(together)))
        wall = ms(t0)
    report("%s, %d at once" % (backend, together), results)
    print("  %-28s all %d done in %.0f ms" % ("", together, wall))

print("published by an E2B-compatible runtime, on its own hardware (for scale, not measured here):")
print("  warm start 14/24 ms, cold start 98/313 ms (P50/P95), exec 4 ms")
PY
