"""Read TensorFlow checkpoints (the V2 "tensor bundle" format) without TensorFlow.

A checkpoint saved by ``tf.train.Saver`` (TF >= 1.0, ``write_version=V2``) with prefix
``P`` is one index file and one or more data shards::

    P.index                       which tensors exist, and where
    P.data-00000-of-00002         raw tensor bytes (shard 0)
    P.data-00001-of-00002         (shard 1, ...)

**The index** (``tensorflow/core/util/tensor_bundle``) is a LevelDB-style sorted string
table, written uncompressed (``BundleWriter`` sets ``kNoCompression``):

- a 48-byte footer at the end of the file: the block handles of the meta-index and the
  index block (each a varint offset and a varint size), zero padding to 40 bytes, and
  the magic number ``0xdb4775248b80fb57`` (little-endian fixed64);
- every block is followed by a 5-byte trailer: the compression type (0 = none) and the
  masked CRC-32C of the block and that type byte;
- a block is a run of prefix-compressed entries (varints ``shared``, ``non_shared``,
  ``value_length``, then the key's new suffix and the value), followed by its restart
  array (``uint32`` offsets) and their count (``uint32``);
- the index block maps each data block's last key to its handle; the data blocks map
  keys to values, in sorted key order.

The entry with the empty key holds a ``BundleHeaderProto`` (``num_shards`` = 1,
``endianness`` = 2, ``version`` = 3); every other key is a tensor name whose value is a
``BundleEntryProto``: ``dtype`` = 1 (a ``DataType`` enum), ``shape`` = 2 (a
``TensorShapeProto``: repeated ``dim`` = 2, each ``size`` = 1), ``shard_id`` = 3,
``offset`` = 4, ``size`` = 5, ``crc32c`` = 6 (masked CRC-32C of the tensor's bytes,
fixed32) and ``slices`` = 7 (only for partitioned variables, not supported here).
These protocol buffers are decoded by hand below (a few varint fields; no protobuf
dependency).

**The data shards** hold each tensor's bytes at ``offset``, ``size`` bytes long: numeric
tensors are the C-order array, little-endian (the header says so; a big-endian bundle
is refused).  :meth:`TFCheckpoint.read` returns them as NumPy arrays and checks each
tensor's CRC-32C (vectorised with NumPy: ~0.1 s for 20 MB).

Every problem with the files (missing, not an index, truncated, corrupt, a shard
missing, an unsupported dtype) raises :class:`rwgan.errors.RwganError` with a one-line
message naming the file.  Verified against TensorFlow itself by
``tests/test_official.py`` (a TF-written two-shard fixture in ``tests/data/official``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from rwgan.errors import RwganError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5

#: ``tensorflow.DataType`` enum values this reader can decode, and their NumPy dtypes
#: (little-endian).  bfloat16 is widened to float32 on read.
DTYPES: dict[int, tuple[str, np.dtype]] = {
    1: ("float32", np.dtype("<f4")),
    2: ("float64", np.dtype("<f8")),
    3: ("int32", np.dtype("<i4")),
    4: ("uint8", np.dtype("u1")),
    5: ("int16", np.dtype("<i2")),
    6: ("int8", np.dtype("i1")),
    8: ("complex64", np.dtype("<c8")),
    9: ("int64", np.dtype("<i8")),
    10: ("bool", np.dtype("?")),
    14: ("bfloat16", np.dtype("<u2")),
    17: ("uint16", np.dtype("<u2")),
    18: ("complex128", np.dtype("<c16")),
    19: ("float16", np.dtype("<f2")),
    22: ("uint32", np.dtype("<u4")),
    23: ("uint64", np.dtype("<u8")),
}
#: Names of the DataType values that cannot be read (they are listed, not decoded).
OTHER_DTYPES = {0: "invalid", 7: "string", 11: "qint8", 12: "quint8", 13: "qint32", 15: "qint16",
                16: "quint16", 20: "resource", 21: "variant"}

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")


# ----------------------------------------------------------------------- CRC-32C

_CRC_POLY = 0x82F63B78  # Castagnoli, reflected


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_CRC_POLY), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _crc_table()
_CRC_TABLE_LIST = [int(v) for v in _CRC_TABLE]
_CRC_LANES = 2048
_CRC_SMALL = 1 << 15


def _crc_register(register: int, data: bytes) -> int:
    """Advance the raw (non-inverted) CRC-32C register over ``data``, byte by byte."""
    table = _CRC_TABLE_LIST
    for byte in data:
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TensorFlow and LevelDB compute it
    (``crc32c(b"123456789") == 0xE3069283``).

    Large inputs are split into :data:`_CRC_LANES` equal chunks whose registers advance
    together, one NumPy step per byte position; the CRC being linear over GF(2), the
    chunks' registers then combine as ``r = A(r) ^ c_k``, where ``A`` (advancing a
    register over one chunk of zero bytes) is tabulated byte-wise by running the 1,024
    registers ``v << 8j`` through the same loop with zero data.
    """
    buffer = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    register = 0xFFFFFFFF
    if buffer.size < _CRC_SMALL:
        return _crc_register(register, buffer.tobytes()) ^ 0xFFFFFFFF
    length = buffer.size // _CRC_LANES
    body = buffer[: length * _CRC_LANES].reshape(_CRC_LANES, length).T.copy()  # row p = byte p of each chunk
    lanes = np.zeros(_CRC_LANES, dtype=np.uint32)
    basis = np.concatenate([np.arange(256, dtype=np.uint32) << np.uint32(8 * j) for j in range(4)])
    table = _CRC_TABLE
    for row in body:
        lanes = table[(lanes ^ row) & 0xFF] ^ (lanes >> 8)
        basis = table[basis & 0xFF] ^ (basis >> 8)
    t0, t1, t2, t3 = (part.tolist() for part in basis.reshape(4, 256))
    for chunk in lanes.tolist():
        register = (t0[register & 0xFF] ^ t1[(register >> 8) & 0xFF] ^ t2[(register >> 16) & 0xFF]
                    ^ t3[register >> 24] ^ chunk)
    register = _crc_register(register, buffer[length * _CRC_LANES:].tobytes())
    return register ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB/TensorFlow's stored form of a CRC (rotate right 15, add a constant)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of :func:`mask_crc`."""
    rotated = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


# ------------------------------------------------------------ protobuf wire format


class _Malformed(Exception):
    """Internal: bytes that do not decode; turned into an RwganError naming the file."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varint and fixed fields,
    bytes for length-delimited ones."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise _Malformed("truncated fixed64")
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _Malformed("truncated field")
            value, pos = bytes(buf[pos:pos + size]), pos + size
        elif wire == 5:
            if pos + 4 > len(buf):
                raise _Malformed("truncated fixed32")
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        yield number, value


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of the index (a decoded ``BundleEntryProto``).

    ``dtype`` is the TF name (``float32``, ...; ``string`` etc. for types this reader
    lists but cannot decode), ``shape`` a tuple of ints (``()`` for a scalar), ``crc32c``
    the unmasked CRC-32C of its bytes, ``sliced`` whether it is a partitioned variable.
    """

    name: str
    dtype: str
    dtype_enum: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int
    sliced: bool


def _parse_entry(name: str, buf: bytes) -> TensorEntry:
    dtype_enum, shape, shard_id, offset, size, crc, sliced = 0, (), 0, 0, 0, 0, False
    for number, value in _fields(buf):
        if number == 1:
            dtype_enum = value
        elif number == 2:
            dims = []
            for field, dim in _fields(value):
                if field == 2:
                    dims.append(_int64(next((v for f, v in _fields(dim) if f == 1), 0)))
                elif field == 3 and dim:
                    raise _Malformed(f"tensor {name} has an unknown rank")
            shape = tuple(dims)
        elif number == 3:
            shard_id = value
        elif number == 4:
            offset = _int64(value)
        elif number == 5:
            size = _int64(value)
        elif number == 6:
            crc = unmask_crc(value)
        elif number == 7:
            sliced = True
    if dtype_enum in DTYPES:
        dtype = DTYPES[dtype_enum][0]
    else:
        dtype = OTHER_DTYPES.get(dtype_enum, f"DataType {dtype_enum}")
    if any(d < 0 for d in shape) or offset < 0 or size < 0:
        raise _Malformed(f"tensor {name} has a negative size, offset or dimension")
    return TensorEntry(name, dtype, dtype_enum, shape, shard_id, offset, size, crc, sliced)


# -------------------------------------------------------------------- the table


def _block(data: bytes, offset: int, size: int, where: Path) -> bytes:
    end = offset + size
    if offset < 0 or end + BLOCK_TRAILER_SIZE > len(data):
        raise RwganError(f"{where}: truncated or corrupt checkpoint index (a block at {offset}+{size} lies past "
                         f"the end of the {len(data)}-byte file)")
    contents, kind = data[offset:end], data[end]
    stored = int.from_bytes(data[end + 1:end + 5], "little")
    if unmask_crc(stored) != crc32c(data[offset:end + 1]):
        raise RwganError(f"{where}: corrupt checkpoint index (checksum mismatch in the block at byte {offset})")
    if kind != 0:
        raise RwganError(f"{where}: compressed index blocks (compression type {kind}) are not supported; "
                         "TensorFlow writes checkpoint indexes uncompressed")
    return contents


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise _Malformed("block too short")
    restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise _Malformed("bad restart count")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_size, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_size > limit:
            raise _Malformed("bad block entry")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_size]
        pos += value_size


def _handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def read_table(path: str | os.PathLike) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a LevelDB-format table file, in key order (checksums checked)."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < FOOTER_SIZE or int.from_bytes(data[-8:], "little") != TABLE_MAGIC:
        raise RwganError(f"{path}: not a TensorFlow checkpoint index (no table magic number at its end; expected "
                         "the .index file of a checkpoint written by tf.train.Saver)")
    try:
        footer = data[-FOOTER_SIZE:]
        _, _, pos = _handle(footer)  # the meta-index: empty in checkpoints (no filter)
        index_offset, index_size, _ = _handle(footer, pos)
        entries = []
        for _, handle in _block_entries(_block(data, index_offset, index_size, path)):
            offset, size, _ = _handle(handle)
            entries.extend(_block_entries(_block(data, offset, size, path)))
    except _Malformed as exc:
        raise RwganError(f"{path}: corrupt checkpoint index ({exc})") from None
    return entries


# -------------------------------------------------------------- the checkpoint


def resolve_prefix(path: str | os.PathLike) -> Path:
    """The checkpoint prefix ``P`` (``P.index`` exists) for what a user may pass: the
    prefix itself, ``P.index``, ``P.meta``, one ``P.data-*`` shard, or the folder that
    holds exactly one ``*.index`` (or a TF ``checkpoint`` file naming one)."""
    path = Path(path)
    if path.is_dir():
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix("")
        state = path / "checkpoint"
        if state.is_file():
            match = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(errors="replace"), re.M)
            if match:
                named = Path(match.group(1))
                return named if named.is_absolute() else path / named
        found = ", ".join(p.name for p in indexes[:4]) or "none"
        raise RwganError(f"{path}: expected a folder with exactly one TensorFlow checkpoint (*.index), found {found}; "
                         "pass the checkpoint prefix, e.g. places2.ckpt-6666")
    name = path.name
    if name.endswith(".index") or name.endswith(".meta"):
        prefix = path.with_name(name.rsplit(".", 1)[0])
    elif _DATA_SUFFIX.search(name):
        prefix = path.with_name(_DATA_SUFFIX.sub("", name))
    else:
        prefix = path
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file():
        raise RwganError(f"{path}: no TensorFlow checkpoint found (expected {index} and its "
                         f"{prefix.name}.data-00000-of-NNNNN shards)")
    return prefix


class TFCheckpoint:
    """An open TF V2 checkpoint: its index is read at construction, tensors on demand.

    ``TFCheckpoint(path)`` accepts what :func:`resolve_prefix` does.  Attributes:
    ``prefix``, ``index_path``, ``num_shards``, ``data_paths`` (one per shard, all
    checked to exist) and ``entries`` (tensor name -> :class:`TensorEntry`, sorted by
    name).  ``shapes`` maps names to shapes.
    """

    def __init__(self, path: str | os.PathLike):
        self.prefix = resolve_prefix(path)
        self.index_path = self.prefix.with_name(self.prefix.name + ".index")
        header, entries = None, {}
        try:
            for key, value in read_table(self.index_path):
                if key == b"":
                    header = dict(_fields(value))
                else:
                    name = key.decode("utf-8")
                    entries[name] = _parse_entry(name, value)
        except (_Malformed, UnicodeDecodeError) as exc:
            raise RwganError(f"{self.index_path}: corrupt checkpoint index ({exc})") from None
        if header is None:
            raise RwganError(f"{self.index_path}: not a TensorFlow checkpoint index (no bundle header entry)")
        if header.get(2, 0) != 0:
            raise RwganError(f"{self.index_path}: big-endian checkpoints are not supported")
        self.num_shards = int(header.get(1, 0))
        if self.num_shards < 1:
            raise RwganError(f"{self.index_path}: corrupt checkpoint index (header says {self.num_shards} shards)")
        self.entries: dict[str, TensorEntry] = dict(sorted(entries.items()))
        self.data_paths = [self.prefix.with_name(f"{self.prefix.name}.data-{i:05d}-of-{self.num_shards:05d}")
                           for i in range(self.num_shards)]
        for shard in self.data_paths:
            if not shard.is_file():
                raise RwganError(f"{shard}: data shard not found (the checkpoint has {self.num_shards} shard(s): put "
                                 f"every {self.prefix.name}.data-*-of-{self.num_shards:05d} file beside the index)")
        for entry in self.entries.values():
            if not entry.sliced and not 0 <= entry.shard_id < self.num_shards:
                raise RwganError(f"{self.index_path}: corrupt checkpoint index (tensor {entry.name} is in shard "
                                 f"{entry.shard_id} of {self.num_shards})")

    @property
    def files(self) -> list[Path]:
        """The index and every data shard."""
        return [self.index_path, *self.data_paths]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: entry.shape for name, entry in self.entries.items()}

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def read(self, name: str, verify: bool = True) -> np.ndarray:
        """The tensor ``name`` as a NumPy array of its shape (a fresh, writable copy).

        ``verify`` checks the bytes' CRC-32C against the index.  bfloat16 tensors are
        returned as float32.  Raises :class:`RwganError` for an unknown name, a dtype
        this reader cannot decode (strings, quantized, resources), a partitioned
        variable, a size that disagrees with the shape, a truncated shard or a checksum
        mismatch.
        """
        entry = self.entries.get(name)
        if entry is None:
            raise RwganError(f"{self.index_path}: no tensor named {name!r}")
        if entry.sliced:
            raise RwganError(f"{self.index_path}: tensor {name} is a partitioned variable (slices are not supported)")
        if entry.dtype_enum not in DTYPES:
            raise RwganError(f"{self.index_path}: tensor {name} has dtype {entry.dtype}, "
                             "which this reader cannot decode")
        dtype = DTYPES[entry.dtype_enum][1]
        count = int(np.prod(entry.shape, dtype=np.int64))
        if count * dtype.itemsize != entry.size:
            raise RwganError(f"{self.index_path}: corrupt checkpoint index (tensor {name} of shape {entry.shape} "
                             f"{entry.dtype} says {entry.size} bytes)")
        shard = self.data_paths[entry.shard_id]
        with open(shard, "rb") as handle:
            handle.seek(entry.offset)
            raw = handle.read(entry.size)
        if len(raw) != entry.size:
            raise RwganError(f"{shard}: truncated data shard (tensor {name} needs bytes {entry.offset}.."
                             f"{entry.offset + entry.size}, the file has {shard.stat().st_size})")
        if verify and crc32c(raw) != entry.crc32c:
            raise RwganError(f"{shard}: corrupt data shard (tensor {name} fails its crc32c check)")
        array = np.frombuffer(raw, dtype=dtype).reshape(entry.shape)
        if entry.dtype == "bfloat16":
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array.astype(dtype.newbyteorder("="), copy=True)
