"""Build the pinned Hyperledger Fabric binaries from its Go module, once, into a cache.

`ensure_fabric_binaries()` returns at once when the cache holds a finished build
(a stamp naming the module version); otherwise it downloads the module through
the Go module proxy, compiles `peer`, `orderer`, `osnadmin`, `configtxgen` and
`cryptogen` with `CGO_ENABLED=0`, and copies the module's `sampleconfig/` out.

Cache layout (root: `cache_dir`, else `$DATACHANNELS_FABRIC_CACHE`, else
`~/.cache/datachannels/fabric`)::

    <root>/<version>/bin/       the five binaries
    <root>/<version>/config/    core.yaml, orderer.yaml, configtx.yaml (writable)
    <root>/<version>/stamp.json written last: its presence means "done"
    <root>/go/{mod,build}/      GOMODCACHE and GOCACHE, unless the user set them

The wrapper module `fabric-go/` beside this file pins the version in `go.mod`
(and `go.sum`, once `go mod tidy` has written it). It is copied to a temporary
directory for the build, so a read-only installed package works, and built with
`-mod=mod`: entries go.sum lacks are fetched and checked against the checksum
database instead of failing the build; entries it has must match.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FABRIC_MODULE = "github.com/hyperledger/fabric"
# DESIGN.md and FABRIC.md pin v3.1.5 (fallback v3.1.4), but the Go module proxy this
# project reaches answers 403 "This module version is not available" for both. The
# newest Fabric commit it serves is this main-branch snapshot of 2023-04-05, between
# v2.5.0 and v3.0.0-preview: no system channel needed, etcdraft, Gateway on by default
# (network/README.md lists what differs from 3.x). FABRIC_VERSION is the label
# baked into the binaries (`peer version`) and the cache directory's name.
FABRIC_VERSION = "main-2023-04-05"
FABRIC_COMMIT = "695dd57e01c2"
# The module path has no /v3 suffix, so a commit is addressed by its pseudo-version.
FABRIC_MODULE_VERSION = "v1.4.0-rc1.0.20230405174026-695dd57e01c2"
# configtxgen first: it compiles most of the dependencies the others share.
FABRIC_BINARIES = ("configtxgen", "cryptogen", "osnadmin", "orderer", "peer")
WRAPPER_MODULE_DIR = Path(__file__).with_name("fabric-go")

_OUTPUT_TAIL_LINES = 40
_HEARTBEAT_SECONDS = 20.0


class FabricBuildError(RuntimeError):
    """`go` is missing, or downloading or compiling Fabric failed.

    The message ends with go's output.
    """


@dataclass(frozen=True)
class FabricInstall:
    bin_dir: Path
    config_dir: Path
    version: str

    def path(self, name: str) -> Path:
        if name not in FABRIC_BINARIES:
            raise ValueError(f"not a Fabric binary built here: {name!r}")
        return self.bin_dir / name


@dataclass(frozen=True)
class _Pin:
    version: str
    commit: str
    module_version: str
    wrapper_dir: Path


_PIN = _Pin(FABRIC_VERSION, FABRIC_COMMIT, FABRIC_MODULE_VERSION, WRAPPER_MODULE_DIR)


def _print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_cache_root() -> Path:
    if configured := os.environ.get("DATACHANNELS_FABRIC_CACHE"):
        return Path(configured).expanduser()
    xdg_cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg_cache) / "datachannels" / "fabric"


def ensure_fabric_binaries(
    cache_dir: Path | None = None,
    progress: Callable[[str], None] = _print_to_stderr,
) -> FabricInstall:
    """Return the cached Fabric install, building it first if it is absent or incomplete."""
    return _ensure(
        _PIN, Path(cache_dir) if cache_dir is not None else default_cache_root(), progress
    )


def _ensure(pin: _Pin, root: Path, progress: Callable[[str], None]) -> FabricInstall:
    home = root / pin.version
    install = FabricInstall(home / "bin", home / "config", pin.version)
    if _is_complete(home, pin):
        return install
    home.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(home / ".lock"):
        if not _is_complete(home, pin):  # another process may have built it meanwhile
            _build(pin, root, home, install, progress)
    return install


def _is_complete(home: Path, pin: _Pin) -> bool:
    try:
        stamp = json.loads((home / "stamp.json").read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("module_version") == pin.module_version and all(
        os.access(home / "bin" / name, os.X_OK) for name in FABRIC_BINARIES
    )


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(
    pin: _Pin, root: Path, home: Path, install: FabricInstall, progress: Callable[[str], None]
) -> None:
    go = shutil.which("go")
    if go is None:
        raise FabricBuildError(
            "`go` is not on PATH: Go (the version fabric-go/go.mod names, or newer) is "
            f"needed once to build Fabric {pin.version}"
        )
    env = _go_env(root)
    for leftover in home.glob(".build-*"):  # from a build that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    started = time.monotonic()
    progress(f"Building Hyperledger Fabric {pin.version} ({pin.module_version}) into {home}")
    with tempfile.TemporaryDirectory(dir=home, prefix=".build-") as scratch:
        work = Path(scratch) / "fabric-go"
        shutil.copytree(pin.wrapper_dir, work)

        progress("downloading Go modules ...")
        step = time.monotonic()
        listing = _run_go(
            [go, "mod", "download", "-json"], work, env, progress, "downloading Go modules"
        )
        module_dir = _module_dir(listing)
        progress(f"downloaded Go modules in {time.monotonic() - step:.0f} s")
        _copy_sampleconfig(module_dir / "sampleconfig", install.config_dir, Path(scratch))

        install.bin_dir.mkdir(parents=True, exist_ok=True)
        ldflags = " ".join(
            f"-X {FABRIC_MODULE}/common/metadata.{key}={value}"
            for key, value in (("Version", pin.version), ("CommitSHA", pin.commit))
        )
        for index, name in enumerate(FABRIC_BINARIES, start=1):
            progress(f"[{index}/{len(FABRIC_BINARIES)}] building {name} ...")
            step = time.monotonic()
            staged = Path(scratch) / name
            command = [go, "build", "-mod=mod", "-trimpath", "-ldflags", ldflags, "-o", str(staged)]
            _run_go(
                [*command, f"{FABRIC_MODULE}/cmd/{name}"], work, env, progress, f"building {name}"
            )
            os.replace(staged, install.bin_dir / name)  # atomic: never a half-written binary
            size_mb = (install.bin_dir / name).stat().st_size / 1e6
            progress(f"built {name} in {time.monotonic() - step:.0f} s ({size_mb:.0f} MB)")

    stamp = {"module": FABRIC_MODULE, "module_version": pin.module_version, "built_at": time.time()}
    staged_stamp = home / "stamp.json.tmp"
    staged_stamp.write_text(json.dumps(stamp, indent=2) + "\n")
    os.replace(staged_stamp, home / "stamp.json")
    progress(f"Fabric {pin.version} ready in {time.monotonic() - started:.0f} s: {install.bin_dir}")


def _go_env(root: Path) -> dict[str, str]:
    env = dict(os.environ, CGO_ENABLED="0", GOWORK="off")
    # A persistent module and build cache next to the binaries makes rebuilds quick,
    # unless the user already chose where Go keeps them.
    env.setdefault("GOMODCACHE", str(root / "go" / "mod"))
    env.setdefault("GOCACHE", str(root / "go" / "build"))
    # -modcacherw: a module cache that `rm -rf` can delete.
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -modcacherw".strip()
    return env


def _run_go(
    command: list[str], cwd: Path, env: dict[str, str], progress: Callable[[str], None], what: str
) -> str:
    started = time.monotonic()
    with subprocess.Popen(
        command, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            while True:
                try:
                    output, errors = process.communicate(timeout=_HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    progress(f"  ... still {what}: {time.monotonic() - started:.0f} s")
        except BaseException:
            process.kill()
            raise
    if process.returncode != 0:
        tail = "\n".join(f"{output}\n{errors}".strip().splitlines()[-_OUTPUT_TAIL_LINES:])
        raise FabricBuildError(
            f"Fabric build failed while {what} (go exited {process.returncode}); go said:\n{tail}"
        )
    return output


def _module_dir(download_json: str) -> Path:
    """Find Fabric's unpacked source in `go mod download -json` output (a stream of objects)."""
    decoder = json.JSONDecoder()
    position = 0
    text = download_json.strip()
    while position < len(text):
        entry, position = decoder.raw_decode(text, position)
        while position < len(text) and text[position].isspace():
            position += 1
        if entry.get("Path") == FABRIC_MODULE and entry.get("Dir"):
            return Path(entry["Dir"])
    raise FabricBuildError(f"`go mod download -json` did not report {FABRIC_MODULE}")


def _copy_sampleconfig(source: Path, destination: Path, scratch: Path) -> None:
    # The sample MSP keys are public: leave them out so nothing can use them by mistake.
    staged = scratch / "config"
    shutil.copytree(source, staged, ignore=shutil.ignore_patterns("msp"))
    for path in [staged, *staged.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
    if destination.exists():
        shutil.rmtree(destination)
    os.replace(staged, destination)
