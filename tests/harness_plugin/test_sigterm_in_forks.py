"""SIGTERM in a process a library forked from a pytest worker ends that child only.

The plugin turns SIGTERM into KeyboardInterrupt so a session releases its racks. A
child forked by a library (pyroute2's netns helper) inherits the handler; raising
there unwound the child's copy of pytest and told the xdist controller the worker
had been interrupted, which ended a whole suite run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from fixtures.rack_leases import _interrupt_on_sigterm
    _interrupt_on_sigterm()
    child = os.fork()
    if child == 0:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            os._exit(0)
        except KeyboardInterrupt:
            os._exit(17)  # the bug: the child unwinds as if the session were interrupted
    _, status = os.waitpid(child, 0)
    print("child", "signalled" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}",
          os.WTERMSIG(status) if os.WIFSIGNALED(status) else "")
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        print("parent not interrupted")
    except KeyboardInterrupt:
        print("parent interrupted")
""")


def test_a_forked_child_dies_of_sigterm_and_the_session_is_interrupted() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=30)
    lines = result.stdout.splitlines()
    assert lines == ["child signalled 15", "parent interrupted"], result.stdout + result.stderr
