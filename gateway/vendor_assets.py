"""GraphiQL's browser files, fetched when the package is built, never at run time.

No Python package ships GraphiQL, and a page that loads it from a CDN stays on "Loading…"
offline and trusts a third party with a page that handles wallets.  So the build (setup.py)
runs `npm pack` for the exact versions pinned in static/vendor.json, checks each tarball
against its pinned npm integrity hash (SHA-512), and extracts the few files the page needs into
static/vendor/, which the wheel then carries.  Standard library only: setup.py imports this
file by path before anything is installed.

    python gateway/vendor_assets.py        # fetch them into a source tree by hand
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
PINS = STATIC / "vendor.json"
VENDOR = STATIC / "vendor"


class AssetError(RuntimeError):
    pass


def pinned() -> list[dict]:
    return json.loads(PINS.read_text())["packages"]


def missing(vendor: Path = VENDOR) -> list[str]:
    """The vendored files that are not there (empty when GraphiQL can be served)."""
    return [
        name
        for package in pinned()
        for name in package["files"].values()
        if not (vendor / name).is_file()
    ]


def integrity(data: bytes) -> str:
    """npm's integrity string for a tarball (Subresource Integrity format, SHA-512)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(vendor: Path = VENDOR, npm: str | None = None) -> list[str]:
    """Fetch and check every pinned package whose files are missing; return the files written."""
    npm = npm or shutil.which("npm")
    if not missing(vendor):
        return []
    if npm is None:
        raise AssetError(
            "npm is not on PATH: building datachannels needs it once, to fetch GraphiQL's files "
            "(install Node.js with npm, then build again)"
        )
    vendor.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for package in pinned():
            if all((vendor / name).is_file() for name in package["files"].values()):
                continue
            spec = f"{package['name']}@{package['version']}"
            packed = subprocess.run(
                [npm, "pack", spec, "--pack-destination", scratch, "--json", "--silent"],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if packed.returncode != 0:
                raise AssetError(f"npm pack {spec} failed: {packed.stderr.strip()[-500:]}")
            tarball = Path(scratch) / json.loads(packed.stdout)[0]["filename"]
            data = tarball.read_bytes()
            if integrity(data) != package["integrity"]:
                raise AssetError(
                    f"{spec}: the tarball npm returned does not match the integrity pinned in "
                    f"{PINS.name}; refusing to use it"
                )
            with tarfile.open(tarball) as archive:
                for inner, name in package["files"].items():
                    member = archive.extractfile(f"package/{inner}")
                    if member is None:
                        raise AssetError(f"{spec} has no file {inner}")
                    (vendor / name).write_bytes(member.read())
                    written.append(name)
    return written


if __name__ == "__main__":
    try:
        for name in fetch():
            print(f"wrote {VENDOR / name}")
    except AssetError as error:
        sys.exit(f"error: {error}")
    print(f"GraphiQL's files are in {VENDOR}")
