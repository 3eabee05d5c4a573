"""Readiness probe for the broker kafka.sh starts: asks for cluster metadata over the Kafka protocol.

Standard library only, so it runs before any virtualenv exists. Exit 0 when the broker answers a
Metadata request (v8, non-flexible; Kafka 4 dropped v0-v3) listing at least one broker, 1 otherwise.
Wire format: https://kafka.apache.org/protocol#The_Messages_Metadata
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys

METADATA_API_KEY = 3
METADATA_API_VERSION = 8
CORRELATION_ID = 0x6865  # arbitrary; checked on the way back
CLIENT_ID = b"hedge-kafka-probe"


def _metadata_request() -> bytes:
    """Metadata v8 request for all topics, framed with its int32 length."""
    header = struct.pack(
        ">hhih", METADATA_API_KEY, METADATA_API_VERSION, CORRELATION_ID, len(CLIENT_ID)
    ) + CLIENT_ID
    # topics = null (all), allow_auto_topic_creation, include_cluster/topic_authorized_operations
    body = struct.pack(">i???", -1, False, False, False)
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    """Read exactly size bytes or raise ConnectionError."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.extend(chunk)
    return bytes(chunks)


def _read_string(buffer: bytes, offset: int) -> tuple[str | None, int]:
    """Read an int16-length nullable string at offset; return it and the next offset."""
    (length,) = struct.unpack_from(">h", buffer, offset)
    offset += 2
    if length < 0:
        return None, offset
    return buffer[offset : offset + length].decode(), offset + length


def probe(host: str, port: int, timeout_s: float) -> str:
    """Return a one-line summary of the cluster metadata, or raise OSError/ValueError."""
    with socket.create_connection((host, port), timeout=timeout_s) as connection:
        connection.settimeout(timeout_s)
        connection.sendall(_metadata_request())
        (size,) = struct.unpack(">i", _read_exactly(connection, 4))
        response = _read_exactly(connection, size)
    correlation_id, _throttle_ms, broker_count = struct.unpack_from(">iii", response, 0)
    if correlation_id != CORRELATION_ID:
        raise ValueError(f"unexpected correlation id {correlation_id}")
    offset = 12
    brokers = []
    for _ in range(broker_count):
        (node_id,) = struct.unpack_from(">i", response, offset)
        broker_host, offset = _read_string(response, offset + 4)
        (broker_port,) = struct.unpack_from(">i", response, offset)
        _rack, offset = _read_string(response, offset + 4)
        brokers.append(f"{node_id}@{broker_host}:{broker_port}")
    cluster_id, offset = _read_string(response, offset)
    if not brokers:
        raise ValueError("metadata lists no broker yet")
    return f"cluster_id={cluster_id} brokers={','.join(brokers)}"


def main() -> int:
    """Command-line entry: probe.py HOST PORT [--timeout SECONDS] [--quiet]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--quiet", action="store_true")
    arguments = parser.parse_args()
    try:
        summary = probe(arguments.host, arguments.port, arguments.timeout)
    except (OSError, ValueError, struct.error) as error:
        if not arguments.quiet:
            print(f"no metadata from {arguments.host}:{arguments.port}: {error}", file=sys.stderr)
        return 1
    if not arguments.quiet:
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
