"""proplens: find propaganda and framing devices in news text."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("proplens")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
