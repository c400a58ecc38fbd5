"""Loads the strategy file the runner is given (from any folder) and finds its strategy: a
``create_strategy()`` function returning a Strategy, or else the one Strategy subclass the file defines.
The file's folder is put on ``sys.path`` first, so a strategy can import its neighbours."""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from pathlib import Path

from .strategy import Strategy


class UsageError(Exception):
    """Bad invocation or input the user can fix (exit 2); ``hint`` is printed under the message."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def load_strategy(file: str) -> Strategy:
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise UsageError(f"strategy file {file} does not exist")
    if path.suffix != ".py":
        raise UsageError(f"cannot load strategy {file}: expected a .py file")
    name = "simutrador_strategy_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load strategy {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        # The user's own frames only: drop the import machinery above the strategy file.
        frames = traceback.extract_tb(err.__traceback__)
        own = [f for f in frames if f.filename == str(path)] or frames
        hint = "".join(traceback.format_list(own)) + "".join(traceback.format_exception_only(type(err), err))
        raise UsageError(f"cannot load strategy {file}: {type(err).__name__}: {err}", hint.rstrip()) from err
    factory = getattr(module, "create_strategy", None)
    if callable(factory):
        made = factory()
        if not isinstance(made, Strategy):
            raise UsageError(f"{file}: create_strategy() must return a simutrador.Strategy, got {type(made).__name__}")
        return made
    own_classes = [v for v in vars(module).values()
                   if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy and v.__module__ == name]
    if len(own_classes) == 1:
        return own_classes[0]()
    if not own_classes:
        raise UsageError(f"{file} must define a simutrador.Strategy subclass (or create_strategy() returning one)")
    names = ", ".join(c.__name__ for c in own_classes)
    raise UsageError(f"{file} defines several Strategy subclasses ({names}): add create_strategy() returning the one to run")
