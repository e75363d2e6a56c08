"""One settings object, from command-line flags and `DATACHANNELS_*` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def default_data_dir() -> Path:
    if os.environ.get("DATACHANNELS_DATA_DIR"):
        return Path(os.environ["DATACHANNELS_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "datachannels"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    connector: str = "embedded"
    log_level: str = "info"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then `DATACHANNELS_<NAME>` variables, then explicit (non-None) overrides."""
        values: dict[str, object] = {}
        for spec in fields(cls):
            env = os.environ.get(f"DATACHANNELS_{spec.name.upper()}")
            if env is not None and env != "":
                values[spec.name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(str(values["data_dir"])).expanduser()
        if "port" in values:
            try:
                port = int(str(values["port"]))
            except ValueError:
                raise ValueError(f"port must be a whole number, got {values['port']!r}") from None
            if not 0 <= port <= 65535:
                raise ValueError(f"port must be from 0 to 65535, got {port}")
            values["port"] = port
        levels = ("critical", "error", "warning", "info", "debug", "trace")
        if "log_level" in values and str(values["log_level"]).lower() not in levels:
            raise ValueError(
                f"log level must be one of {', '.join(levels)}, got {values['log_level']!r}"
            )
        if "log_level" in values:
            values["log_level"] = str(values["log_level"]).lower()
        if values.get("connector", "embedded") not in ("embedded", "fabric"):
            raise ValueError(f"connector must be embedded or fabric, got {values['connector']!r}")
        return cls(**values)  # type: ignore[arg-type]
