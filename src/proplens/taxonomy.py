"""The device taxonomy: names, definitions, examples, colours and aliases, from an editable file.

The taxonomy lives in ``datasets/taxonomy.toml`` (not in code) so that a newsroom can add a device
by editing a file or running ``proplens labels add``. Other releases of the PTC corpus use 18
technique names; :meth:`Taxonomy.canonical` maps them onto the 14 SemEval-2020 classes.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tomli_w
from filelock import FileLock

from proplens import config
from proplens._atomic import write_text_atomic
from proplens.errors import DataError, ValidationError

__all__ = ["Device", "Taxonomy", "append_device", "load_taxonomy", "taxonomy_lock"]

_DEFAULT_COLOUR = "#808080"
# The spelling rule for a new device's name (`proplens labels add`) and its aliases, so that an
# alias can never hold a label-file separator (";", "|") or surrounding spaces.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_,-]*")


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
        """A new taxonomy with ``device`` appended.

        Its name and each alias must name it alone in a label file, so none may equal, ignoring
        case, a name, alias or dropped name of the taxonomy, the any-device label of the models
        (``propaganda``) or a word label files read as "no device" (``none``). Label files match
        names exactly, but ``reductio_ad_hitlerum`` beside the alias ``Reductio_ad_hitlerum``
        would split one technique's labels over two devices; raises :class:`ValidationError`.
        """
        if device.name in self.names:
            raise DataError(f"device {device.name!r} already exists in the taxonomy")
        # A bare string would be stored as one alias per letter.
        if not isinstance(device.aliases, tuple):
            raise ValidationError(
                f"device {device.name!r}: aliases must be a list of names, got {device.aliases!r}"
            )
        taken = self._spellings()
        for spelling in (device.name, *device.aliases):
            if not isinstance(spelling, str) or not _NAME.fullmatch(spelling):
                raise ValidationError(
                    f"device name or alias {spelling!r}: use letters, digits, '_', ',' and '-' "
                    "(e.g. Vague_Sourcing)"
                )
            if spelling.casefold() in taken:
                existing, owner = taken[spelling.casefold()]
                case = "" if existing == spelling else f" (as {existing!r}; case is ignored)"
                raise ValidationError(f"{spelling!r} is already {owner}{case}")
        return Taxonomy(devices=(*self.devices, device), dropped=self.dropped)

    def _spellings(self) -> dict[str, tuple[str, str]]:
        """``{casefolded spelling: (spelling, what it already is)}`` for every spelling a new
        device may not use: names, aliases, dropped names and the reserved words."""
        # Imported here: labeling imports this module, and model brings in scikit-learn, which
        # `import proplens` (it imports this module) should not pay for.
        from proplens.labeling import _NEGATIVE_WORDS
        from proplens.model import ANY_DEVICE

        taken = {ANY_DEVICE.casefold(): (ANY_DEVICE, "the any-device label of every model")}
        for word in _NEGATIVE_WORDS:
            taken[word.casefold()] = (word, 'the label-file word for "no device"')
        for name in self.dropped:
            taken[name.casefold()] = (name, "a dropped technique name")
        for other in self.devices:
            taken[other.name.casefold()] = (other.name, "a device name")
            for alias in other.aliases:
                taken[alias.casefold()] = (alias, f"an alias of {other.name}")
        return taken

    def to_toml(self) -> str:
        return tomli_w.dumps(
            {"dropped": list(self.dropped), "device": [d.to_dict() for d in self.devices]}
        )

    def save(self, path: Path | str | None = None) -> Path:
        """Write the taxonomy atomically (a temporary sibling renamed over the file; the file's
        permissions are kept). A read-modify-write holds :func:`taxonomy_lock` around both.

        The whole file is written anew, so the comments of a file edited by hand are lost; to
        add a device to such a file, use :func:`append_device`."""
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


# The key order of a table `append_device` writes: that of the devices in the shipped file.
_TABLE_KEYS = (
    "name", "origin", "definition", "example", "colour", "aliases", "features", "requires",
)  # fmt: skip


def append_device(device: Device, path: Path | str | None = None) -> Taxonomy:
    """Append ``device`` to the taxonomy file as a ``[[device]]`` table; returns the taxonomy
    the file then holds.

    Every byte already in the file stays as it is (comments written by hand, key order, line
    endings): the table is added as text at the end, its values escaped by ``tomli_w``. The new
    text is parsed and must read back as the old devices plus ``device`` before it replaces the
    file (atomically, as :meth:`Taxonomy.save` writes); otherwise nothing is written and a
    :class:`DataError` says why. Hold :func:`taxonomy_lock` around a read-check-append.
    """
    target = Path(path) if path is not None else config.taxonomy_path()
    try:
        # newline="": the text is written back as read, CRLF line endings included
        with open(target, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise DataError(f"taxonomy file not found: {target}") from None
    except UnicodeDecodeError:
        raise DataError(f"{target}: not UTF-8 text") from None
    except OSError as error:
        raise DataError(f"{target}: cannot read ({error.strerror or error})") from None
    expected = _taxonomy_from_text(text, target).with_device(device)
    newline = "\r\n" if "\r\n" in text else "\n"
    if text and not text.endswith("\n"):
        text += newline  # a last line without its newline would run into the table's header
    if text.strip() and not text.endswith(f"{newline}{newline}"):
        text += newline  # a blank line between devices, as in the shipped file
    updated = text + _device_table(device).replace("\n", newline)
    try:
        raw = tomllib.loads(updated)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(
            f"{target}: with {device.name!r} appended the file would not be valid TOML ({exc}); "
            "nothing was written, add the device by hand"
        ) from None
    appended = _taxonomy_from_toml(raw, target)
    if appended != expected:
        raise DataError(
            f"{target}: with {device.name!r} appended the file would not read back as its "
            "devices plus the new one (does it end inside a table that is not a [[device]]?); "
            "nothing was written, add the device by hand"
        )
    try:
        write_text_atomic(target, updated, newline="")
    except OSError as error:
        raise DataError(f"{target}: cannot write ({error.strerror or error})") from None
    return appended


def _device_table(device: Device) -> str:
    """``device`` as a ``[[device]]`` table, one ``key = value`` line per field.

    Each ``key = value`` line is rendered by ``tomli_w``, which escapes quotes, backslashes,
    newlines and control characters; given the whole table, it may write an inline array
    (``device = [{...}]``) instead, which cannot follow the file's ``[[device]]`` tables.
    """
    fields = device.to_dict()
    lines = "".join(tomli_w.dumps({key: fields[key]}) for key in _TABLE_KEYS if key in fields)
    return f"[[device]]\n{lines}"


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read the taxonomy file; a malformed file raises :class:`DataError` naming the problem."""
    source = Path(path) if path is not None else config.taxonomy_path()
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"taxonomy file not found: {source}") from None
    return _taxonomy_from_text(text, source)


def _taxonomy_from_text(text: str, source: Path) -> Taxonomy:
    """The taxonomy a file's text holds; :class:`DataError` naming ``source`` if malformed."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{source}: not valid TOML ({exc})") from None
    return _taxonomy_from_toml(raw, source)


def _taxonomy_from_toml(raw: dict, source: Path) -> Taxonomy:
    """The taxonomy of a parsed file; :class:`DataError` naming ``source`` if malformed."""
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
