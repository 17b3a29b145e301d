"""The API's requests and answers, without I/O: shared by the sync and async SDK.

Each operation is a :class:`Call` (what to send) and a parser for what comes
back; ``sandbox.py`` and ``sandbox_async.py`` only send them.
"""
from __future__ import annotations

import base64
import codecs
import json
import math
import posixpath
import signal as _signal
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote

import httpx

from .exceptions import (CommandExitException, InvalidArgumentException, SandboxException, TimeoutException,
                         exception_for)
from .models import CommandResult

Env = Union[Mapping[str, str], Sequence[str]]
Labels = Union[Mapping[str, str], Sequence[str], str]

# What a sandbox runs when no cmd is given: nothing, for as long as it may,
# so that it waits for commands (as an E2B sandbox does).
KEEP_ALIVE_CMD = ["sleep", "2147483647"]

# commands.run's default timeout, in seconds (E2B's). A background command
# given no timeout runs without one: this object is told from a caller's 60.
DEFAULT_COMMAND_TIMEOUT: float = float("60")

# Beyond the command's own timeout, how long its answer may take (the kill
# and the report of its end).
EXEC_ANSWER_GRACE = 60.0

# Raw bodies on routes the server gives its 1 MiB JSON limit (stdin to a
# background command) go in pieces below it.
STDIN_CHUNK = 512 * 1024

NDJSON = "application/x-ndjson"


@dataclass
class Call:
    """One request: ``stream`` ones are read line by line (NDJSON)."""

    method: str
    path: str
    params: Any = None
    json: Any = None
    content: Optional[bytes] = None
    headers: Optional[Dict[str, str]] = None
    timeout: Optional[httpx.Timeout] = None
    stream: bool = False


def sandbox_path(sandbox_id: str, *rest: str) -> str:
    return "/v1/sandboxes/" + "/".join(quote(p, safe="") for p in (sandbox_id, *rest))


def drop_none(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def whole_seconds(value: Optional[float], what: str) -> Optional[int]:
    """A timeout in seconds as the API's whole seconds (rounded up); None and 0 stay "none"."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidArgumentException("%s must be seconds (a number >= 0), not %r" % (what, value))
    return int(math.ceil(value))


def env_json(env: Optional[Env]) -> Any:
    if env is None:
        return None
    if isinstance(env, Mapping):
        return {str(k): str(v) for k, v in env.items()}
    if isinstance(env, (str, bytes)):
        raise InvalidArgumentException("env must be a mapping {'K': 'V'} or a list ['K=V'], not a string")
    return [str(e) for e in env]


def label_params(labels: Optional[Labels]) -> List[Tuple[str, str]]:
    """``label=K=V`` (or ``label=K``: set) query parameters, all of which must match."""
    if not labels:
        return []
    if isinstance(labels, str):
        return [("label", labels)]
    if isinstance(labels, Mapping):
        return [("label", "%s=%s" % (k, v)) for k, v in labels.items()]
    return [("label", str(v)) for v in labels]


def create_body(*, image: Optional[str], backend: Optional[str], cpus: Optional[int], memory_mib: Optional[int],
                env: Optional[Env], timeout: Optional[float], idle_timeout: Optional[float],
                labels: Optional[Mapping[str, str]],
                name: Optional[str], cmd: Optional[Sequence[str]], entrypoint: Optional[str],
                workdir: Optional[str], user: Optional[str], hostname: Optional[str], network: Optional[str],
                ports: Optional[Sequence[Any]], volumes: Optional[Sequence[Any]],
                secrets: Optional[Mapping[str, str]], pids_limit: Optional[int], isolation: Optional[str],
                pull: Optional[str], rootfs: Optional[str], restart: Optional[str], start: bool) -> Dict[str, Any]:
    if isinstance(cmd, str):
        raise InvalidArgumentException("cmd must be a list (the program and its arguments), not a string")
    if cmd is None and entrypoint is None:
        # The image's own command may end at once (busybox's is sh); this
        # one waits. An image's entrypoint would get it as arguments, so it
        # is cleared (rootfs sandboxes have none).
        cmd = KEEP_ALIVE_CMD
        if rootfs is None:
            entrypoint = ""
    body = {
        "image": None if rootfs is not None else image,
        "rootfs": rootfs,
        "pull": pull,
        "backend": backend,
        "isolation": isolation,
        "cpus": cpus,
        "memory_mib": memory_mib,
        "pids_limit": pids_limit,
        "env": env_json(env),
        "secrets": dict(secrets) if secrets is not None else None,
        "volumes": [_plain(v) for v in volumes] if volumes is not None else None,
        "ports": [_plain(p) for p in ports] if ports is not None else None,
        "network": network,
        "workdir": workdir,
        "user": user,
        "entrypoint": entrypoint,
        "cmd": list(cmd) if cmd is not None else None,
        "name": name,
        "hostname": hostname,
        "labels": dict(labels) if labels is not None else None,
        "restart": restart,
        "timeout_s": whole_seconds(timeout, "timeout") or None,
        "idle_timeout_s": whole_seconds(idle_timeout, "idle_timeout") or None,
        "start": None if start else False,
    }
    return drop_none(body)


def _plain(v: Any) -> Any:
    """A port or volume given as a dataclass, or already as a dict."""
    if hasattr(v, "__dataclass_fields__"):
        return {k: getattr(v, k) for k in v.__dataclass_fields__}
    return dict(v)


def exec_body(cmd: Union[str, Sequence[str]], *, background: bool, stdin: Union[str, bytes, bool, None],
              cwd: Optional[str], env: Optional[Env], user: Optional[str], timeout: Optional[float]) -> Dict[str, Any]:
    body: Dict[str, Any] = {}
    if isinstance(cmd, str):
        body["cmd"] = cmd  # the server runs it as /bin/sh -c CMD
    elif isinstance(cmd, (list, tuple)):
        body["argv"] = [str(a) for a in cmd]
    else:
        raise InvalidArgumentException("cmd must be a string (for /bin/sh -c) or a list (argv), not %s"
                                       % type(cmd).__name__)
    if isinstance(stdin, bytes):
        try:
            body["stdin"] = stdin.decode("utf-8")
        except UnicodeDecodeError:
            # A JSON string cannot hold them as they are: base64, which the server decodes.
            body["stdin"] = base64.b64encode(stdin).decode("ascii")
            body["stdin_encoding"] = "base64"
    elif isinstance(stdin, str):
        body["stdin"] = stdin
    body["env"] = env_json(env)
    body["cwd"] = cwd
    body["user"] = user
    if background and timeout is DEFAULT_COMMAND_TIMEOUT:
        timeout = None
    t = whole_seconds(timeout, "timeout")
    body["timeout_s"] = t or None
    if background:
        body["background"] = True
    return drop_none(body)


def exec_read_timeout(timeout: Optional[float]) -> Optional[float]:
    """How long to wait for a command's answer: past its own timeout, or without limit."""
    return None if not timeout else float(timeout) + EXEC_ANSWER_GRACE


def signal_number(sig: Union[int, str]) -> Union[int, str]:
    if isinstance(sig, int):
        return int(sig)
    name = sig.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(getattr(_signal, name))
    except AttributeError:
        return sig  # the server knows more names, and says so when it does not


def _describe_end(exit_code: int, sig: int, timed_out: bool, timeout_s: Optional[int]) -> Optional[str]:
    if timed_out:
        return "the command ran past its timeout%s and was killed" % (" of %ds" % timeout_s if timeout_s else "")
    if sig:
        try:
            name = _signal.Signals(sig).name
        except ValueError:
            name = "signal %d" % sig
        return "killed by %s (%d)" % (name, sig)
    return None


def result_from_collected(doc: Dict[str, Any], *, timeout_s: Optional[int] = None) -> CommandResult:
    """The collected exec answer (output_encoding text)."""
    exit_code = int(doc.get("exit_code") or 0)
    sig = int(doc.get("signal") or 0)
    timed_out = bool(doc.get("timed_out"))
    return CommandResult(stdout=doc.get("stdout") or "", stderr=doc.get("stderr") or "", exit_code=exit_code,
                         error=_describe_end(exit_code, sig, timed_out, timeout_s), signal=sig, timed_out=timed_out,
                         stdout_truncated=bool(doc.get("stdout_truncated")),
                         stderr_truncated=bool(doc.get("stderr_truncated")))


def checked(result: CommandResult) -> CommandResult:
    """The result, or E2B's exceptions: its timeout, or a non-zero exit."""
    if result.timed_out:
        raise TimeoutException("command timed out: " + (result.error or ""), result=result)
    if result.exit_code != 0:
        raise CommandExitException(result)
    return result


class OutputCollector:
    """Folds a command's NDJSON events into its output and end.

    ``feed`` returns what to hand the callbacks, per stream, as text: each
    stream is decoded incrementally, so a character split between chunks
    arrives whole.
    """

    def __init__(self, timeout_s: Optional[int] = None) -> None:
        self.timeout_s = timeout_s
        self.pid: Optional[int] = None
        self.end: Optional[Dict[str, Any]] = None
        self.error: Optional[SandboxException] = None
        self.next_offset: Optional[int] = None
        """Where the output goes on, where the server numbers it (a background command's)."""
        self._text = {"stdout": [], "stderr": []}  # type: Dict[str, List[str]]
        self._decoders = {s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in ("stdout", "stderr")}

    def feed_line(self, line: Union[str, bytes]) -> List[Tuple[str, str]]:
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        line = line.strip()
        if not line:
            return []
        try:
            event = json.loads(line)
        except ValueError:
            raise SandboxException("the server sent a line that is not JSON in a command's output: %r" % line[:200])
        return self.feed(event)

    def feed(self, event: Dict[str, Any]) -> List[Tuple[str, str]]:
        kind = event.get("type")
        if kind in ("stdout", "stderr"):
            data = base64.b64decode(event.get("data") or "")
            if isinstance(event.get("offset"), int):
                self.next_offset = event["offset"] + len(data)
            text = self._decoders[kind].decode(data)
            if text:
                self._text[kind].append(text)
                return [(kind, text)]
        elif kind == "start":
            self.pid = event.get("pid", self.pid)
            if isinstance(event.get("offset"), int) and self.next_offset is None:
                self.next_offset = event["offset"]
        elif kind == "exit":
            self.end = event
            return self._flush()
        elif kind == "error":
            err = event.get("error") or {}
            self.error = exception_for(err.get("code"), err.get("message") or "the command failed")
            return self._flush()
        # Other event types are a newer server's; they carry nothing this SDK shows.
        return []

    def _flush(self) -> List[Tuple[str, str]]:
        out = []
        for kind, dec in self._decoders.items():
            text = dec.decode(b"", final=True)
            if text:
                self._text[kind].append(text)
                out.append((kind, text))
        return out

    @property
    def ended(self) -> bool:
        return self.end is not None or self.error is not None

    def finish_without_end(self) -> List[Tuple[str, str]]:
        return self._flush()

    @property
    def stdout(self) -> str:
        return "".join(self._text["stdout"])

    @property
    def stderr(self) -> str:
        return "".join(self._text["stderr"])

    def result(self, end: Optional[Dict[str, Any]] = None) -> CommandResult:
        """The result once the exit event (or ``end``, an exec document's exit fields) is in."""
        end = end if end is not None else self.end
        if self.error is not None:
            raise self.error
        if end is None:
            raise SandboxException("the command's output ended before its exit was reported")
        exit_code = int(end.get("exit_code") or 0)
        sig = int(end.get("signal") or 0)
        timed_out = bool(end.get("timed_out"))
        return CommandResult(stdout=self.stdout, stderr=self.stderr, exit_code=exit_code,
                             error=_describe_end(exit_code, sig, timed_out, self.timeout_s), signal=sig,
                             timed_out=timed_out)


# How often wait() takes up a background command's output again where it
# broke off (a dropped connection, a restarted server).
FOLLOW_RECONNECTS = 5
FOLLOW_RECONNECT_PAUSE = 0.5


def follow_params(collector: OutputCollector) -> Dict[str, str]:
    params = {"follow": "1"}
    if collector.next_offset:
        params["offset"] = str(collector.next_offset)
    return params


def stdin_pieces(data: Union[str, bytes]) -> List[bytes]:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if not raw:
        return []
    return [raw[i:i + STDIN_CHUNK] for i in range(0, len(raw), STDIN_CHUNK)]


def file_bytes(data: Union[str, bytes, bytearray, memoryview, Any]) -> bytes:
    """What files.write takes: text (written as UTF-8), bytes, or a binary file object."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    read = getattr(data, "read", None)
    if read is not None:
        got = read()
        return got.encode("utf-8") if isinstance(got, str) else bytes(got)
    raise InvalidArgumentException("files.write takes str, bytes or a file object, not %s" % type(data).__name__)


def basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) or path
