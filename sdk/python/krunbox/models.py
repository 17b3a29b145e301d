"""What the API returns, as dataclasses.

Each keeps the server's whole document in ``raw``, so fields a newer server
adds are reachable before this SDK names them.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class PortMapping:
    host_ip: str
    host_port: int
    guest_port: int
    protocol: str = "tcp"


@dataclass
class SandboxInfo:
    """A sandbox document (docs/api.md, "The sandbox document")."""

    id: str
    name: str
    image: str
    backend: str
    state: str
    """``created``, ``starting``, ``running``, ``paused``, ``stopped`` or ``crashed``."""
    status: str
    """As ``krunbox ps`` words it: ``exited (137) 3 seconds ago``."""
    reason: str
    exit_code: Optional[int]
    labels: Dict[str, str]
    ports: List[PortMapping]
    created_at: int
    """Unix time, seconds."""
    timeout_s: Optional[int] = None
    """The time to live each run gets (0: none), as created."""
    idle_timeout_s: Optional[int] = None
    deadline: Optional[int] = None
    """When this run's time to live ends (unix seconds), or None."""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def sandbox_id(self) -> str:
        """E2B's name for ``id``."""
        return self.id

    @property
    def metadata(self) -> Dict[str, str]:
        """E2B's name for ``labels``."""
        return self.labels

    @classmethod
    def from_json(cls, doc: Dict[str, Any]) -> "SandboxInfo":
        return cls(
            id=doc["id"],
            name=doc.get("name") or "",
            image=doc.get("image") or "",
            backend=doc.get("backend") or "",
            state=doc.get("state") or "",
            status=doc.get("status") or "",
            reason=doc.get("reason") or "",
            exit_code=doc.get("exit_code"),
            labels=dict(doc.get("labels") or {}),
            ports=[PortMapping(p.get("host_ip", ""), p.get("host_port", 0), p.get("guest_port", 0),
                               p.get("protocol", "tcp")) for p in doc.get("ports") or []],
            created_at=doc.get("created_at") or 0,
            timeout_s=doc.get("timeout_s"),
            idle_timeout_s=doc.get("idle_timeout_s"),
            deadline=doc.get("deadline"),
            raw=doc,
        )


@dataclass
class CommandResult:
    """How a command ended, and what it wrote (decoded as UTF-8, bad bytes replaced)."""

    stdout: str
    stderr: str
    exit_code: int
    """The shell's: 128+N when signal N killed it, 124 on its timeout."""
    error: Optional[str] = None
    """Why it ended abnormally (a signal, its timeout), else None."""
    signal: int = 0
    """The signal that killed it, else 0."""
    timed_out: bool = False
    stdout_truncated: bool = False
    """True when the server kept only the first 4 MiB (the collected form only)."""
    stderr_truncated: bool = False


@dataclass
class ExecInfo:
    """A command the sandbox runs or ran (``GET .../execs``)."""

    exec_id: str
    pid: int
    argv: List[str]
    tty: bool
    running: bool
    exit_code: Optional[int]
    signal: Optional[int]
    timed_out: Optional[bool]
    output_bytes: Optional[int] = None
    """How much it has written (both streams)."""
    started_unix_ms: Optional[int] = None
    error: Optional[Dict[str, Any]] = None
    """``{"code", "message"}`` when the sandbox stopped under it."""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cmd(self) -> str:
        """The program (E2B's ProcessInfo.cmd)."""
        return self.argv[0] if self.argv else ""

    @property
    def args(self) -> List[str]:
        """Its arguments (E2B's ProcessInfo.args)."""
        return self.argv[1:]

    @classmethod
    def from_json(cls, doc: Dict[str, Any]) -> "ExecInfo":
        return cls(
            exec_id=str(doc["exec_id"]),
            pid=int(doc.get("pid") or 0),
            argv=list(doc.get("argv") or []),
            tty=bool(doc.get("tty")),
            running=bool(doc.get("running")),
            exit_code=doc.get("exit_code"),
            signal=doc.get("signal"),
            timed_out=doc.get("timed_out"),
            output_bytes=doc.get("output_bytes"),
            started_unix_ms=doc.get("started_unix_ms"),
            error=doc.get("error"),
            raw=doc,
        )


# The agent's short names, should a listing pass them through.
_TYPES = {"dir": "directory", "link": "symlink"}


@dataclass
class EntryInfo:
    """A file's metadata: from ``files.get_info`` (stat) or ``files.list``."""

    name: str
    path: str
    type: str
    """``file``, ``directory``, ``symlink`` or ``other``."""
    mode: int
    """Permission bits."""
    size: int
    uid: Optional[int] = None
    gid: Optional[int] = None
    mtime_ns: Optional[int] = None
    symlink_target: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def permissions(self) -> str:
        """The mode as ``rwxr-xr-x``."""
        return "".join(c if self.mode & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))

    @classmethod
    def from_json(cls, doc: Dict[str, Any], base: Optional[str] = None) -> "EntryInfo":
        """From a stat answer, or a listing's entry (``base``: the listed directory).

        A listing may name an entry by its path below ``base`` (``sub/b.txt``);
        ``name`` is always the last component, ``path`` absolute.
        """
        name = doc.get("name") or ""
        path = doc.get("path") or (posixpath.join(base, name) if base and name else name)
        kind = doc.get("type") or "other"
        return cls(
            name=posixpath.basename(path.rstrip("/")) or posixpath.basename(name.rstrip("/")) or path,
            path=path,
            type=_TYPES.get(kind, kind),
            mode=int(doc.get("mode") or 0),
            size=int(doc.get("size") or 0),
            uid=doc.get("uid"),
            gid=doc.get("gid"),
            mtime_ns=doc.get("mtime_ns"),
            symlink_target=doc.get("symlink_target"),
            raw=doc,
        )


@dataclass
class WriteInfo:
    """What ``files.write`` wrote."""

    name: str
    path: str
    type: str = "file"


__all__ = ["PortMapping", "SandboxInfo", "CommandResult", "ExecInfo", "EntryInfo", "WriteInfo"]
