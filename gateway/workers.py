"""`serve --workers N`: N server processes on one port, each with a listening socket of its own.

uvicorn's own multi-process mode binds one socket in the parent and hands it to every worker, so
all workers accept from one queue.  Whichever worker is awake takes every connection that a
client opens at once: 16 keep-alive connections from `wrk` all landed in one of two workers, the
other stayed idle, and two workers served no more than one (measured; docs/performance.md).  With
SO_REUSEPORT each worker listens on a socket of its own bound to the same address, and the kernel
spreads new connections over them by a hash of the connection's addresses.  uvicorn has no
option for that yet (a pull request for it is open upstream), so this module is the small
supervisor that does it around uvicorn's public `Server`:

* each worker is a fresh interpreter (multiprocessing's "spawn"), builds the app from the
  DATACHANNELS_* environment the parent hands it, binds its own socket and runs `Server`;
* SIGINT or SIGTERM to the parent stops every worker gracefully (uvicorn's own shutdown), then
  the parent exits;
* a worker that dies while serving is replaced; one that dies before it ever answered means the
  configuration is broken, and the parent stops the rest and exits non-zero instead of looping.

The workers share the data dir: SQLite's write lock orders every commit across processes and
readers never wait for writers (WAL), so the embedded ledger stays one ledger.  Linux only:
elsewhere SO_REUSEPORT either does not exist or does not balance.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess

# A worker that exits within this many seconds of its start never served: do not restart it.
STARTUP_GRACE_S = 5.0


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port that joins the port's SO_REUSEPORT group."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(environment: dict[str, str], host: str, port: int, log_level: str) -> None:
    import uvicorn

    from .observe import log_config
    from .settings import Settings

    os.environ.update(environment)
    settings = Settings.from_env()
    config = uvicorn.Config(
        "datachannels.gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        access_log=False,  # our own `request` line replaces it (gateway/observe.py)
    )
    uvicorn.Server(config).run(sockets=[reuse_port_socket(host, port)])


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def run(workers: int, environment: dict[str, str], host: str, port: int, log_level: str) -> int:
    """Serve with `workers` processes until SIGINT or SIGTERM; the exit status for the CLI."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(
            target=_worker, args=(environment, host, port, log_level), name="datachannels-worker"
        )
        process.start()
        return process, time.monotonic()

    running = [start() for _ in range(workers)]
    print(f"serving with {workers} worker processes: {[p.pid for p, _ in running]}", flush=True)
    status = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for index, (process, started) in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < STARTUP_GRACE_S:
                    print(
                        f"error: worker {process.pid} exited during start-up "
                        f"(status {process.exitcode}); stopping",
                        file=sys.stderr,
                        flush=True,
                    )
                    stopping, status = True, 1
                    break
                from .metrics import forget_process  # not at import: see cli._share_metrics

                forget_process(process.pid)
                print(
                    f"worker {process.pid} exited (status {process.exitcode}); starting another",
                    file=sys.stderr,
                    flush=True,
                )
                running[index] = start()
    finally:
        for process, _ in running:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process, _ in running:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
