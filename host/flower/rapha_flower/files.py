"""A folder's files as a Flower ConfigRecord of bytes, and back: how adapters travel."""

import shutil
from pathlib import Path

from flwr.app import ConfigRecord

PREFIX = "file:"


def pack(folder: Path, record: dict) -> None:
    """Add every regular file directly in `folder` to `record`, keyed `file:NAME`."""
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            record[PREFIX + path.name] = path.read_bytes()


def unpack(record: ConfigRecord, folder: Path) -> list[str]:
    """Write the `file:NAME` entries of `record` into `folder`, made afresh (what an
    interrupted attempt of the same round left there is replaced)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    names = []
    for key, value in record.items():
        if key.startswith(PREFIX):
            name = key[len(PREFIX):]
            if "/" in name or name in ("", ".", ".."):
                raise ValueError(f"refusing the file name {name!r}")
            (folder / name).write_bytes(value)
            names.append(name)
    return names
