"""sb.commands: collected and streamed runs, failures, timeouts, stdin; background handles."""
import threading
import time

import pytest

from krunbox import CommandExitException, InvalidArgumentException, SandboxException, TimeoutException


def test_run_collected(sb):
    r = sb.commands.run("echo out; echo err >&2")
    assert (r.stdout, r.stderr, r.exit_code) == ("out\n", "err\n", 0)
    assert not r.stdout_truncated and not r.timed_out
    assert sb.commands.run("echo a | tr a b").stdout == "b\n"  # a string goes to /bin/sh -c
    assert sb.commands.run(["sh", "-c", "echo $0", "zero"]).stdout == "zero\n"


def test_failing_command_raises_with_its_code(sb):
    with pytest.raises(CommandExitException) as e:
        sb.commands.run("echo partial; echo oops >&2; exit 3")
    assert e.value.exit_code == 3
    assert (e.value.stdout, e.value.stderr) == ("partial\n", "oops\n")
    assert e.value.result.exit_code == 3
    assert "3" in str(e.value) and "oops" in str(e.value)
    assert isinstance(e.value, SandboxException)

    with pytest.raises(CommandExitException) as e:
        sb.commands.run("kill -9 $$")
    assert e.value.exit_code == 137 and e.value.signal == 9
    assert "SIGKILL" in e.value.error


def test_streaming_callbacks_before_the_exit(sb):
    seen = []
    lock = threading.Lock()

    def on(stream):
        def cb(text):
            with lock:
                seen.append((time.monotonic(), stream, text))
        return cb

    r = sb.commands.run("echo a; sleep 0.6; echo b >&2; sleep 0.6; echo c", on_stdout=on("out"), on_stderr=on("err"))
    returned = time.monotonic()
    assert [(s, t) for _, s, t in seen] == [("out", "a\n"), ("err", "b\n"), ("out", "c\n")]
    # Each arrived as it happened, well before the command's end.
    assert returned - seen[0][0] > 1.0
    assert seen[1][0] - seen[0][0] > 0.4
    assert (r.stdout, r.stderr, r.exit_code) == ("a\nc\n", "b\n", 0)

    err = []
    with pytest.raises(CommandExitException) as e:
        sb.commands.run("echo x >&2; exit 4", on_stderr=err.append)
    assert e.value.exit_code == 4 and e.value.stderr == "x\n" and err == ["x\n"]


def test_streamed_text_keeps_characters_split_across_chunks(sb):
    got = []
    r = sb.commands.run("printf '\\303'; sleep 0.3; printf '\\251\\n'", on_stdout=got.append)
    assert "".join(got) == "\u00e9\n" and r.stdout == "\u00e9\n"


def test_streamed_output_has_no_cap(sb):
    n = [0]

    def count(text):
        n[0] += len(text)

    r = sb.commands.run("head -c 5000000 /dev/zero | tr '\\0' a", on_stdout=count)
    assert n[0] == 5000000 and len(r.stdout) == 5000000
    r = sb.commands.run("head -c 5000000 /dev/zero | tr '\\0' a")
    assert r.stdout_truncated and len(r.stdout) == 4 << 20


def test_timeout(sb):
    for kw in ({}, {"on_stdout": lambda _: None}):
        t = time.monotonic()
        with pytest.raises(TimeoutException) as e:
            sb.commands.run("echo started; sleep 30", timeout=1, **kw)
        assert time.monotonic() - t < 15
        assert e.value.result.timed_out and e.value.result.exit_code == 124
        assert e.value.result.stdout == "started\n"
    # None (and 0): no limit.
    assert sb.commands.run("sleep 1; echo done", timeout=None).stdout == "done\n"


def test_stdin_cwd_env_user(sb):
    assert sb.commands.run(["cat"], stdin="line one\nline two\n").stdout == "line one\nline two\n"
    assert sb.commands.run("wc -c", stdin="h\u00e9\n".encode()).stdout.strip() == "4"
    # Bytes that are not UTF-8 travel as base64 and arrive unchanged.
    assert sb.commands.run("od -An -tx1 | tr -d ' \\n'", stdin=b"\xff\xfe\x00").stdout == "fffe00"
    r = sb.commands.run('echo "$A $B" $(pwd)', cwd="/tmp", env={"A": "1", "B": "two"})
    assert r.stdout == "1 two /tmp\n"
    assert sb.commands.run("echo $E", envs={"E": "e2b"}).stdout == "e2b\n"  # E2B's name
    assert sb.commands.run("id -u", user="1000").stdout == "1000\n"


def test_bad_command_arguments(sb):
    with pytest.raises(InvalidArgumentException):
        sb.commands.run(42)
    with pytest.raises(InvalidArgumentException):
        sb.commands.run([])  # the server says why


@pytest.mark.needs_new_endpoints
def test_background_stdin_and_wait(sb):
    h = sb.commands.run("echo start; read line; echo got $line; cat; echo eof; exit 5", background=True, stdin=True)
    assert h.pid > 0 and h.exec_id
    listed = {i.exec_id: i for i in sb.commands.list()}
    assert listed[h.exec_id].running and listed[h.exec_id].pid == h.pid
    h.send_stdin("hello\n")
    h.send_stdin(b"more\n")
    h.close_stdin()  # cat reads its end
    with pytest.raises(CommandExitException) as e:
        h.wait()
    assert e.value.exit_code == 5 and e.value.stdout == "start\ngot hello\nmore\neof\n"
    h.close_stdin()  # ended: nothing to close, no error
    info = sb.commands.connect(h.exec_id).info()
    assert not info.running and info.exit_code == 5 and info.timed_out is False


@pytest.mark.needs_new_endpoints
def test_background_output_replays_to_callbacks(sb):
    out, err = [], []
    h = sb.commands.run("echo one; sleep 0.3; echo two >&2", background=True, on_stdout=out.append,
                        on_stderr=err.append)
    time.sleep(1)  # ended before wait(): its output is replayed
    r = h.wait()
    assert (out, err) == (["one\n"], ["two\n"])
    assert (r.stdout, r.stderr, r.exit_code) == ("one\n", "two\n", 0)
    assert h.wait() is r or h.wait() == r


@pytest.mark.needs_new_endpoints
def test_background_kill_and_connect(sb):
    h = sb.commands.run(["sleep", "600"], background=True)
    again = sb.commands.connect(h.exec_id)
    assert again.pid == h.pid
    assert sb.commands.connect(h.pid).exec_id == h.exec_id  # E2B addresses commands by pid
    assert again.kill() is True
    with pytest.raises(CommandExitException) as e:
        h.wait()
    assert e.value.signal == 9 and e.value.exit_code == 137
    assert h.kill() is False
    assert sb.commands.kill(h.exec_id) is False
    assert not {i.exec_id: i for i in sb.commands.list()}[h.exec_id].running

    h = sb.commands.run("trap 'echo term; exit 7' TERM; while :; do sleep 0.1; done", background=True)
    time.sleep(0.5)
    h.signal("SIGTERM")
    with pytest.raises(CommandExitException) as e:
        h.wait()
    assert e.value.exit_code == 7 and e.value.stdout == "term\n"


@pytest.mark.needs_new_endpoints
def test_background_timeout(sb):
    h = sb.commands.run("sleep 30", background=True, timeout=1)
    with pytest.raises(TimeoutException) as e:
        h.wait()
    assert e.value.result.exit_code == 124
