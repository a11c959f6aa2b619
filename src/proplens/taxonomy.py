"""The device taxonomy: names, definitions, examples, colours and aliases, from an editable file.

The taxonomy lives in ``datasets/taxonomy.toml`` (not in code) so that a newsroom can add a device
by editing a file or running ``proplens labels add``. Other releases of the PTC corpus use 18
technique names; :meth:`Taxonomy.canonical` maps them onto the 14 SemEval-2020 classes.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tomli_w
from filelock import FileLock

from proplens import config
from proplens._atomic import write_text_atomic
from proplens.errors import DataError

__all__ = ["Device", "Taxonomy", "load_taxonomy", "taxonomy_lock"]

_DEFAULT_COLOUR = "#808080"


@dataclass(frozen=True)
class Device:
    """One rhetorical device."""

    name: str
    definition: str
    example: str
    origin: str = "proplens"
    colour: str = _DEFAULT_COLOUR
    aliases: tuple[str, ...] = field(default_factory=tuple)
    requires: str | None = None  # regex a sentence must match for the device to be possible
    features: str | None = None  # a feature block added to this device's model only

    def to_dict(self) -> dict:
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        for optional in ("requires", "features"):
            if data[optional] is None:
                del data[optional]
        return data


@dataclass(frozen=True)
class Taxonomy:
    """An ordered collection of devices plus the names other releases use for them."""

    devices: tuple[Device, ...]
    dropped: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [device.name for device in self.devices]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> Device:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)

    def canonical(self, name: str) -> str | None:
        """The taxonomy name for ``name`` (itself or an alias); None when the name is dropped.

        Raises :class:`DataError` for a name the taxonomy does not know, so a typo in a label file
        is never silently ignored.
        """
        if name in self.dropped:
            return None
        for device in self.devices:
            if name == device.name or name in device.aliases:
                return device.name
        raise DataError(f"unknown device {name!r}; known devices: {', '.join(self.names)}")

    @property
    def gates(self) -> dict[str, str]:
        """``{device: regex}`` for devices that can only occur where ``regex`` matches."""
        return {d.name: d.requires for d in self.devices if d.requires}

    @property
    def feature_blocks(self) -> dict[str, str]:
        """``{device: block name}`` for devices whose model adds a feature block of its own
        (``proplens.features.DEVICE_FEATURE_BLOCKS``)."""
        return {d.name: d.features for d in self.devices if d.features}

    def with_device(self, device: Device) -> Taxonomy:
        """A new taxonomy with ``device`` appended (names must stay unique)."""
        if device.name in self.names:
            raise DataError(f"device {device.name!r} already exists in the taxonomy")
        return Taxonomy(devices=(*self.devices, device), dropped=self.dropped)

    def to_toml(self) -> str:
        return tomli_w.dumps(
            {"dropped": list(self.dropped), "device": [d.to_dict() for d in self.devices]}
        )

    def save(self, path: Path | str | None = None) -> Path:
        """Write the taxonomy atomically (a temporary sibling renamed over the file; the file's
        permissions are kept). A read-modify-write holds :func:`taxonomy_lock` around both."""
        target = Path(path) if path is not None else config.taxonomy_path()
        try:
            write_text_atomic(target, self.to_toml())
        except OSError as error:
            raise DataError(f"{target}: cannot write ({error.strerror or error})") from None
        return target


@contextlib.contextmanager
def taxonomy_lock(path: Path | str | None = None) -> Iterator[Path]:
    """Hold an exclusive lock on the taxonomy file for a read-modify-write (``labels add``), so
    that two processes adding devices at once cannot lose one of them; yields the file's path.

    The lock is a ``filelock.FileLock`` on a hidden ``.<name>.lock`` file next to the taxonomy
    (the taxonomy itself is replaced by each save, so it cannot carry the lock).
    """
    target = Path(path) if path is not None else config.taxonomy_path()
    if not target.is_file():
        raise DataError(f"taxonomy file not found: {target}")
    lock = FileLock(target.with_name(f".{target.name}.lock"))
    try:
        lock.acquire()
    except OSError as error:
        raise DataError(
            f"{target}: cannot lock the file for writing ({error.strerror or error})"
        ) from None
    try:
        yield target
    finally:
        lock.release()


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read the taxonomy file; a malformed file raises :class:`DataError` naming the problem."""
    source = Path(path) if path is not None else config.taxonomy_path()
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"taxonomy file not found: {source}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{source}: not valid TOML ({exc})") from None
    devices = []
    for position, entry in enumerate(raw.get("device", []), start=1):
        missing = [key for key in ("name", "definition", "example") if not entry.get(key)]
        if missing:
            raise DataError(f"{source}: device #{position} lacks {', '.join(missing)}")
        devices.append(
            Device(
                name=entry["name"],
                definition=entry["definition"],
                example=entry["example"],
                origin=entry.get("origin", "proplens"),
                colour=entry.get("colour", _DEFAULT_COLOUR),
                aliases=tuple(entry.get("aliases", ())),
                requires=entry.get("requires"),
                features=entry.get("features"),
            )
        )
    names = [device.name for device in devices]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{source}: duplicate device names: {', '.join(duplicates)}")
    if not devices:
        raise DataError(f"{source}: no [[device]] entries")
    from proplens.features import DEVICE_FEATURE_BLOCKS

    for device in devices:
        if device.features is not None and device.features not in DEVICE_FEATURE_BLOCKS:
            known = ", ".join(sorted(DEVICE_FEATURE_BLOCKS))
            raise DataError(
                f"{source}: device {device.name!r} names unknown feature block "
                f"{device.features!r} (known: {known})"
            )
    return Taxonomy(devices=tuple(devices), dropped=tuple(raw.get("dropped", ())))
