"""Where the server is, and one httpx client for it (sync or async).

``KRUNBOX_HOST`` names the server as ``DOCKER_HOST`` names Docker's:

- ``unix:///path/api.sock`` (the default: ``<run dir>/api.sock``, the run dir
  as krunbox computes it in src/base/paths.cc);
- ``http://host:port`` (or ``tcp://host:port``; ``https://`` behind a TLS
  proxy), with ``KRUNBOX_API_KEY`` as the bearer token.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

import httpx

from ._version import __version__
from .exceptions import ConnectionException, SandboxException, TimeoutException, exception_for

DEFAULT_REQUEST_TIMEOUT = 300.0
"""Seconds a request may take (a create that pulls an image or boots a VM included)."""

CONNECT_TIMEOUT = 10.0

# The server ends keep-alive connections idle for 30 s; the pool drops its
# own before that, so a request never goes out on one the server just closed.
KEEPALIVE_EXPIRY = 15.0


def default_run_dir() -> str:
    """The run dir as krunbox computes it (src/base/paths.cc, run_root)."""
    v = os.environ.get("KRUNBOX_RUN_DIR")
    if v:
        return v
    if os.geteuid() == 0:
        return "/run/krunbox"
    x = os.environ.get("XDG_RUNTIME_DIR")
    if x:
        return os.path.join(x, "krunbox")
    return "/tmp/krunbox-%d" % os.geteuid()


def default_host() -> str:
    return "unix://" + os.path.join(default_run_dir(), "api.sock")


@dataclass(frozen=True)
class ConnectionConfig:
    """A resolved server address: ``uds`` for a Unix socket, else ``base_url``."""

    host: str
    base_url: str
    uds: Optional[str] = None
    api_key: Optional[str] = None
    request_timeout: Optional[float] = DEFAULT_REQUEST_TIMEOUT

    @classmethod
    def resolve(cls, host: Optional[str] = None, api_key: Optional[str] = None,
                request_timeout: Optional[float] = None) -> "ConnectionConfig":
        """From the arguments, else ``KRUNBOX_HOST`` and ``KRUNBOX_API_KEY``, else the default socket."""
        host = host or os.environ.get("KRUNBOX_HOST") or default_host()
        if api_key is None:
            api_key = os.environ.get("KRUNBOX_API_KEY") or None
        timeout = DEFAULT_REQUEST_TIMEOUT if request_timeout is None else request_timeout
        if host.startswith("unix://") or host.startswith("/"):
            path = host[len("unix://"):] if host.startswith("unix://") else host
            if not path.startswith("/"):
                raise SandboxException("KRUNBOX_HOST %r: a unix socket needs an absolute path "
                                       "(unix:///run/krunbox/api.sock)" % host)
            # Requests over the socket need some host name; this one is never resolved.
            return cls(host="unix://" + path, base_url="http://krunbox", uds=path, api_key=None,
                       request_timeout=timeout)
        for scheme in ("http://", "https://", "tcp://"):
            if host.startswith(scheme):
                rest = host[len(scheme):].rstrip("/")
                if not rest or "/" in rest:
                    break
                url = ("https://" if scheme == "https://" else "http://") + rest
                return cls(host=host, base_url=url, uds=None, api_key=api_key, request_timeout=timeout)
        raise SandboxException("KRUNBOX_HOST %r: expected unix:///path/to/api.sock or http://host:port" % host)

    def headers(self) -> Dict[str, str]:
        h = {"User-Agent": "krunbox-python/" + __version__}
        # The socket's file mode is its authentication; the token goes only over TCP.
        if self.api_key and self.uds is None:
            h["Authorization"] = "Bearer " + self.api_key
        return h

    def timeout(self, seconds: Optional[float] = None, *, read: Any = "default") -> httpx.Timeout:
        """A request's timeout: ``seconds`` (else the config's) overall; ``read`` may differ (None: no limit)."""
        total = self.request_timeout if seconds is None else seconds
        connect = CONNECT_TIMEOUT if total is None else min(CONNECT_TIMEOUT, total)
        return httpx.Timeout(total, connect=connect, read=total if read == "default" else read)

    # An explicit transport also keeps HTTP_PROXY and friends out of it: the
    # server is local (or named exactly), never reached through a proxy.
    def client(self) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=self.uds, limits=_limits())
        return httpx.Client(transport=transport, base_url=self.base_url, headers=self.headers(),
                            timeout=self.timeout())

    def async_client(self) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(uds=self.uds, limits=_limits())
        return httpx.AsyncClient(transport=transport, base_url=self.base_url, headers=self.headers(),
                                 timeout=self.timeout())


def _limits() -> httpx.Limits:
    return httpx.Limits(max_connections=None, max_keepalive_connections=32, keepalive_expiry=KEEPALIVE_EXPIRY)


def error_from_body(status: int, body: bytes) -> SandboxException:
    """The exception for an error answer (its body already read)."""
    code = None
    message = ""
    try:
        err = json.loads(body)["error"]
        code = err.get("code")
        message = err.get("message") or ""
    except (ValueError, KeyError, TypeError, AttributeError):
        text = body.decode("utf-8", "replace").strip()
        message = "HTTP %d%s" % (status, (": " + text[:500]) if text else "")
    return exception_for(code, message or "HTTP %d" % status, status)


def transport_error(e: httpx.HTTPError, cfg: ConnectionConfig) -> SandboxException:
    """An httpx error that is not an HTTP answer, as the SDK's exception."""
    if isinstance(e, httpx.TimeoutException):
        return TimeoutException("the request to %s timed out (%s); raise request_timeout if it needs longer"
                                % (cfg.host, type(e).__name__))
    if isinstance(e, (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        hint = ""
        if isinstance(e, httpx.ConnectError):
            hint = "; is `krunbox serve` running there? (KRUNBOX_HOST names the server)"
        return ConnectionException("cannot talk to the krunbox server at %s: %s%s" % (cfg.host, e or type(e).__name__,
                                                                                     hint))
    return SandboxException("request to %s failed: %s" % (cfg.host, e))
