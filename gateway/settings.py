"""One settings object, from command-line flags and `DATACHANNELS_*` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..channel_connectors.identity import CredentialError, SigningIdentity


def _pem(setting: str | None, default: Path, what: str) -> bytes | None:
    """A PEM given as text, as a file path, or the default file if it exists."""
    if setting:
        if setting.lstrip().startswith("-----BEGIN"):
            return setting.encode()
        path = Path(setting).expanduser()
        try:
            found = path.is_file()
        except (OSError, ValueError):  # e.g. "file name too long": its message holds the value
            found = False
        if not found:
            # Not the value: it may be a key pasted without its PEM header.
            raise ValueError(
                f"the {what} setting is neither PEM text (-----BEGIN …) nor the path of a file"
            )
        return path.read_bytes()
    return default.read_bytes() if default.is_file() else None


def _number(
    name: str, value: object, kind: type, low: float, high: float | None, what: str
) -> int | float:
    """A numeric setting from its text, within (low, high] for floats and [low, …) for ints."""
    try:
        number = kind(str(value))
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if kind is float and not (low < number and (high is None or number <= high)):
        raise ValueError(f"{name} must be above {low:g} and at most {high:g}, got {number:g}")
    if kind is int and number < low:
        raise ValueError(f"{name} must be at least {low:g}, got {number}")
    return number


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
    # Log lines as JSON objects (one per line, with the request id) or as plain text.
    log_format: str = "json"
    # Server processes for `serve` (uvicorn workers), sharing the data dir.
    workers: int = 1
    # Production: no identity (private key) entries in X-Wallet, delegations only.
    production: bool = False
    # The relay identity that carries delegations: a PEM file path or the PEM text itself
    # (serverless: from a secret in the environment); default: the data dir's `relay`.
    relay_certificate: str | None = None
    relay_key: str | None = None
    # Bounds on one request (each refusal is a coded error, see docs/architecture.md).
    max_body_bytes: int = 1024 * 1024
    max_activities: int = 1000
    # Each channel call, queueing included, on either connector; past it CHANNEL_UNAVAILABLE.
    channel_timeout_s: float = 10.0
    # A request body must have arrived this long after its headers (slow clients: 408).
    body_timeout_s: float = 10.0
    # Threads per channel for the embedded ledger: a locked channel holds only its own.
    channel_workers: int = 4
    # Embedded ledger: every channel is checked against its chain before its first answer and
    # again this often (seconds; 0: at start only); a channel that fails goes out of service.
    integrity_interval_s: float = 60.0
    # `serve` runs requests whose variables hold at least lane_min_items list items in a second
    # process at a lower CPU priority (gateway/lane.py), so they hold up no other request.
    lane: bool = True
    lane_min_items: int = 200
    lane_socket: str | None = None  # set by `serve` for its processes, not by hand
    # Browser front ends on these origins (comma-separated, exact) may call the gateway.
    cors_origins: str = ""
    # GraphiQL, introspection and /metrics: on unless production, when not set.
    graphiql: bool | None = None
    introspection: bool | None = None
    metrics: bool | None = None

    def enabled(self, feature: str) -> bool:
        """Whether graphiql, introspection or metrics is on: as set, else off in production."""
        value = getattr(self, feature)
        return (not self.production) if value is None else bool(value)

    def allowed_origins(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    def relay(self) -> SigningIdentity | None:
        """The relay's signing identity, or None when it is nowhere to be found."""
        from ..channel_connectors.identities import OPERATOR_MSP, RELAY

        base = self.data_dir / "identities" / RELAY
        cert = _pem(self.relay_certificate, base / "cert.pem", "relay certificate")
        key = _pem(self.relay_key, base / "key.pem", "relay key")
        if cert is None or key is None:
            if self.relay_certificate or self.relay_key:
                raise ValueError("give both the relay certificate and the relay key, or neither")
            return None
        try:
            return SigningIdentity.from_pem(OPERATOR_MSP, cert, key)
        except CredentialError as exc:
            raise ValueError(f"the relay identity is unusable: {exc}") from None

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
        if "log_format" in values:
            values["log_format"] = str(values["log_format"]).strip().lower()
            if values["log_format"] not in ("json", "text"):
                raise ValueError(f"log format must be json or text, got {values['log_format']!r}")
        for name in ("production", "graphiql", "introspection", "metrics", "lane"):
            if name in values and isinstance(values[name], str):
                text = str(values[name]).strip().lower()
                if text not in ("1", "true", "yes", "0", "false", "no"):
                    raise ValueError(f"{name} must be true or false, got {values[name]!r}")
                values[name] = text in ("1", "true", "yes")
        for name in ("channel_timeout_s", "body_timeout_s"):
            if name in values:
                values[name] = _number(name, values[name], float, 0, 600, "a number of seconds")
        if "integrity_interval_s" in values:
            given = values["integrity_interval_s"]
            try:
                interval = float(str(given))
            except ValueError:
                interval = -1.0
            if not 0 <= interval < float("inf"):
                raise ValueError(
                    f"integrity_interval_s must be a number of seconds (0: at start only), "
                    f"got {given!r}"
                )
            values["integrity_interval_s"] = interval
        for name in (
            "max_body_bytes",
            "max_activities",
            "channel_workers",
            "workers",
            "lane_min_items",
        ):
            if name in values:
                values[name] = _number(name, values[name], int, 1, None, "a whole number")
        if values.get("connector", "embedded") not in ("embedded", "fabric"):
            raise ValueError(f"connector must be embedded or fabric, got {values['connector']!r}")
        return cls(**values)  # type: ignore[arg-type]
