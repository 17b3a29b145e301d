"""AsyncSandbox: the same API with await (no pytest-asyncio: each test runs its own loop)."""
import asyncio
import time

import pytest

from conftest import BACKEND
from krunbox import AsyncSandbox, CommandExitException, NotFoundException, TimeoutException


def run(coro):
    return asyncio.run(coro)


def test_core_loop(server):
    async def main():
        sb = await AsyncSandbox.create(backend=BACKEND, labels={"case": "async-core"})
        assert (await sb.info()).state == "running"
        r = await sb.commands.run("echo hi")
        assert (r.stdout, r.exit_code) == ("hi\n", 0)
        assert [i.id for i in await AsyncSandbox.list(labels={"case": "async-core"})] == [sb.id]

        seen = []

        async def on_err(text):  # a coroutine callback
            await asyncio.sleep(0)
            seen.append(("err", text, time.monotonic()))

        def on_out(text):  # a plain one
            seen.append(("out", text, time.monotonic()))

        r = await sb.commands.run("echo a; sleep 0.5; echo b >&2", on_stdout=on_out, on_stderr=on_err)
        assert [(s, t) for s, t, _ in seen] == [("out", "a\n"), ("err", "b\n")]
        assert seen[1][2] - seen[0][2] > 0.3
        with pytest.raises(CommandExitException) as e:
            await sb.commands.run("exit 9")
        assert e.value.exit_code == 9
        with pytest.raises(TimeoutException):
            await sb.commands.run("sleep 30", timeout=1)

        await sb.files.write("/tmp/x", b"\x00\x01async")
        assert await sb.files.read("/tmp/x", format="bytes") == b"\x00\x01async"
        assert await sb.files.exists("/tmp/x")

        other = await AsyncSandbox.connect(sb.id[:12])
        assert other.id == sb.id
        await other.close()

        assert await sb.kill() is True
        assert await AsyncSandbox.list(labels={"case": "async-core"}) == []
        assert await sb.kill() is False
        with pytest.raises(NotFoundException):
            await AsyncSandbox.connect(sb.id)
        await sb.close()

    run(main())


def test_async_context_manager_removes(server):
    async def main():
        async with await AsyncSandbox.create(backend=BACKEND, labels={"case": "async-ctx"}) as sb:
            assert (await sb.commands.run("echo in")).stdout == "in\n"
        assert await AsyncSandbox.list(labels={"case": "async-ctx"}) == []

    run(main())


def test_twenty_concurrent_create_and_run(server):
    async def one(i):
        async with await AsyncSandbox.create(backend=BACKEND, labels={"batch": "sdk20"}) as sb:
            r = await sb.commands.run("echo box-%d" % i)
            return sb.id, r.stdout

    async def main():
        results = await asyncio.gather(*(one(i) for i in range(20)))
        assert [out for _, out in results] == ["box-%d\n" % i for i in range(20)]
        assert len({sid for sid, _ in results}) == 20
        assert await AsyncSandbox.list(labels={"batch": "sdk20"}) == []

    run(main())


@pytest.mark.needs_new_endpoints
def test_async_background(server):
    async def main():
        async with await AsyncSandbox.create(backend=BACKEND, labels={"case": "async-bg"}) as sb:
            h = await sb.commands.run("read x; echo got $x", background=True, stdin=True)
            assert h.exec_id in {i.exec_id for i in await sb.commands.list()}
            await h.send_stdin(b"it\n")
            await h.close_stdin()
            r = await h.wait()
            assert r.stdout == "got it\n"
            h = await sb.commands.run(["sleep", "600"], background=True)
            assert await h.kill() is True
            with pytest.raises(CommandExitException):
                await h.wait()
            assert (await sb.set_timeout(600)).state == "running"

    run(main())


@pytest.mark.needs_new_endpoints
def test_async_files_tree(server):
    async def main():
        async with await AsyncSandbox.create(backend=BACKEND, labels={"case": "async-files"}) as sb:
            assert await sb.files.make_dir("/tmp/ad/sub") is True
            await sb.files.write("/tmp/ad/f", "x")
            assert sorted(e.name for e in await sb.files.list("/tmp/ad")) == ["f", "sub"]
            assert (await sb.files.rename("/tmp/ad/f", "/tmp/ad/g")).name == "g"
            await sb.files.remove("/tmp/ad")
            assert not await sb.files.exists("/tmp/ad")

    run(main())
