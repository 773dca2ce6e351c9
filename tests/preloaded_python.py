"""A ``python`` for the tests whose entry-point runs skip the imports: ``python -m <entry point>``
runs in a fork of one server interpreter that imported the plugin and s3prl's script once.

A run of an entry point spends most of its start importing s3prl's script (it imports every
upstream of s3prl's hub, about 7 s on a 2-core CPU); the suite starts the entry points about a
hundred times. Here a server (``serve``) imports ``PRELOADED_MODULES`` once, in the order a run
would import them (``s3prl_fusion`` first: its import hooks patch s3prl as s3prl is imported),
and forks for each run; the client (``python preloaded_python.py <python arguments>``) hands it
its arguments, working folder, environment and standard streams, forwards SIGINT / SIGTERM and
exits as the run did (a run killed by a signal: the client kills itself with that signal). The
fork runs the entry point as ``python -m`` does (``runpy``, as ``__main__``) and ends as an
interpreter does: non-daemon threads joined, ``atexit`` functions run, streams flushed.

Anything else the client execs in a fresh interpreter: other arguments than ``-m <one of
ENTRY_POINTS>``, no server (``SOCKET_ENV`` unset), or an environment that differs from the
server's in a variable read while modules are imported (``IMPORT_TIME_PREFIXES``).
Standard library only at the top: the client starts in milliseconds.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys

ENTRY_POINTS = ("s3prl_fusion.cli", "s3prl_fusion.run_downstream")
PRELOADED_MODULES = (
    "s3prl_fusion", "s3prl.run_downstream", "s3prl_fusion.errors", "s3prl_fusion.s3prl_adapter.patches.script",
    "s3prl_fusion.experiments.command_line", "s3prl_fusion.experiments.task_configs",
)
SOCKET_ENV = "S3PRL_FUSION_TEST_PRELOADED_SOCKET"
# variables read while modules are imported: Python's own, the thread counts, huggingface_hub's
# and transformers' paths and offline switches, torch's, and the plugin's compat-only switch
IMPORT_TIME_PREFIXES = ("PYTHON", "OMP_", "MKL_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TORCH", "XDG_", "S3PRL_FUSION_COMPAT_ONLY")
NOT_IMPORT_TIME = ("PYTHON", "PYTHONUNBUFFERED")  # a recipe's $PYTHON; stream buffering, set in the fork
STREAMS = (0, 1, 2)
HEADER = struct.Struct("!I")
FRESH = b"fresh"
POLL_SECONDS = 0.02


def import_time_environment(environment: dict) -> dict:
    """The part of ``environment`` that can change what importing a module does."""
    return {
        key: value for key, value in environment.items()
        if key.startswith(IMPORT_TIME_PREFIXES) and key not in NOT_IMPORT_TIME
    }


def preloaded_module(argv: list[str]) -> str | None:
    """The entry point that ``python <argv>`` runs, where the server can run it; else None."""
    return argv[1] if len(argv) >= 2 and argv[0] == "-m" and argv[1] in ENTRY_POINTS else None


# --- client -----------------------------------------------------------------------------------

def _receive_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(64)
        if not chunk:
            raise ConnectionError("the preloaded python server closed the connection")
        data += chunk
    return data[:-1]


def client(argv: list[str]) -> None:
    """``python <argv>``, through the server where it can run it."""
    address = os.environ.get(SOCKET_ENV)
    if address is None or preloaded_module(argv) is None:
        os.execv(sys.executable, [sys.executable, *argv])
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(address)
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    socket.send_fds(connection, [HEADER.pack(len(request)) + request], list(STREAMS))
    answer = _receive_line(connection)
    if answer == FRESH:
        connection.close()
        os.execv(sys.executable, [sys.executable, *argv])
    child = int(answer)

    def forward(received: int, frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, received)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    status = int(_receive_line(connection))
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    sys.exit(status)


# --- server -----------------------------------------------------------------------------------

def _receive_request(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 20, len(STREAMS))
    while len(data) < HEADER.size or len(data) < HEADER.size + HEADER.unpack_from(data)[0]:
        chunk = connection.recv(1 << 20)
        if not chunk:
            raise ConnectionError("a client closed the connection mid-request")
        data += chunk
    return json.loads(data[HEADER.size:]), fds


def _run_forked(request: dict, fds: list[int]) -> None:
    """In the fork: ``python -m <module> <arguments>`` as the request says; never returns."""
    import atexit
    import random
    import runpy
    import threading

    for fd, stream in zip(fds, STREAMS):
        os.dup2(fd, stream)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(write_through=unbuffered or stream is sys.stderr, line_buffering=os.isatty(stream.fileno()))
    random.seed()  # a fresh interpreter's seed is its own
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    module, arguments = request["argv"][1], request["argv"][2:]
    sys.argv = [module, *arguments]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_request:
        if exit_request.code is None or isinstance(exit_request.code, int):
            code = exit_request.code or 0
        else:
            print(exit_request.code, file=sys.stderr)
            code = 1
    except BaseException as error:
        sys.excepthook(*sys.exc_info())
        # an interpreter that a KeyboardInterrupt ended ends killed by SIGINT
        code = -signal.SIGINT if isinstance(error, KeyboardInterrupt) else 1
    try:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        if code < 0:
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code)


def serve(address: str) -> None:
    """Import ``PRELOADED_MODULES``, print ``ready``, and run each client's request in a fork, one
    thread only (a fork copies no other thread's locks); a client that goes away kills its run."""
    import importlib
    import threading

    for name in PRELOADED_MODULES:
        importlib.import_module(name)
    if threading.active_count() != 1:
        raise RuntimeError(f"importing {PRELOADED_MODULES} started threads: {threading.enumerate()}; forks of this server would lack them")
    environment = import_time_environment(dict(os.environ))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen()
    print("ready", flush=True)
    runs: dict[socket.socket, int] = {}  # client connection -> its fork's pid
    while True:
        readable, _, _ = select.select([listener, *runs], [], [], POLL_SECONDS)
        for connection in readable:
            if connection is listener:
                accepted, _ = listener.accept()
                request, fds = _receive_request(accepted)
                if import_time_environment(request["env"]) != environment:
                    for fd in fds:
                        os.close(fd)
                    accepted.sendall(FRESH + b"\n")
                    accepted.close()
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    for other in runs:
                        other.close()
                    accepted.close()
                    _run_forked(request, fds)
                for fd in fds:
                    os.close(fd)
                accepted.sendall(f"{pid}\n".encode())
                runs[accepted] = pid
            elif not connection.recv(1):  # the client went away: its run goes too
                os.kill(runs[connection], signal.SIGKILL)
        for connection, pid in list(runs.items()):
            finished, status = os.waitpid(pid, os.WNOHANG)
            if finished:
                try:
                    connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
                except OSError:
                    pass
                connection.close()
                del runs[connection]


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    else:
        client(sys.argv[1:])
