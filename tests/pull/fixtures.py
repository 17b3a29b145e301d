#!/usr/bin/env python3
"""Test fixtures for the pull suite: small OCI image layouts (gzip and zstd
layers, a two-platform index), pushed with skopeo to a docker-registry; a
token service for the registry's token auth (passwords checked against an
htpasswd file with `htpasswd -v`, tokens signed with `openssl`); an HTTP
proxy that cuts the connection once in the middle of a blob; a server that
redirects in a loop.

usage: fixtures.py layouts DIR
       fixtures.py token PORT KEY CERT HTPASSWD ISSUER SERVICE
       fixtures.py cutproxy PORT UPSTREAM_PORT
       fixtures.py redirect PORT
"""
import base64, gzip, hashlib, http.server, io, json, os, socket, subprocess, sys, tarfile, time, urllib.parse, urllib.request


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def make_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            if data is None:
                ti = tarfile.TarInfo(name); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
                continue
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def write_blob(layout, data):
    d = sha(data)
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", d[7:]), "wb") as f:
        f.write(data)
    return {"digest": d, "size": len(data)}


def image(layout, arch, layers, compress):
    diff_ids, descs = [], []
    for files in layers:
        raw = make_tar(files)
        diff_ids.append(sha(raw))
        if compress == "zstd":
            blob = subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, stdout=subprocess.PIPE, check=True).stdout
            mt = "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            blob = gzip.compress(raw, mtime=0)
            mt = "application/vnd.oci.image.layer.v1.tar+gzip"
        d = write_blob(layout, blob); d["mediaType"] = mt; descs.append(d)
    config = {"architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
              "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    c = write_blob(layout, json.dumps(config).encode()); c["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": c, "layers": descs}
    m = write_blob(layout, json.dumps(manifest).encode()); m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    m["platform"] = {"os": "linux", "architecture": arch}
    return m


def write_layout(layout, top, tag):
    os.makedirs(layout, exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    top = dict(top); top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]}, f)


def layouts(out):
    # "small": three gzip layers, one of them a few MB so a cut mid-blob is possible.
    big = os.urandom(3 << 20)
    layers = [[("etc/", None), ("etc/hello", b"hello from layer 1\n")],
              [("data/", None), ("data/big.bin", big)],
              [("etc/hello", b"hello from layer 3\n"), ("etc/only3", b"3\n")]]
    l = os.path.join(out, "small"); m = image(l, "amd64", layers, "gzip"); write_layout(l, m, "v1")
    z = os.path.join(out, "zstd"); m = image(z, "amd64", [[("z/", None), ("z/file", b"zstd layer\n" * 1000)]], "zstd"); write_layout(z, m, "v1")
    # Content of its own, for the tampering test (registry blobs are shared by repositories).
    t = os.path.join(out, "tamper"); m = image(t, "amd64", [[("t.bin", os.urandom(1 << 20))]], "gzip"); write_layout(t, m, "v1")
    # Two platforms in one index.
    mp = os.path.join(out, "multi")
    a = image(mp, "amd64", [[("arch", b"amd64\n")]], "gzip")
    b = image(mp, "arm64", [[("arch", b"arm64\n")]], "gzip")
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [a, b]}
    i = write_blob(mp, json.dumps(idx).encode()); i["mediaType"] = "application/vnd.oci.image.index.v1+json"
    write_layout(mp, i, "v1")


def token(port, key, cert, htpasswd, issuer, service):
    with open(cert) as f:
        der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=f.read().encode(), stdout=subprocess.PIPE, check=True).stdout
    x5c = base64.b64encode(der).decode()

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            auth = self.headers.get("Authorization", "")
            ok = False
            if auth.startswith("Basic "):
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                ok = subprocess.run(["htpasswd", "-vb", htpasswd, user, pw], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
            if not ok:
                self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers(); return
            access = []
            for s in q.get("scope", []):
                typ, name, actions = s.split(":")
                access.append({"type": typ, "name": name, "actions": actions.split(",")})
            now = int(time.time())
            hdr = {"alg": "RS256", "typ": "JWT", "x5c": [x5c]}
            claims = {"iss": issuer, "sub": user, "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
                      "jti": os.urandom(8).hex(), "access": access}
            signing = b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())
            sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing.encode(), stdout=subprocess.PIPE, check=True).stdout
            body = json.dumps({"token": signing + "." + b64(sig), "expires_in": 300}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)

    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def cutproxy(port, upstream, honour_range=True):
    """Cuts each large blob once, half-way. Without Range support (a server
    that answers 200 with the whole blob to a ranged request) the client has
    to start that blob over."""
    cut_done = set()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def proxy(self, head):
            req = urllib.request.Request("http://127.0.0.1:%d%s" % (upstream, self.path), method="HEAD" if head else "GET")
            for k in ("Accept", "Range", "Authorization") if honour_range else ("Accept", "Authorization"):
                if self.headers.get(k):
                    req.add_header(k, self.headers[k])
            try:
                resp = urllib.request.urlopen(req)
            except urllib.error.HTTPError as e:
                resp = e
            body = b"" if head else resp.read()
            self.send_response(resp.status if hasattr(resp, "status") else resp.code)
            for k, v in resp.headers.items():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body) if not head else resp.headers.get("Content-Length", "0")))
            self.end_headers()
            if "/blobs/" in self.path and len(body) > (1 << 20) and self.path not in cut_done:
                # Half the blob, then the connection drops.
                cut_done.add(self.path)
                self.wfile.write(body[: len(body) // 2]); self.wfile.flush()
                with open(os.environ.get("CUT_LOG", "/dev/null"), "a") as f:
                    f.write("cut %s\n" % self.path)
                self.connection.shutdown(socket.SHUT_RDWR); self.close_connection = True
                return
            if "/blobs/" in self.path and self.headers.get("Range"):
                with open(os.environ.get("CUT_LOG", "/dev/null"), "a") as f:
                    f.write("%s" % ("" if honour_range else "ignored "))
                    f.write("range %s %s %d\n" % (self.headers["Range"], resp.status if hasattr(resp, "status") else resp.code, len(body)))
            self.wfile.write(body)

        def do_GET(self):
            self.proxy(False)

        def do_HEAD(self):
            self.proxy(True)

    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def redirect(port):
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path == "/v2/":
                self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}"); return
            self.send_response(302); self.send_header("Location", self.path); self.send_header("Content-Length", "0"); self.end_headers()

    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def bigmanifest(port, repo, tag, newtag):
    """Re-tags repo:tag under newtag with a manifest padded past 1 MiB."""
    accept = "application/vnd.oci.image.manifest.v1+json"
    req = urllib.request.Request("http://127.0.0.1:%d/v2/%s/manifests/%s" % (port, repo, tag), headers={"Accept": accept})
    m = json.loads(urllib.request.urlopen(req).read())
    m["annotations"] = {"padding": "x" * (1536 * 1024)}
    body = json.dumps(m).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/v2/%s/manifests/%s" % (port, repo, newtag), data=body, method="PUT",
                                 headers={"Content-Type": accept})
    urllib.request.urlopen(req).read()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "layouts":
        layouts(sys.argv[2])
    elif cmd == "token":
        token(int(sys.argv[2]), *sys.argv[3:8])
    elif cmd == "cutproxy":
        cutproxy(int(sys.argv[2]), int(sys.argv[3]), honour_range=len(sys.argv) < 5 or sys.argv[4] != "norange")
    elif cmd == "bigmanifest":
        bigmanifest(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "redirect":
        redirect(int(sys.argv[2]))
