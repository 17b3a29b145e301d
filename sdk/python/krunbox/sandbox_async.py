"""The asyncio SDK: :class:`AsyncSandbox`, the API of :class:`~krunbox.Sandbox` with ``await``.

Callbacks (``on_stdout``, ``on_stderr``) may be plain functions or coroutine
functions. The request and answer logic is shared with the sync SDK
(``_protocol.py``); only the sending differs.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
from typing import (Any, AsyncIterator, Awaitable, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Union,
                    overload)

import httpx

from . import _protocol as p
from ._connection import ConnectionConfig, error_from_body, transport_error
from .exceptions import (AlreadyExistsException, ConnectionException, IllegalStateException, InvalidArgumentException,
                         NotFoundException, SandboxException)
from .models import CommandResult, EntryInfo, ExecInfo, SandboxInfo, WriteInfo
from .sandbox import _is_missing

AsyncOutputCallback = Callable[[str], Union[Any, Awaitable[Any]]]


class _AsyncApi:
    def __init__(self, cfg: ConnectionConfig) -> None:
        self.cfg = cfg
        self.client = cfg.async_client()

    def _kwargs(self, call: p.Call) -> Dict[str, Any]:
        kw: Dict[str, Any] = {"params": call.params, "json": call.json, "content": call.content,
                              "headers": call.headers}
        if call.timeout is not None:
            kw["timeout"] = call.timeout
        return kw

    async def send(self, call: p.Call) -> httpx.Response:
        try:
            r = await self.client.request(call.method, call.path, **self._kwargs(call))
        except httpx.HTTPError as e:
            raise transport_error(e, self.cfg) from e
        if r.status_code >= 400:
            raise error_from_body(r.status_code, r.content)
        return r

    async def json(self, call: p.Call) -> Any:
        return (await self.send(call)).json()

    @contextlib.asynccontextmanager
    async def stream(self, call: p.Call) -> AsyncIterator[httpx.Response]:
        try:
            async with self.client.stream(call.method, call.path, **self._kwargs(call)) as r:
                if r.status_code >= 400:
                    await r.aread()
                    raise error_from_body(r.status_code, r.content)
                yield r
        except httpx.HTTPError as e:
            raise transport_error(e, self.cfg) from e

    async def lines(self, call: p.Call, collector: p.OutputCollector, on_stdout: Optional[AsyncOutputCallback],
                    on_stderr: Optional[AsyncOutputCallback], final: bool = True) -> None:
        async with self.stream(call) as r:
            async for line in r.aiter_lines():
                await _deliver(collector.feed_line(line), on_stdout, on_stderr)
        if final:
            await _deliver(collector.finish_without_end(), on_stdout, on_stderr)

    async def close(self) -> None:
        await self.client.aclose()


async def _deliver(pieces: List[Any], on_stdout: Optional[AsyncOutputCallback],
                   on_stderr: Optional[AsyncOutputCallback]) -> None:
    for kind, text in pieces:
        cb = on_stdout if kind == "stdout" else on_stderr
        if cb is not None:
            got = cb(text)
            if inspect.isawaitable(got):
                await got


class AsyncCommandHandle:
    """A command running in the background; see :class:`~krunbox.CommandHandle`."""

    def __init__(self, sandbox: "AsyncSandbox", exec_id: str, pid: int, *, timeout_s: Optional[int] = None,
                 on_stdout: Optional[AsyncOutputCallback] = None,
                 on_stderr: Optional[AsyncOutputCallback] = None) -> None:
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
        return self._pid

    def _path(self, *rest: str) -> str:
        return p.sandbox_path(self._sandbox.id, "execs", self._exec_id, *rest)

    async def info(self) -> ExecInfo:
        return ExecInfo.from_json(await self._sandbox._api.json(p.Call("GET", self._path())))

    async def wait(self, on_stdout: Optional[AsyncOutputCallback] = None,
                   on_stderr: Optional[AsyncOutputCallback] = None) -> CommandResult:
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
                    await api.lines(call, collector, out, err, final=False)
                except ConnectionException:
                    if collector.next_offset is None or attempt == p.FOLLOW_RECONNECTS:
                        raise
                if collector.ended:
                    break
                if collector.next_offset is None:
                    info = await self.info()
                    if info.running:
                        raise SandboxException("the output of command %s ended while it still runs; wait() again"
                                               % self._exec_id)
                    end = info.raw
                    break
                await asyncio.sleep(p.FOLLOW_RECONNECT_PAUSE)
            await _deliver(collector.finish_without_end(), out, err)
            self._result = collector.result(end)
        return p.checked(self._result)

    async def signal(self, sig: Union[int, str]) -> None:
        await self._sandbox._api.send(p.Call("POST", self._path("signal"), json={"signal": p.signal_number(sig)}))

    async def kill(self) -> bool:
        try:
            await self.signal(9)
            return True
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False
        except SandboxException as e:
            if e.code == "illegal_state":
                return False
            raise

    async def send_stdin(self, data: Union[str, bytes]) -> None:
        for piece in p.stdin_pieces(data):
            await self._sandbox._api.send(p.Call("POST", self._path("stdin"), content=piece,
                                                 headers={"Content-Type": "application/octet-stream"}))

    async def close_stdin(self) -> None:
        try:
            await self._sandbox._api.send(p.Call("POST", self._path("close-stdin")))
        except IllegalStateException:
            if (await self.info()).running:
                raise

    async def resize(self, rows: int, cols: int) -> None:
        await self._sandbox._api.send(p.Call("POST", self._path("resize"), json={"rows": rows, "cols": cols}))

    async def disconnect(self) -> None:
        """Nothing to do: a handle holds no connection between calls."""


class AsyncCommands:
    def __init__(self, sandbox: "AsyncSandbox") -> None:
        self._sandbox = sandbox

    @overload
    async def run(self, cmd: Union[str, Sequence[str]], *, background: Literal[False] = False,
                  on_stdout: Optional[AsyncOutputCallback] = None, on_stderr: Optional[AsyncOutputCallback] = None,
                  stdin: Union[str, bytes, bool, None] = None, cwd: Optional[str] = None,
                  env: Optional[p.Env] = None, user: Optional[str] = None,
                  timeout: Optional[float] = p.DEFAULT_COMMAND_TIMEOUT,
                  envs: Optional[p.Env] = None) -> CommandResult: ...

    @overload
    async def run(self, cmd: Union[str, Sequence[str]], *, background: Literal[True],
                  on_stdout: Optional[AsyncOutputCallback] = None, on_stderr: Optional[AsyncOutputCallback] = None,
                  stdin: Union[str, bytes, bool, None] = None, cwd: Optional[str] = None,
                  env: Optional[p.Env] = None, user: Optional[str] = None,
                  timeout: Optional[float] = p.DEFAULT_COMMAND_TIMEOUT,
                  envs: Optional[p.Env] = None) -> AsyncCommandHandle: ...

    async def run(self, cmd: Union[str, Sequence[str]], *, background: bool = False,
                  on_stdout: Optional[AsyncOutputCallback] = None, on_stderr: Optional[AsyncOutputCallback] = None,
                  stdin: Union[str, bytes, bool, None] = None, cwd: Optional[str] = None,
                  env: Optional[p.Env] = None, user: Optional[str] = None,
                  timeout: Optional[float] = p.DEFAULT_COMMAND_TIMEOUT,
                  envs: Optional[p.Env] = None) -> Union[CommandResult, AsyncCommandHandle]:
        """See :meth:`krunbox.sandbox.Commands.run`."""
        api = self._sandbox._api
        body = p.exec_body(cmd, background=background, stdin=stdin, cwd=cwd, env=env if env is not None else envs,
                           user=user, timeout=timeout)
        timeout_s = body.get("timeout_s")
        path = p.sandbox_path(self._sandbox.id, "exec")
        read = p.exec_read_timeout(timeout)
        if background:
            doc = await api.json(p.Call("POST", path, json=body))
            return AsyncCommandHandle(self._sandbox, str(doc["exec_id"]), int(doc.get("pid") or 0),
                                      timeout_s=timeout_s, on_stdout=on_stdout, on_stderr=on_stderr)
        if on_stdout is None and on_stderr is None:
            doc = await api.json(p.Call("POST", path, json=body, timeout=api.cfg.timeout(read=read)))
            return p.checked(p.result_from_collected(doc, timeout_s=timeout_s))
        collector = p.OutputCollector(timeout_s)
        await api.lines(p.Call("POST", path, json=body, headers={"Accept": p.NDJSON},
                               timeout=api.cfg.timeout(read=read), stream=True), collector, on_stdout, on_stderr)
        return p.checked(collector.result())

    async def list(self) -> List[ExecInfo]:
        docs = await self._sandbox._api.json(p.Call("GET", p.sandbox_path(self._sandbox.id, "execs")))
        return [ExecInfo.from_json(d) for d in docs]

    async def connect(self, exec_id: Union[str, int], timeout: Optional[float] = None) -> AsyncCommandHandle:
        info = await self._info(exec_id)
        return AsyncCommandHandle(self._sandbox, info.exec_id, info.pid, timeout_s=p.whole_seconds(timeout, "timeout"))

    async def kill(self, exec_id: Union[str, int]) -> bool:
        try:
            handle = await self.connect(exec_id)
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False
        return await handle.kill()

    async def send_stdin(self, exec_id: Union[str, int], data: Union[str, bytes]) -> None:
        await (await self.connect(exec_id)).send_stdin(data)

    async def close_stdin(self, exec_id: Union[str, int]) -> None:
        await (await self.connect(exec_id)).close_stdin()

    async def _info(self, exec_id: Union[str, int]) -> ExecInfo:
        if isinstance(exec_id, int):
            for info in await self.list():
                if info.pid == exec_id and info.running:
                    return info
            raise NotFoundException("no running command with pid %d in sandbox %s" % (exec_id, self._sandbox.id[:12]))
        return ExecInfo.from_json(await self._sandbox._api.json(
            p.Call("GET", p.sandbox_path(self._sandbox.id, "execs", exec_id))))


class AsyncFiles:
    def __init__(self, sandbox: "AsyncSandbox") -> None:
        self._sandbox = sandbox

    def _path(self, *rest: str) -> str:
        return p.sandbox_path(self._sandbox.id, "files", *rest)

    @overload
    async def read(self, path: str, format: Literal["text"] = "text") -> str: ...

    @overload
    async def read(self, path: str, format: Literal["bytes"]) -> bytes: ...

    async def read(self, path: str, format: Literal["text", "bytes"] = "text") -> Union[str, bytes]:
        if format not in ("text", "bytes"):
            raise InvalidArgumentException('format must be "text" or "bytes", not %r' % (format,))
        data = (await self._sandbox._api.send(p.Call("GET", self._path(), params={"path": path}))).content
        return data if format == "bytes" else data.decode("utf-8", "replace")

    async def write(self, path: str, data: Union[str, bytes, Any], *, mode: Optional[int] = None) -> WriteInfo:
        params: Dict[str, str] = {"path": path, "parents": "true"}
        if mode is not None:
            params["mode"] = "%o" % mode
        await self._sandbox._api.send(p.Call("PUT", self._path(), params=params, content=p.file_bytes(data),
                                             headers={"Content-Type": "application/octet-stream"}))
        return WriteInfo(name=p.basename(path), path=path)

    async def get_info(self, path: str) -> EntryInfo:
        return EntryInfo.from_json(await self._sandbox._api.json(p.Call("GET", self._path("stat"),
                                                                        params={"path": path})))

    async def exists(self, path: str) -> bool:
        try:
            await self.get_info(path)
            return True
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False

    async def list(self, path: str, depth: int = 1) -> List[EntryInfo]:
        docs = await self._sandbox._api.json(p.Call("GET", self._path("list"),
                                                    params={"path": path, "depth": str(depth)}))
        if isinstance(docs, dict):  # {"entries": [...], "truncated": ...}, should the listing come wrapped
            docs = docs.get("entries") or []
        return [EntryInfo.from_json(d, base=path) for d in docs]

    async def make_dir(self, path: str) -> bool:
        try:
            if (await self.get_info(path)).type == "directory":
                return False
        except NotFoundException as e:
            if not _is_missing(e):
                raise
        try:
            await self._sandbox._api.send(p.Call("POST", self._path("mkdir"), json={"path": path, "parents": True}))
        except AlreadyExistsException:
            if (await self.get_info(path)).type == "directory":
                return False
            raise
        return True

    async def remove(self, path: str) -> None:
        await self._sandbox._api.send(p.Call("DELETE", self._path(), params={"path": path, "recursive": "1"}))

    async def rename(self, old_path: str, new_path: str) -> EntryInfo:
        await self._sandbox._api.send(p.Call("POST", self._path("move"), json={"from": old_path, "to": new_path}))
        return await self.get_info(new_path)

    move = rename


class AsyncSandbox:
    """:class:`~krunbox.Sandbox` for asyncio: ``sb = await AsyncSandbox.create()``, ``async with``."""

    def __init__(self, sandbox_id: str, *, _api: _AsyncApi, _info: Optional[SandboxInfo] = None) -> None:
        self._id = sandbox_id
        self._api = _api
        self._last_info = _info
        self.commands = AsyncCommands(self)
        self.files = AsyncFiles(self)

    @property
    def id(self) -> str:
        return self._id

    @property
    def sandbox_id(self) -> str:
        return self._id

    @property
    def connection_config(self) -> ConnectionConfig:
        return self._api.cfg

    @classmethod
    async def create(cls, image: Optional[str] = "busybox", backend: Optional[str] = None,
                     cpus: Optional[int] = None, memory_mib: Optional[int] = None, env: Optional[p.Env] = None,
                     timeout: Optional[float] = None, labels: Optional[Mapping[str, str]] = None, *,
                     name: Optional[str] = None, cmd: Optional[Sequence[str]] = None,
                     entrypoint: Optional[str] = None, workdir: Optional[str] = None, user: Optional[str] = None,
                     hostname: Optional[str] = None, network: Optional[str] = None,
                     ports: Optional[Sequence[Any]] = None, volumes: Optional[Sequence[Any]] = None,
                     secrets: Optional[Mapping[str, str]] = None, pids_limit: Optional[int] = None,
                     isolation: Optional[str] = None, pull: Optional[str] = None, rootfs: Optional[str] = None,
                     restart: Optional[str] = None, start: bool = True, idle_timeout: Optional[float] = None,
                     metadata: Optional[Mapping[str, str]] = None, envs: Optional[p.Env] = None,
                     host: Optional[str] = None, api_key: Optional[str] = None,
                     request_timeout: Optional[float] = None) -> "AsyncSandbox":
        """See :meth:`krunbox.Sandbox.create`."""
        body = p.create_body(image=image, backend=backend, cpus=cpus, memory_mib=memory_mib,
                             env=env if env is not None else envs, timeout=timeout, idle_timeout=idle_timeout,
                             labels=labels if labels is not None else metadata, name=name, cmd=cmd,
                             entrypoint=entrypoint, workdir=workdir, user=user, hostname=hostname, network=network,
                             ports=ports, volumes=volumes, secrets=secrets, pids_limit=pids_limit,
                             isolation=isolation, pull=pull, rootfs=rootfs, restart=restart, start=start)
        api = _AsyncApi(ConnectionConfig.resolve(host, api_key, request_timeout))
        try:
            info = SandboxInfo.from_json(await api.json(p.Call("POST", "/v1/sandboxes", json=body)))
        except BaseException:
            await api.close()
            raise
        return cls(info.id, _api=api, _info=info)

    @classmethod
    async def connect(cls, sandbox_id: str, *, host: Optional[str] = None, api_key: Optional[str] = None,
                      request_timeout: Optional[float] = None) -> "AsyncSandbox":
        api = _AsyncApi(ConnectionConfig.resolve(host, api_key, request_timeout))
        try:
            info = SandboxInfo.from_json(await api.json(p.Call("GET", p.sandbox_path(sandbox_id))))
        except BaseException:
            await api.close()
            raise
        return cls(info.id, _api=api, _info=info)

    @classmethod
    async def list(cls, labels: Optional[p.Labels] = None, *, host: Optional[str] = None,
                   api_key: Optional[str] = None, request_timeout: Optional[float] = None) -> List[SandboxInfo]:
        api = _AsyncApi(ConnectionConfig.resolve(host, api_key, request_timeout))
        try:
            docs = await api.json(p.Call("GET", "/v1/sandboxes", params=p.label_params(labels)))
        finally:
            await api.close()
        return [SandboxInfo.from_json(d) for d in docs]

    async def info(self) -> SandboxInfo:
        self._last_info = SandboxInfo.from_json(await self._api.json(p.Call("GET", p.sandbox_path(self._id))))
        return self._last_info

    get_info = info

    async def is_running(self) -> bool:
        try:
            return (await self.info()).state == "running"
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False

    async def kill(self) -> bool:
        try:
            await self._api.send(p.Call("DELETE", p.sandbox_path(self._id)))
            return True
        except NotFoundException as e:
            if not _is_missing(e):
                raise
            return False

    async def set_timeout(self, timeout: float) -> SandboxInfo:
        seconds = p.whole_seconds(timeout, "timeout")
        return await self._action_doc(p.Call("POST", p.sandbox_path(self._id, "timeout"),
                                             json={"timeout_s": seconds}))

    async def pause(self) -> SandboxInfo:
        return await self._action("pause")

    async def resume(self) -> SandboxInfo:
        return await self._action("resume")

    async def start(self, secrets: Optional[Mapping[str, str]] = None) -> SandboxInfo:
        body = {"secrets": dict(secrets)} if secrets else None
        return await self._action_doc(p.Call("POST", p.sandbox_path(self._id, "start"), json=body))

    async def stop(self, timeout: float = 10) -> SandboxInfo:
        grace = p.whole_seconds(timeout, "timeout")
        return await self._action_doc(p.Call("POST", p.sandbox_path(self._id, "stop"),
                                             params={"timeout": str(grace)}, timeout=self._api.cfg.timeout(read=None)))

    async def _action(self, verb: str) -> SandboxInfo:
        return await self._action_doc(p.Call("POST", p.sandbox_path(self._id, verb)))

    async def _action_doc(self, call: p.Call) -> SandboxInfo:
        self._last_info = SandboxInfo.from_json(await self._api.json(call))
        return self._last_info

    async def close(self) -> None:
        await self._api.close()

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self.kill()
        finally:
            await self.close()

    def __repr__(self) -> str:
        return "AsyncSandbox(id=%r)" % self._id[:12]
