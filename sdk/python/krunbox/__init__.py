"""krunbox: a Python SDK for `krunbox serve`'s REST API, in E2B's shape.

    from krunbox import Sandbox

    with Sandbox.create(backend="native") as sb:
        print(sb.commands.run("echo hi").stdout)

The server is found by KRUNBOX_HOST (``unix:///...``, the default
``<run dir>/api.sock``, or ``http://host:port`` with KRUNBOX_API_KEY), as
DOCKER_HOST finds Docker's. See README.md.
"""
from ._connection import ConnectionConfig, default_host, default_run_dir
from ._version import __version__
from .exceptions import (AlreadyExistsException, AuthenticationException, CommandExitException, ConnectionException,
                         EndpointNotFoundException, IllegalStateException, InvalidArgumentException,
                         LimitExceededException, NotFoundException, PermissionDeniedException, SandboxException,
                         TimeoutException, UnavailableException, UnsupportedException)
from .models import CommandResult, EntryInfo, ExecInfo, PortMapping, SandboxInfo, WriteInfo
from .sandbox import CommandHandle, Commands, Files, Sandbox
from .sandbox_async import AsyncCommandHandle, AsyncCommands, AsyncFiles, AsyncSandbox

__all__ = [
    "__version__",
    "Sandbox", "AsyncSandbox",
    "Commands", "AsyncCommands", "CommandHandle", "AsyncCommandHandle",
    "Files", "AsyncFiles",
    "SandboxInfo", "CommandResult", "ExecInfo", "EntryInfo", "WriteInfo", "PortMapping",
    "ConnectionConfig", "default_host", "default_run_dir",
    "SandboxException", "InvalidArgumentException", "AuthenticationException", "PermissionDeniedException",
    "NotFoundException", "EndpointNotFoundException", "IllegalStateException", "AlreadyExistsException",
    "LimitExceededException", "UnsupportedException", "UnavailableException", "TimeoutException",
    "ConnectionException", "CommandExitException",
]
