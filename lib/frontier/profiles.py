"""Run profiles: one notebook, three sizes.

Every lesson runs in one of three profiles (notebook 00 explains them):

- ``smoke``: CI. Seconds per notebook, tiny sizes, offline.
- ``quick`` (the default): offline on a 2-core laptop, minutes per notebook, on embedded data.
- ``full``: the paper's setup, with real datasets and pretrained weights (downloads).

A lesson module registers its own sizes next to its code::

    # lib/frontier/quantum/lesson.py
    SIZES = register("quantum",
                     smoke=dict(qubits=4, runs=2),
                     quick=dict(qubits=6, runs=20),
                     full=dict(qubits=10, runs=100))

and a notebook asks for them through :func:`frontier.profile`::

    P = frontier.profile(PROFILE, "quantum")   # Sizes for one lesson
    P.qubits, P["runs"], P.name               # -> 6, 20, "quick"
    frontier.profile(PROFILE).quantum          # the same, via the whole profile
"""

from __future__ import annotations

import ast
import functools
import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

PROFILES: tuple[str, ...] = ("smoke", "quick", "full")
DEFAULT_PROFILE = "quick"

_REGISTRY: dict[str, dict[str, dict[str, Any]]] = {}


class Sizes(Mapping[str, Any]):
    """A lesson's read-only sizes for one profile; keys are also attributes."""

    def __init__(self, lesson: str, name: str, values: Mapping[str, Any]):
        self._lesson = lesson
        self._name = name
        self._values = dict(values)

    @property
    def name(self) -> str:
        """The profile's name: ``smoke``, ``quick`` or ``full``."""
        return self._name

    @property
    def lesson(self) -> str:
        return self._lesson

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(
                f"lesson {self._lesson!r} has no size {key!r} in profile {self._name!r}; "
                f"it has: {', '.join(sorted(self._values))}"
            ) from None

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError as err:
            raise AttributeError(str(err)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def replace(self, **changes: Any) -> Sizes:
        """A copy with some sizes changed (for a learner's experiment), unknown keys refused."""
        unknown = set(changes) - set(self._values)
        if unknown:
            raise KeyError(
                f"lesson {self._lesson!r} has no size(s) {sorted(unknown)}; "
                f"it has: {', '.join(sorted(self._values))}"
            )
        return Sizes(self._lesson, self._name, {**self._values, **changes})

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Sizes[{self._lesson}/{self._name}]({body})"


class Profile:
    """All registered lessons' sizes for one profile: ``profile("quick").bit.steps``."""

    def __init__(self, name: str):
        self.name = check_name(name)

    def lesson(self, lesson: str) -> Sizes:
        if lesson not in _REGISTRY:
            # Lessons register on import: import the module that registers this name on first
            # use (one module may register several names: galaxy registers galaxy_al too).
            module = registering_modules().get(lesson, f"frontier.{lesson}")
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as err:
                if err.name != module:
                    raise
        if lesson not in _REGISTRY:
            known = sorted(set(_REGISTRY) | set(registering_modules()))
            raise KeyError(
                f"no lesson {lesson!r} has registered sizes; known: "
                f"{', '.join(known) or '(none)'}"
            )
        return Sizes(lesson, self.name, _REGISTRY[lesson][self.name])

    def __getattr__(self, lesson: str) -> Sizes:
        if lesson.startswith("_"):
            raise AttributeError(lesson)
        try:
            return self.lesson(lesson)
        except KeyError as err:
            raise AttributeError(str(err)) from None

    def __repr__(self) -> str:
        return f"Profile({self.name!r})"


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid profile, else raise ValueError listing the valid ones."""
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: use one of {', '.join(PROFILES)} "
            f"(smoke = CI-sized, quick = offline default, full = the paper's setup)"
        )
    return name


def register(lesson: str, *, smoke: Mapping[str, Any], quick: Mapping[str, Any],
             full: Mapping[str, Any]) -> dict[str, Sizes]:
    """Register a lesson's sizes for the three profiles; returns them by profile name.

    The three profiles must define the same keys, so a notebook never meets a size that
    exists in one profile and not in another.
    """
    given = {"smoke": dict(smoke), "quick": dict(quick), "full": dict(full)}
    keys = set(given["quick"])
    for name, values in given.items():
        if set(values) != keys:
            raise ValueError(
                f"lesson {lesson!r}: profile {name!r} has keys {sorted(values)}, "
                f"but quick has {sorted(keys)}; give every profile the same keys"
            )
    _REGISTRY[lesson] = given
    return {name: Sizes(lesson, name, values) for name, values in given.items()}


def registered() -> list[str]:
    """Names of the lessons that have registered sizes so far."""
    return sorted(_REGISTRY)


@functools.cache
def registering_modules() -> dict[str, str]:
    """``{lesson name: module}`` for every ``register("name", ...)`` call in the package.

    Read from the sources, not by importing them, so a name resolves from a fresh interpreter
    without importing TensorFlow for every workload.
    """
    package = Path(__file__).resolve().parent
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "register(" not in text:
            continue
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if (isinstance(node, ast.Call) and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str) and _is_register(node.func)):
                found.setdefault(node.args[0].value, module)
    return found


def _is_register(func: ast.expr) -> bool:
    """``register(...)`` or ``profiles.register(...)``, not another object's ``register``."""
    if isinstance(func, ast.Name):
        return func.id == "register"
    return (isinstance(func, ast.Attribute) and func.attr == "register"
            and isinstance(func.value, ast.Name) and func.value.id == "profiles")


def profile(name: str = DEFAULT_PROFILE, lesson: str | None = None) -> Profile | Sizes:
    """The sizes for profile ``name``; with ``lesson``, that lesson's :class:`Sizes`.

    Raises ValueError for an unknown profile name, listing the valid ones.
    """
    p = Profile(name)
    return p if lesson is None else p.lesson(lesson)
