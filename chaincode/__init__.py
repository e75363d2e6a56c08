"""The contract of each channel, written with `fabric-chaincode-python`'s contract API.

The same objects run in-process on the embedded ledger and as
chaincode-as-a-service on a Fabric peer.  `contract_for(channel)` is the one
place that maps a channel to its contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import ChannelContract
    from .shim import ContractChaincode

SOURCE_CHANNELS = ("utility", "shipping", "airline", "commodity")
CHANNELS = (*SOURCE_CHANNELS, "footprint")

# The contracts are imported when first asked for, not with the package: the gateway needs
# only the channel names and chaincode/delegation.py, and the contracts pull in
# fabric-chaincode-python and jsonschema (about 0.35 s of a serverless cold start).


def contract_for(channel: str, writers: Iterable[str] | None = None) -> ChannelContract:
    from .airline import AirlineContract
    from .commodity import CommodityContract
    from .footprint import FootprintContract
    from .records import AUDITORS
    from .shipping import ShippingContract
    from .utility import UtilityContract

    contracts: dict[str, type[ChannelContract]] = {
        "utility": UtilityContract,
        "shipping": ShippingContract,
        "airline": AirlineContract,
        "commodity": CommodityContract,
        "footprint": FootprintContract,
    }
    try:
        return contracts[channel](AUDITORS if writers is None else writers)
    except KeyError:
        raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}") from None


def chaincode_for(channel: str, writers: Iterable[str] | None = None) -> ContractChaincode:
    from .shim import new_chaincode

    return new_chaincode(contract_for(channel, writers))


__all__ = [
    "CHANNELS",
    "SOURCE_CHANNELS",
    "chaincode_for",
    "contract_for",
]
