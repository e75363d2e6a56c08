"""The contract of each channel, written with `fabric-chaincode-python`'s contract API.

The same objects run in-process on the embedded ledger and as
chaincode-as-a-service on a Fabric peer.  `contract_for(channel)` is the one
place that maps a channel to its contract.
"""

from __future__ import annotations

from collections.abc import Iterable

from .airline import AirlineContract
from .commodity import CommodityContract
from .footprint import FootprintContract
from .records import AUDITORS, ChannelContract, SourceChannelContract
from .shim import ContractChaincode, new_chaincode
from .shipping import ShippingContract
from .utility import UtilityContract

SOURCE_CHANNELS = ("utility", "shipping", "airline", "commodity")
CHANNELS = (*SOURCE_CHANNELS, "footprint")

_CONTRACTS: dict[str, type[ChannelContract]] = {
    "utility": UtilityContract,
    "shipping": ShippingContract,
    "airline": AirlineContract,
    "commodity": CommodityContract,
    "footprint": FootprintContract,
}


def contract_for(channel: str, writers: Iterable[str] = AUDITORS) -> ChannelContract:
    try:
        return _CONTRACTS[channel](writers)
    except KeyError:
        raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}") from None


def chaincode_for(channel: str, writers: Iterable[str] = AUDITORS) -> ContractChaincode:
    return new_chaincode(contract_for(channel, writers))


__all__ = [
    "CHANNELS",
    "SOURCE_CHANNELS",
    "SourceChannelContract",
    "chaincode_for",
    "contract_for",
]
