#!/usr/bin/env python3
"""A code-interpreter loop: an agent writes code, the sandbox runs it, the
agent reads the output (or the error) and writes the next cell.

    PYTHONPATH=sdk/python python3 sdk/python/examples/code_interpreter.py     # python:3.12-alpine, pulled
    PYTHONPATH=sdk/python python3 sdk/python/examples/code_interpreter.py --image busybox --lang sh   # offline

`agent()` here replays canned cells; put your model's call there. Each cell
is written to a file in the sandbox and run, its output streamed to the
terminal as it comes; a failing cell's stderr goes back to the agent, as a
model would get it to fix its code.
"""
import argparse
import sys
from typing import List, Optional, Tuple

from krunbox import CommandExitException, Sandbox, TimeoutException

LANGS = {"python": ("python3", "py"), "sh": ("sh", "sh")}

CANNED = {
    "python": [
        "import platform\nprint('hello from', platform.python_version())",
        "nums = [x * x for x in range(10)]\nprint(sum(nums))",
        "print(1 / 0)",  # fails: the agent sees the traceback
        "print('fixed:', 1 / 1)",
    ],
    "sh": [
        "echo hello from $(uname -s)",
        "seq 1 10 | awk '{ s += $1 * $1 } END { print s }'",
        "cat /no/such/file",
        "echo fixed",
    ],
}


def agent(lang: str, history: List[Tuple[str, str]]) -> Optional[str]:
    """The next cell, given (code, what it printed) so far; None to stop. Put an LLM here."""
    cells = CANNED[lang]
    return cells[len(history)] if len(history) < len(cells) else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default="python:3.12-alpine")
    ap.add_argument("--lang", choices=sorted(LANGS), default="python")
    ap.add_argument("--backend", default=None, help="auto (default), qemu, krun or native")
    args = ap.parse_args()
    program, ext = LANGS[args.lang]

    history: List[Tuple[str, str]] = []
    with Sandbox.create(image=args.image, backend=args.backend, memory_mib=512, labels={"app": "interpreter"}) as sb:
        print("sandbox %s (%s)" % (sb.id[:12], sb.info().backend))
        while True:
            code = agent(args.lang, history)
            if code is None:
                break
            path = "/tmp/cell_%d.%s" % (len(history), ext)
            sb.files.write(path, code)
            print("\n>>> %s" % code.replace("\n", "\n... "))
            try:
                r = sb.commands.run([program, path], timeout=30,
                                    on_stdout=lambda t: print(t, end=""),
                                    on_stderr=lambda t: print(t, end="", file=sys.stderr))
                feedback = r.stdout
            except CommandExitException as e:
                print("[exit code %d]" % e.exit_code)
                feedback = "exit code %d\n%s" % (e.exit_code, e.stderr)
            except TimeoutException as e:
                feedback = "timed out after 30 s\n" + (e.result.stdout if e.result else "")
            history.append((code, feedback))
    print("\n%d cells run; the sandbox is removed" % len(history))
    return 0


if __name__ == "__main__":
    sys.exit(main())
