"""The synchronous SDK: :class:`Sandbox`, its ``commands`` and ``files``."""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Union, overload

import httpx

from . import _protocol as p
from ._connection import ConnectionConfig, error_from_body, transport_error
from .exceptions import (AlreadyExistsException, ConnectionException, IllegalStateException, InvalidArgumentException,
                         NotFoundException, SandboxException)
from .models import CommandResult, EntryInfo, ExecInfo, SandboxInfo, WriteInfo

OutputCallback = Callable[[str], Any]


class _Api:
    """One httpx client and the SDK's error rules around it."""

    def __init__(self, cfg: ConnectionConfig) -> None:
        self.cfg = cfg
        self.client = cfg.client()

    def _kwargs(self, call: p.Call) -> Dict[str, Any]:
        kw: Dict[str, Any] = {"params": call.params, "json": call.json, "content": call.content,
                              "headers": call.headers}
        if call.timeout is not None:
            kw["timeout"] = call.timeout
        return kw

    def send(self, call: p.Call) -> httpx.Response:
        try:
            r = self.client.request(call.method, call.path, **self._kwargs(call))
        except httpx.HTTPError as e:
            raise transport_error(e, self.cfg) from e
        if r.status_code >= 400:
            raise error_from_body(r.status_code, r.content)
        return r

    def json(self, call: p.Call) -> Any:
        return self.send(call).json()

    @contextlib.contextmanager
    def stream(self, call: p.Call) -> Iterator[httpx.Response]:
        try:
            with self.client.stream(call.method, call.path, **self._kwargs(call)) as r:
                if r.status_code >= 400:
                    r.read()
                    raise error_from_body(r.status_code, r.content)
                yield r
        except httpx.HTTPError as e:
            raise transport_error(e, self.cfg) from e

    def lines(self, call: p.Call, collector: p.OutputCollector, on_stdout: Optional[OutputCallback],
              on_stderr: Optional[OutputCallback], final: bool = True) -> None:
        """Feeds an NDJSON answer to ``collector``, calling back per chunk as it arrives."""
        with self.stream(call) as r:
            for line in r.iter_lines():
                _deliver(collector.feed_line(line), on_stdout, on_stderr)
        if final:
            _deliver(collector.finish_without_end(), on_stdout, on_stderr)

    def close(self) -> None:
        self.client.close()


def _deliver(pieces: List[Any], on_stdout: Optional[OutputCallback], on_stderr: Optional[OutputCallback]) -> None:
    for kind, text in pieces:
        cb = on_stdout if kind == "stdout" else on_stderr
        if cb is not None:
            cb(text)


def _is_missing(e: NotFoundException) -> bool:
    """A 404 for the thing itself, not for an endpoint this server lacks."""
    return e.code in (None, "not_found")


class CommandHandle:
    """A command running in the background (``commands.run(..., background=True)``).

    ``wait()`` follows its output (replayed from its start, up to the
    server's retained window) to its end.
    """

    def __init__(self, sandbox: "Sandbox", exec_id: str, pid: int, *, timeout_s: Optional[int] = None,
                 on_stdout: Optional[OutputCallback] = None, on_stderr: Optional[OutputCallback] = None) -> None:
        self._sandbox = sandbox
        self._exec_id = exec_id
        self._pid = pid
        self._timeout_s = timeout_s
        self._on_stdout = on_stdout
        self._on_stderr = on_stderr
        self._result: Optional[CommandResult] = None

    @property
    def exec_id(self) -> str:
        return self._exec_id

    @property
    def pid(self) -> int:
        """The command's process id inside the sandbox."""
        return self._pid

    def _path(self, *rest: str) -> str:
        return p.sandbox_path(self._sandbox.id, "execs", self._exec_id, *rest)

    def info(self) -> ExecInfo:
        return ExecInfo.from_json(self._sandbox._api.json(p.Call("GET", self._path())))

    def wait(self, on_stdout: Optional[OutputCallback] = None,
             on_stderr: Optional[OutputCallback] = None) -> CommandResult:
        """Waits for the end; raises CommandExitException on a non-zero exit (TimeoutException past its timeout).

        The callbacks (else those given to ``run``) get its output per chunk, from its start.
        """
        if self._result is None:
            api = self._sandbox._api
            out, err = on_stdout or self._on_stdout, on_stderr or self._on_stderr
            collector = p.OutputCollector(self._timeout_s)
            end = None
            for attempt in range(p.FOLLOW_RECONNECTS + 1):
                call = p.Call("GET", self._path("output"), params=p.follow_params(collector),
                              headers={"Accept": p.NDJSON},
                              timeout=api.cfg.timeout(read=p.exec_read_timeout(self._timeout_s)), stream=True)
                try:
                    api.lines(call, collector, out, err, final=False)
                except ConnectionException:
                    if collector.next_offset is None or attempt == p.FOLLOW_RECONNECTS:
                        raise
                if collector.ended:
                    break
                # The stream broke off (a dropped connection, a restarted server).
                if collector.next_offset is None:
                    # A server that numbers no output would replay it all: the document says how it ended.
                    info = self.info()
                    if info.running:
                        raise SandboxException("the output of command %s ended while it still runs; wait() again"
                                               % self._exec_id)
                    end = info.raw
                    break
                time.sleep(p.FOLLOW_RECONNECT_PAUSE)
            _deliver(collector.finish_without_end(), out, err)
            self._result = collector.result(end)
        return p.checked(self._result)

    def signal(self, sig: Union[int, str]) -> None:
        """Sends a signal: a number or a name (``"SIGTERM"``, ``"TERM"``)."""
        self._sandbox._api.send(p.Call("POST", self._path("signal"), json={"signal": p.signal_number(sig)}))

    def kill(self) -> bool:
        """SIGKILL; False if the command had already ended (or is unknown)."""
        try:
            self.signal(9)
            return True
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False
        except SandboxException as e:
            if e.code == "illegal_state":
                return False
            raise

    def send_stdin(self, data: Union[str, bytes]) -> None:
        """Writes to its stdin (raw bytes; str as UTF-8)."""
        for piece in p.stdin_pieces(data):
            self._sandbox._api.send(p.Call("POST", self._path("stdin"), content=piece,
                                           headers={"Content-Type": "application/octet-stream"}))

    def close_stdin(self) -> None:
        """Closes its stdin: it reads end-of-file. A command that has ended already is left be."""
        try:
            self._sandbox._api.send(p.Call("POST", self._path("close-stdin")))
        except IllegalStateException:
            if self.info().running:
                raise

    def resize(self, rows: int, cols: int) -> None:
        """A tty command's window size."""
        self._sandbox._api.send(p.Call("POST", self._path("resize"), json={"rows": rows, "cols": cols}))

    def disconnect(self) -> None:
        """Nothing to do: a handle holds no connection between calls (E2B compatibility)."""


class Commands:
    """``sandbox.commands``: commands in the running sandbox."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sandbox = sandbox

    @overload
    def run(self, cmd: Union[str, Sequence[str]], *, background: Literal[False] = False,
            on_stdout: Optional[OutputCallback] = None, on_stderr: Optional[OutputCallback] = None,
            stdin: Union[str, bytes, bool, None] = None, cwd: Optional[str] = None,
            env: Optional[p.Env] = None, user: Optional[str] = None,
            timeout: Optional[float] = p.DEFAULT_COMMAND_TIMEOUT,
            envs: Optional[p.Env] = None) -> CommandResult: ...

    @overload
    def run(self, cmd: Union[str, Sequence[str]], *, background: Literal[True],
            on_stdout: Optional[OutputCallback] = None, on_stderr: Optional[OutputCallback] = None,
            stdin: Union[str, bytes, bool, None] = None, cwd: Optional[str] = None,
            env: Optional[p.Env] = None, user: Optional[str] = None,
            timeout: Optional[float] = p.DEFAULT_COMMAND_TIMEOUT,
            envs: Optional[p.Env] = None) -> CommandHandle: ...

    def run(self, cmd: Union[str, Sequence[str]], *, background: bool = False,
            on_stdout: Optional[OutputCallback] = None, on_stderr: Optional[OutputCallback] = None,
            stdin: Union[str, bytes, bool, None] = None, cwd: Optional[str] = None,
            env: Optional[p.Env] = None, user: Optional[str] = None,
            timeout: Optional[float] = p.DEFAULT_COMMAND_TIMEOUT,
            envs: Optional[p.Env] = None) -> Union[CommandResult, CommandHandle]:
        """Runs ``cmd``: a string for ``/bin/sh -c``, or a list (argv).

        Waits for its end and returns a :class:`CommandResult`, raising
        :class:`CommandExitException` on a non-zero exit and
        :class:`TimeoutException` past ``timeout`` seconds (None or 0: no
        limit), as E2B does. ``on_stdout``/``on_stderr`` get the output per
        chunk as it arrives (the streamed form). ``stdin`` (str, or UTF-8
        bytes) is given to the command, whose stdin is then closed.

        ``background=True`` returns a :class:`CommandHandle` at once; such a
        command has no time limit unless ``timeout`` is given (a server
        started in the background must outlive 60 s). ``stdin=True`` (E2B's
        flag for an open stdin) is accepted: use ``handle.send_stdin``.
        ``envs`` is E2B's name for ``env``.
        """
        api = self._sandbox._api
        body = p.exec_body(cmd, background=background, stdin=stdin, cwd=cwd, env=env if env is not None else envs,
                           user=user, timeout=timeout)
        timeout_s = body.get("timeout_s")
        path = p.sandbox_path(self._sandbox.id, "exec")
        read = p.exec_read_timeout(timeout)
        if background:
            doc = api.json(p.Call("POST", path, json=body))
            return CommandHandle(self._sandbox, str(doc["exec_id"]), int(doc.get("pid") or 0), timeout_s=timeout_s,
                                 on_stdout=on_stdout, on_stderr=on_stderr)
        if on_stdout is None and on_stderr is None:
            doc = api.json(p.Call("POST", path, json=body, timeout=api.cfg.timeout(read=read)))
            return p.checked(p.result_from_collected(doc, timeout_s=timeout_s))
        collector = p.OutputCollector(timeout_s)
        api.lines(p.Call("POST", path, json=body, headers={"Accept": p.NDJSON}, timeout=api.cfg.timeout(read=read),
                         stream=True), collector, on_stdout, on_stderr)
        return p.checked(collector.result())

    def list(self) -> List[ExecInfo]:
        """The sandbox's commands (background and foreground; ``running`` says which still run)."""
        docs = self._sandbox._api.json(p.Call("GET", p.sandbox_path(self._sandbox.id, "execs")))
        return [ExecInfo.from_json(d) for d in docs]

    def connect(self, exec_id: Union[str, int], timeout: Optional[float] = None) -> CommandHandle:
        """A handle on a command by its exec id (or its pid, while it runs)."""
        info = self._info(exec_id)
        return CommandHandle(self._sandbox, info.exec_id, info.pid, timeout_s=p.whole_seconds(timeout, "timeout"))

    def kill(self, exec_id: Union[str, int]) -> bool:
        """SIGKILL to a command by exec id (or pid); False if it is not running."""
        try:
            handle = self.connect(exec_id)
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False
        return handle.kill()

    def send_stdin(self, exec_id: Union[str, int], data: Union[str, bytes]) -> None:
        self.connect(exec_id).send_stdin(data)

    def close_stdin(self, exec_id: Union[str, int]) -> None:
        self.connect(exec_id).close_stdin()

    def _info(self, exec_id: Union[str, int]) -> ExecInfo:
        if isinstance(exec_id, int):
            # E2B addresses commands by pid; the API by exec id.
            for info in self.list():
                if info.pid == exec_id and info.running:
                    return info
            raise NotFoundException("no running command with pid %d in sandbox %s" % (exec_id, self._sandbox.id[:12]))
        return ExecInfo.from_json(self._sandbox._api.json(
            p.Call("GET", p.sandbox_path(self._sandbox.id, "execs", exec_id))))


class Files:
    """``sandbox.files``: the sandbox's filesystem (paths are absolute)."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sandbox = sandbox

    def _path(self, *rest: str) -> str:
        return p.sandbox_path(self._sandbox.id, "files", *rest)

    @overload
    def read(self, path: str, format: Literal["text"] = "text") -> str: ...

    @overload
    def read(self, path: str, format: Literal["bytes"]) -> bytes: ...

    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> Union[str, bytes]:
        """The file's content: text (UTF-8, bad bytes replaced) or bytes, read whole into memory."""
        if format not in ("text", "bytes"):
            raise InvalidArgumentException('format must be "text" or "bytes", not %r' % (format,))
        data = self._sandbox._api.send(p.Call("GET", self._path(), params={"path": path})).content
        return data if format == "bytes" else data.decode("utf-8", "replace")

    def write(self, path: str, data: Union[str, bytes, Any], *, mode: Optional[int] = None) -> WriteInfo:
        """Writes the file (atomically; missing directories are made). ``mode``: permission bits (0o644)."""
        params: Dict[str, str] = {"path": path, "parents": "true"}
        if mode is not None:
            params["mode"] = "%o" % mode
        self._sandbox._api.send(p.Call("PUT", self._path(), params=params, content=p.file_bytes(data),
                                       headers={"Content-Type": "application/octet-stream"}))
        return WriteInfo(name=p.basename(path), path=path)

    def get_info(self, path: str) -> EntryInfo:
        """stat, not following a final symlink."""
        return EntryInfo.from_json(self._sandbox._api.json(p.Call("GET", self._path("stat"), params={"path": path})))

    def exists(self, path: str) -> bool:
        try:
            self.get_info(path)
            return True
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False

    def list(self, path: str, depth: int = 1) -> List[EntryInfo]:
        """A directory's entries, ``depth`` levels down."""
        docs = self._sandbox._api.json(p.Call("GET", self._path("list"), params={"path": path, "depth": str(depth)}))
        if isinstance(docs, dict):  # {"entries": [...], "truncated": ...}, should the listing come wrapped
            docs = docs.get("entries") or []
        return [EntryInfo.from_json(d, base=path) for d in docs]

    def make_dir(self, path: str) -> bool:
        """Makes the directory and its parents; False if it was there already."""
        try:
            if self.get_info(path).type == "directory":
                return False
        except NotFoundException as e:
            if not _is_missing(e):
                raise
        try:
            self._sandbox._api.send(p.Call("POST", self._path("mkdir"), json={"path": path, "parents": True}))
        except AlreadyExistsException:
            if self.get_info(path).type == "directory":  # made meanwhile
                return False
            raise
        return True

    def remove(self, path: str) -> None:
        """Removes a file, or a directory with everything in it."""
        self._sandbox._api.send(p.Call("DELETE", self._path(), params={"path": path, "recursive": "1"}))

    def rename(self, old_path: str, new_path: str) -> EntryInfo:
        """Moves (renames) a file or directory; what is at ``new_path`` afterwards."""
        self._sandbox._api.send(p.Call("POST", self._path("move"), json={"from": old_path, "to": new_path}))
        return self.get_info(new_path)

    move = rename


class Sandbox:
    """A krunbox sandbox, E2B-style. Make one with :meth:`create` or :meth:`connect`.

    As a context manager, leaving the block removes it.
    """

    def __init__(self, sandbox_id: str, *, _api: _Api, _info: Optional[SandboxInfo] = None) -> None:
        self._id = sandbox_id
        self._api = _api
        self._last_info = _info
        self.commands = Commands(self)
        self.files = Files(self)

    @property
    def id(self) -> str:
        """The full (64 hex digit) id."""
        return self._id

    @property
    def sandbox_id(self) -> str:
        """E2B's name for ``id``."""
        return self._id

    @property
    def connection_config(self) -> ConnectionConfig:
        return self._api.cfg

    @classmethod
    def create(cls, image: Optional[str] = "busybox", backend: Optional[str] = None, cpus: Optional[int] = None,
               memory_mib: Optional[int] = None, env: Optional[p.Env] = None, timeout: Optional[float] = None,
               labels: Optional[Mapping[str, str]] = None, *, name: Optional[str] = None,
               cmd: Optional[Sequence[str]] = None, entrypoint: Optional[str] = None, workdir: Optional[str] = None,
               user: Optional[str] = None, hostname: Optional[str] = None, network: Optional[str] = None,
               ports: Optional[Sequence[Any]] = None, volumes: Optional[Sequence[Any]] = None,
               secrets: Optional[Mapping[str, str]] = None, pids_limit: Optional[int] = None,
               isolation: Optional[str] = None, pull: Optional[str] = None, rootfs: Optional[str] = None,
               restart: Optional[str] = None, start: bool = True, idle_timeout: Optional[float] = None,
               metadata: Optional[Mapping[str, str]] = None,
               envs: Optional[p.Env] = None, host: Optional[str] = None, api_key: Optional[str] = None,
               request_timeout: Optional[float] = None) -> "Sandbox":
        """Creates and starts a sandbox (``POST /v1/sandboxes``).

        ``backend`` None is the server's ``auto``; ``timeout`` is a TTL in
        seconds from now, after which the sandbox is stopped (None: none);
        ``idle_timeout`` stops it once no client has used it that long.
        Without ``cmd`` (and ``entrypoint``) it runs a sleep that keeps it
        up for commands. ``metadata`` and ``envs`` are E2B's names for
        ``labels`` and ``env``. ``host``/``api_key`` override
        KRUNBOX_HOST/KRUNBOX_API_KEY.
        """
        body = p.create_body(image=image, backend=backend, cpus=cpus, memory_mib=memory_mib,
                             env=env if env is not None else envs, timeout=timeout, idle_timeout=idle_timeout,
                             labels=labels if labels is not None else metadata, name=name, cmd=cmd,
                             entrypoint=entrypoint, workdir=workdir, user=user, hostname=hostname, network=network,
                             ports=ports, volumes=volumes, secrets=secrets, pids_limit=pids_limit,
                             isolation=isolation, pull=pull, rootfs=rootfs, restart=restart, start=start)
        api = _Api(ConnectionConfig.resolve(host, api_key, request_timeout))
        try:
            info = SandboxInfo.from_json(api.json(p.Call("POST", "/v1/sandboxes", json=body)))
        except BaseException:
            api.close()
            raise
        return cls(info.id, _api=api, _info=info)

    @classmethod
    def connect(cls, sandbox_id: str, *, host: Optional[str] = None, api_key: Optional[str] = None,
                request_timeout: Optional[float] = None) -> "Sandbox":
        """An existing sandbox by id, unique id prefix or name."""
        api = _Api(ConnectionConfig.resolve(host, api_key, request_timeout))
        try:
            info = SandboxInfo.from_json(api.json(p.Call("GET", p.sandbox_path(sandbox_id))))
        except BaseException:
            api.close()
            raise
        return cls(info.id, _api=api, _info=info)

    @classmethod
    def list(cls, labels: Optional[p.Labels] = None, *, host: Optional[str] = None, api_key: Optional[str] = None,
             request_timeout: Optional[float] = None) -> List[SandboxInfo]:
        """Every sandbox (running or not) whose labels match all of ``labels``
        (``{"k": "v"}``, or ``["k=v", "k"]`` where a bare ``k`` only needs to be set)."""
        api = _Api(ConnectionConfig.resolve(host, api_key, request_timeout))
        try:
            docs = api.json(p.Call("GET", "/v1/sandboxes", params=p.label_params(labels)))
        finally:
            api.close()
        return [SandboxInfo.from_json(d) for d in docs]

    def info(self) -> SandboxInfo:
        self._last_info = SandboxInfo.from_json(self._api.json(p.Call("GET", p.sandbox_path(self._id))))
        return self._last_info

    get_info = info

    def is_running(self) -> bool:
        try:
            return self.info().state == "running"
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False

    def kill(self) -> bool:
        """Removes the sandbox and every trace of it (stopping it first); False if it was gone already."""
        try:
            self._api.send(p.Call("DELETE", p.sandbox_path(self._id)))
            return True
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False

    def set_timeout(self, timeout: float) -> SandboxInfo:
        """Stops the sandbox ``timeout`` seconds from now (replacing any earlier TTL)."""
        seconds = p.whole_seconds(timeout, "timeout")
        return self._action_doc(p.Call("POST", p.sandbox_path(self._id, "timeout"), json={"timeout_s": seconds}))

    def pause(self) -> SandboxInfo:
        return self._action("pause")

    def resume(self) -> SandboxInfo:
        return self._action("resume")

    def start(self, secrets: Optional[Mapping[str, str]] = None) -> SandboxInfo:
        """Starts a created or stopped sandbox (a stopped one needs its secrets again)."""
        body = {"secrets": dict(secrets)} if secrets else None
        return self._action_doc(p.Call("POST", p.sandbox_path(self._id, "start"), json=body))

    def stop(self, timeout: float = 10) -> SandboxInfo:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the sandbox stays (start it again, or kill() it)."""
        grace = p.whole_seconds(timeout, "timeout")
        return self._action_doc(p.Call("POST", p.sandbox_path(self._id, "stop"), params={"timeout": str(grace)},
                                       timeout=self._api.cfg.timeout(read=None)))

    def _action(self, verb: str) -> SandboxInfo:
        return self._action_doc(p.Call("POST", p.sandbox_path(self._id, verb)))

    def _action_doc(self, call: p.Call) -> SandboxInfo:
        self._last_info = SandboxInfo.from_json(self._api.json(call))
        return self._last_info

    def close(self) -> None:
        """Closes the connection pool (the sandbox stays)."""
        self._api.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.kill()
        finally:
            self.close()

    def __repr__(self) -> str:
        return "Sandbox(id=%r)" % self._id[:12]
