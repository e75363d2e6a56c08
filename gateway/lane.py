"""The heavy lane: large requests run in a second process, at a lower CPU priority.

One request of 1,000 activities costs the gateway over 100 ms of CPU, most of it in code that
cannot yield (strawberry converting the input, the engine, encoding the answer), and the GIL
runs one thread's Python at a time.  On one event loop, eight of them held a README footprint
for 3.2 s at p99 (bench/fairness.py).  So `datachannels serve` starts a second server process,
the lane, on a Unix socket in a private directory, at nice 10: the kernel then gives the main
process the CPU whenever both want it, and the lane everything that is left.  The main process
forwards each POST whose variables hold at least `lane_min_items` list items (activities,
mostly) to the lane, with the caller's headers and body as they came, and sends back the
lane's status, content type and body; its own middleware adds the rest, so a forwarded answer
is the same as one made here.

The lane is the same app on the same data dir and settings (so the same checks and limits,
and the same ledger, shared as between workers).  If it cannot be reached, the request runs
in the main process after all and the log says so.  Only `serve` starts a lane; an app built
in-process (tests, the Lambda handler) runs everything itself.

The lane's metrics are summed into the gateway's /metrics (prometheus_client's multiprocess
mode, gateway/metrics.py), so a forwarded request's channel calls are counted there too.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Scope, Send

from .observe import current_request_id, note_lane

log = logging.getLogger("datachannels.lane")

LANE_NICE = 10
# Request headers the lane needs; nothing else of the caller's travels.
_FORWARDED = (b"content-type", b"accept", b"x-wallet")


def count_items(value: Any, budget: int) -> int:
    """List items anywhere in `value`, counting at most up to `budget` (then it stops)."""
    count = 0
    stack = [value]
    while stack and count < budget:
        item = stack.pop()
        if isinstance(item, list):
            count += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return count


class Lane:
    """The main process's side: which requests go to the lane, and forwarding them."""

    def __init__(self, socket_path: str, min_items: int, timeout_s: float) -> None:
        self.socket_path = socket_path
        self.min_items = min_items
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=socket_path),
            base_url="http://lane",
            timeout=timeout_s,
        )

    def wants(self, request: dict[str, Any] | None) -> bool:
        if request is None:
            return False
        return count_items(request.get("variables"), self.min_items) >= self.min_items

    async def forward(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Answer the request with the lane's answer; False if the lane could not be asked."""
        headers = [(k, v) for k, v in scope.get("headers", ()) if k in _FORWARDED]
        request_id = current_request_id()
        if request_id:
            headers.append((b"x-request-id", request_id.encode()))
        try:
            answer = await self._client.post(
                scope.get("path", "/graphql"), content=body, headers=headers
            )
        except httpx.HTTPError as error:
            log.warning("the heavy lane did not answer (%s); running the request here", error)
            return False
        note_lane()
        content_type = answer.headers.get("content-type", "application/json")
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(answer.content)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})
        return True

    async def aclose(self) -> None:
        await self._client.aclose()


class LaneProcess:
    """`serve`'s side: the lane's server process, started and stopped with the gateway."""

    def __init__(self, environment: dict[str, str]) -> None:
        self._directory = tempfile.mkdtemp(prefix="datachannels-lane-")  # mode 0700
        self.socket_path = str(Path(self._directory) / "lane.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "datachannels.gateway.lane", self.socket_path, str(os.getpid())],
            env={**os.environ, **environment},
        )
        try:
            os.setpriority(os.PRIO_PROCESS, self.process.pid, LANE_NICE)
        except OSError as error:  # not fatal: the lane still takes work off the main loop
            log.warning("could not lower the heavy lane's priority: %s", error)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _remove(Path(self.socket_path))
        from .metrics import forget_process

        forget_process(self.process.pid)


def main(socket_path: str, parent: int) -> None:
    import uvicorn

    from .app import create_app
    from .observe import log_config
    from .settings import Settings

    settings = Settings.from_env(lane=False)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    # As in `serve`: uvicorn raises SIGTERM again after its graceful stop; exit through the
    # clean-up below rather than die by it.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        uvicorn.run(
            create_app(settings, count_requests=False),
            uds=socket_path,
            log_level=settings.log_level,
            log_config=log_config(settings.log_level, settings.log_format),
            access_log=False,
        )
    finally:
        _remove(Path(socket_path))


def _remove(socket_path: Path) -> None:
    """The socket and its private directory, if they are still there."""
    for leftover in (socket_path, socket_path.parent):
        try:
            leftover.unlink() if leftover == socket_path else leftover.rmdir()
        except OSError:
            pass


def _exit_with_parent(parent: int) -> None:
    """A lane whose gateway died (even by SIGKILL, even before the lane got this far) stops
    too, gracefully."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
