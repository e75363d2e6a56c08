"""Blocks as Fabric builds them: header hash chain, data hash, orderer signature.

Fabric hashes a block header as SHA-256 of the ASN.1 DER encoding of
SEQUENCE { number INTEGER, previous_hash OCTET STRING, data_hash OCTET STRING }
and the block data as SHA-256 of its entries concatenated
(fabric `protoutil.BlockHeaderBytes`, `ComputeBlockDataHash`).  The orderer
signs `metadata value ‖ signature header ‖ header bytes` into the SIGNATURES
metadata slot.  The embedded ledger does the same so that `ledger verify`
checks what a Fabric peer would check.
"""

from __future__ import annotations

import hashlib
import os

from fabric_protos.common import common_pb2

from .identity import Identity, Signer


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return b"\x02" + _der_length(len(body)) + body


def _der_octets(value: bytes) -> bytes:
    return b"\x04" + _der_length(len(value)) + value


def header_bytes(header: common_pb2.BlockHeader) -> bytes:
    body = (
        _der_integer(header.number)
        + _der_octets(header.previous_hash)
        + _der_octets(header.data_hash)
    )
    return b"\x30" + _der_length(len(body)) + body


def header_hash(header: common_pb2.BlockHeader) -> bytes:
    return hashlib.sha256(header_bytes(header)).digest()


def data_hash(entries: list[bytes]) -> bytes:
    return hashlib.sha256(b"".join(entries)).digest()


def _empty_metadata() -> list[bytes]:
    return [b""] * len(common_pb2.BlockMetadataIndex.keys())


def new_block(
    number: int, previous_hash: bytes, entries: list[bytes], validation_codes: bytes
) -> common_pb2.Block:
    block = common_pb2.Block(
        header=common_pb2.BlockHeader(
            number=number, previous_hash=previous_hash, data_hash=data_hash(entries)
        ),
        data=common_pb2.BlockData(data=entries),
        metadata=common_pb2.BlockMetadata(metadata=_empty_metadata()),
    )
    block.metadata.metadata[common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER] = validation_codes
    return block


def sign_block(block: common_pb2.Block, orderer: Identity, signer: Signer) -> None:
    signature_header = common_pb2.SignatureHeader(
        creator=orderer.serialize(), nonce=os.urandom(24)
    ).SerializeToString()
    value = b""
    signature = signer.sign(value + signature_header + header_bytes(block.header))
    metadata = common_pb2.Metadata(
        value=value,
        signatures=[
            common_pb2.MetadataSignature(signature_header=signature_header, signature=signature)
        ],
    )
    block.metadata.metadata[common_pb2.BlockMetadataIndex.SIGNATURES] = metadata.SerializeToString()


def block_signature(block: common_pb2.Block) -> tuple[bytes, bytes, bytes]:
    """(signed message, signature, creator) of a block's orderer signature."""
    metadata = common_pb2.Metadata.FromString(
        block.metadata.metadata[common_pb2.BlockMetadataIndex.SIGNATURES]
    )
    if len(metadata.signatures) != 1:
        raise ValueError("block has no orderer signature")
    entry = metadata.signatures[0]
    creator = common_pb2.SignatureHeader.FromString(entry.signature_header).creator
    message = metadata.value + entry.signature_header + header_bytes(block.header)
    return message, entry.signature, creator
