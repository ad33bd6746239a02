"""Import only the ccxt exchanges that are used, not all ~110 of them in three variants.

`import ccxt` (and `ccxt.async_support`, `ccxt.pro`) runs a package `__init__` that imports
every exchange class: about 0.6 s and 100 MB for a process that talks to four venues. `install`
puts light packages in their place before anything imports ccxt: `ccxt.RateLimitExceeded`,
`ccxt.async_support.okx` or `from ccxt import BaseError` resolve on first use, importing just
that module (an error class, one exchange and its base). Everything else behaves as ccxt's own
package does: an exchange module's name is bound to its class, as ccxt's `__init__` binds it,
and any other name (`ccxt.exchanges`, …) loads the real package `__init__` first.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

PACKAGES = ("ccxt", "ccxt.async_support", "ccxt.pro")
# names ccxt's own modules import from the packages, besides the error classes
_Names = dict[str, tuple[str, str | None]]
_ROOT_NAMES: _Names = {
    "Exchange": ("ccxt.base.exchange", "Exchange"),
    "Precise": ("ccxt.base.precise", "Precise"),
    "errors": ("ccxt.base.errors", None),
}
_ASYNC_NAMES: _Names = {"Exchange": ("ccxt.async_support.base.exchange", "Exchange")}
_PRO_NAMES: _Names = {"Exchange": ("ccxt.async_support.base.exchange", "Exchange")}


class _LazyPackage(types.ModuleType):
    """A ccxt package whose exchange modules are imported on first use."""

    def __setattr__(self, name: str, value: Any) -> None:
        # importing `ccxt.async_support.okx` binds the module here; ccxt's `__init__` binds
        # the class of the same name instead, and ccxt's own code relies on that
        if isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}":
            cls = value.__dict__.get(name)
            if isinstance(cls, type):
                value = cls
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        known = _names(self.__name__).get(name)
        if known is not None:
            module = importlib.import_module(known[0])
            return module if known[1] is None else getattr(module, known[1])
        errors = importlib.import_module("ccxt.base.errors")
        if name in getattr(errors, "__all__", ()) or isinstance(errors.__dict__.get(name), type):
            return getattr(errors, name)
        folder = Path(self.__path__[0])
        if (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file():
            importlib.import_module(f"{self.__name__}.{name}")
            return self.__dict__[name]
        return self._load_everything(name)

    def _load_everything(self, name: str) -> Any:
        """Run the real package `__init__` (every exchange) for a name only it defines."""
        if not self.__dict__.get("_everything_loaded"):
            super().__setattr__("_everything_loaded", True)
            init = Path(self.__path__[0]) / "__init__.py"
            spec = importlib.util.spec_from_file_location(self.__name__, init)
            if spec is not None and spec.loader is not None:
                spec.loader.exec_module(self)
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


def _names(package: str) -> _Names:
    return {"ccxt": _ROOT_NAMES, "ccxt.async_support": _ASYNC_NAMES}.get(package, _PRO_NAMES)


def install() -> bool:
    """Put the light packages in place; False when ccxt was already imported (or absent)."""
    if any(name in sys.modules for name in PACKAGES):
        return False
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.submodule_search_locations:
        return False
    root = Path(next(iter(spec.submodule_search_locations)))
    version = _version(root / "__init__.py")
    for name, folder in zip(PACKAGES, (root, root / "async_support", root / "pro"), strict=True):
        module = _LazyPackage(name)
        pkg_spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        pkg_spec.submodule_search_locations = [str(folder)]
        module.__spec__ = pkg_spec
        module.__path__ = [str(folder)]
        module.__file__ = str(folder / "__init__.py")
        module.__package__ = name
        module.__version__ = version
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    return True


def _version(init: Path) -> str:
    try:
        match = re.search(r"^__version__ = '([^']+)'", init.read_text(encoding="utf-8"), re.M)
    except OSError:
        return ""
    return match.group(1) if match else ""
