"""Putting the factor data and demo records on the channels, through any connector.

The same code loads the embedded ledger (`datachannels init`) and a Fabric
network (`datachannels load --connector fabric`): records are written by the
auditor in batches, and keys already on a channel are skipped, so loading
twice writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..chaincode import SOURCE_CHANNELS
from .base import Connector, Credential, network

Progress = Callable[[str], None]
BATCH_SIZE = 500


def _quiet(_: str) -> None:
    pass


def source_records() -> dict[str, list[dict[str, Any]]]:
    """The real factor records and the demo audited records, as `put_records` takes them."""
    from ..data import demo_audited_records, load_factor_records

    records: dict[str, list[dict[str, Any]]] = {channel: [] for channel in SOURCE_CHANNELS}
    for source in (load_factor_records(), demo_audited_records()):
        for channel, items in source.items():
            records[channel].extend(
                {
                    "kind": r.kind,
                    "attributes": list(r.attributes),
                    "payload": r.payload,
                    "source": r.source,
                }
                for r in items
            )
    return records


async def load_records(
    connector: Connector,
    auditor: Credential,
    records_by_channel: dict[str, list[dict[str, Any]]],
    progress: Progress = _quiet,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int]:
    """Write records as the auditor, skipping keys already on the channel; returns how many were
    written.
    """
    written: dict[str, int] = {}
    for channel, records in records_by_channel.items():
        contract = network(connector, channel).contract()
        written[channel] = 0
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            keys = ["/".join((r["kind"], *r["attributes"])) for r in batch]
            answer = json.loads(
                await contract.evaluate(auditor, "read", json.dumps({"keys": keys}))
            )
            present = {r["key"] for r in answer["results"] if "record" in r}
            missing = [r for r, key in zip(batch, keys) if key not in present]
            if missing:
                await contract.submit(auditor, "put_records", json.dumps(missing))
                written[channel] += len(missing)
            progress(f"{channel}: {min(start + batch_size, len(records))}/{len(records)} records")
    return written


def load_fabric(data_dir, progress: Progress = _quiet) -> dict[str, int]:
    """`datachannels load --connector fabric`: the same records as `init`, signed by the auditor, on
    Fabric.
    """
    import asyncio
    from pathlib import Path

    from .fabric import FabricConnector
    from .identities import IdentityStore

    async def run() -> dict[str, int]:
        connector = FabricConnector.from_data_dir(Path(data_dir), timeout=60.0)
        try:
            auditor = IdentityStore(Path(data_dir)).signing_identity("auditor")
            return await load_records(connector, auditor, source_records(), progress)
        finally:
            await connector.aclose()

    return asyncio.run(run())
