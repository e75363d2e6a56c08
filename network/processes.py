"""The long-running processes of a local network: start, find, and stop exactly those.

Each process we start gets a PID file `<fabric>/run/<name>.json` holding its
pid, the command line and the port it serves, and a log `<fabric>/logs/<name>.log`.
A process counts as ours only while `/proc/<pid>/cmdline` still matches the
recorded command, so a recycled pid is never signalled.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

_LOG_TAIL_LINES = 30


class ProcessError(RuntimeError):
    """A network process failed to start or to become ready (message ends with its log's tail)."""


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    argv: tuple[str, ...]
    port: int
    log: Path

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "name": self.name,
                    "pid": self.pid,
                    "argv": list(self.argv),
                    "port": self.port,
                    "log": str(self.log),
                },
                indent=2,
            )
            + "\n"
        )

    @classmethod
    def from_file(cls, path: Path) -> ProcessRecord:
        data = json.loads(path.read_text())
        return cls(
            data["name"],
            int(data["pid"]),
            tuple(data["argv"]),
            int(data["port"]),
            Path(data["log"]),
        )


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    # Go stack traces (tab-indented frames) say little to a user: the panic line above them does.
    kept = [line for line in text.strip().splitlines() if not line.startswith("\t")]
    return "\n".join(kept[-lines:]) or "(empty log)"


def command_line(pid: int) -> tuple[str, ...] | None:
    """The process's argv, or None once it is gone or a zombie (or not ours to read)."""
    try:
        return tuple(psutil.Process(pid).cmdline())
    except psutil.Error:  # gone, a zombie, or not ours to read
        return None


def exited(pid: int) -> bool:
    """True once the process is gone, or a zombie that its parent has not reaped yet."""
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return True


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (no zombie left behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def is_running(record: ProcessRecord) -> bool:
    """True while the recorded process is alive and still the program we started."""
    _reap(record.pid)
    return command_line(record.pid) == record.argv and not exited(record.pid)


def rss_kib(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).memory_info().rss // 1024)
    except psutil.Error:
        return None


class ProcessTable:
    """The PID files of one network."""

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def record(self, name: str) -> ProcessRecord | None:
        try:
            return ProcessRecord.from_file(self.pid_file(name))
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def records(self) -> list[ProcessRecord]:
        found = []
        for path in sorted(self.run_dir.glob("*.json")):
            record = self.record(path.stem)
            if record is not None:
                found.append(record)
        return found

    def running(self, name: str) -> ProcessRecord | None:
        record = self.record(name)
        return record if record is not None and is_running(record) else None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        port: int,
        cwd: Path | None = None,
    ) -> ProcessRecord:
        """Start `argv` detached (own session: it outlives this command), logging to its log."""
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
            out.flush()
            process = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # /proc shows the argv the program was exec'd with; wait for the exec to land.
        deadline = time.monotonic() + 5
        recorded = tuple(argv)
        while (
            time.monotonic() < deadline
            and command_line(process.pid) != recorded
            and process.poll() is None
        ):
            time.sleep(0.01)
        record = ProcessRecord(name, process.pid, recorded, port, log)
        staged = self.pid_file(name).with_suffix(".tmp")
        staged.write_text(record.to_json())
        staged.replace(self.pid_file(name))
        return record

    def stop(self, name: str, timeout: float = 10.0) -> bool:
        """Stop the named process if ours and running; True if it was. Removes the PID file."""
        record = self.record(name)
        if record is None:
            return False
        was_running = is_running(record)
        if was_running:
            _signal_and_wait(record, timeout)
        self.pid_file(name).unlink(missing_ok=True)
        return was_running


def _has_exited(record: ProcessRecord) -> bool:
    """True once the process is gone (reaped, if it is our own child)."""
    try:
        waited, _ = os.waitpid(record.pid, os.WNOHANG)
    except ChildProcessError:  # not our child: gone once /proc no longer shows our program
        return not is_running(record)
    # Our child: only waitpid says it is over (its /proc entry empties a moment before it exits).
    return waited == record.pid


def _signal_and_wait(record: ProcessRecord, timeout: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(record.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _has_exited(record):
                return
            time.sleep(0.05)
    raise ProcessError(f"{record.name} (pid {record.pid}) did not exit after SIGKILL")


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """One `network up` / `down` at a time per data directory (a second one waits)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# ---------------------------------------------------------------- readiness


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ensure_port_free(port: int, what: str) -> None:
    if port_open(port):
        raise ProcessError(
            f"port {port} on 127.0.0.1, needed for {what}, is already in use by another program; "
            "choose another --base-port"
        )


def healthz_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(
    record: ProcessRecord, ready: Callable[[], bool], what: str, timeout: float = 60.0
) -> float:
    """Wait until `ready()` holds; raise with the log tail if the process dies or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not is_running(record):
            raise ProcessError(
                f"{what} exited during start-up; its log ({record.log}) ends:\n"
                f"{log_tail(record.log)}"
            )
        if ready():
            return time.monotonic() - started
        time.sleep(0.1)
    raise ProcessError(
        f"{what} was not ready after {timeout:.0f} s; its log ({record.log}) ends:\n"
        f"{log_tail(record.log)}"
    )
