"""The schema machinery every keras-nn configuration is checked with: the recipe, each task's `task_options`,
the augmentation mapping.

A schema is a dict of key -> `Field` (a value) or key -> dict (a nested section). `validate_section` checks a
raw mapping against it and returns it with every default filled in; an unknown key or a bad value raises
`ConfigError` naming the full key, the value and what is allowed, with a "did you mean" for near misses.

Example:
    >>> schema = {"epochs": Field((int,), 10, minimum=1), "optimizer": {"name": Field((str,), "adam")}}
    >>> validate_section({"epochs": 3}, schema)
    {'epochs': 3, 'optimizer': {'name': 'adam'}}
"""

import contextlib
import copy
import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from keras_nn.errors import ConfigError

#: `Field.types` value that accepts anything (the owner checks it).
ANY = object()
#: Schema key of an open section: it takes keys of its own besides the listed ones, unchecked.
OPEN = "*"


@dataclasses.dataclass(frozen=True)
class Field:
    """One configuration key.

    Args:
        types: the accepted Python types (`(int,)`, `(float,)`, `(list,)`, ...), or `ANY`. A float field takes
            an int, and the YAML 1.1 strings such as `1e-3` that are plainly numbers; an int field takes a
            whole float.
        default: the value when the key is absent. `None` makes the key optional (None stays None).
        choices: the allowed values.
        items: for a list field, the allowed values of its items.
        item_types: for a list field, the accepted types of its items.
        minimum: the smallest allowed number.
        maximum: the largest allowed number (`exclusive_maximum=True`: the bound itself is excluded).
        nullable: `null` is a value of its own (it means "none", e.g. no standardization), whatever the default.
        none_is_default: an explicit `null` means the default instead of "empty".
        check: an extra `check(key, value) -> value` for what the fields above cannot say; it raises
            `ConfigError` itself.
        help: what the key means, shown in messages and `keras-nn` help.
    """

    types: Any
    default: Any = None
    choices: tuple | None = None
    items: tuple | None = None
    item_types: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: bool = False
    nullable: bool = False
    none_is_default: bool = False
    check: Callable | None = None
    help: str = ""

    def _range_text(self):
        if self.minimum is not None and self.maximum is not None:
            close = ")" if self.exclusive_maximum else "]"
            return f"a number in [{self.minimum:g}, {self.maximum:g}{close}"
        if self.minimum is not None:
            return f">= {self.minimum:g}"
        return f"<= {self.maximum:g}"

    def _coerce(self, value):
        if self.types is ANY:
            return value
        if float in self.types and isinstance(value, str):
            # YAML 1.1 reads 1e-3 (no dot) as a string; take it as the number it plainly is.
            with contextlib.suppress(ValueError):
                value = float(value)
        if float in self.types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if int in self.types and float not in self.types and isinstance(value, float) and value.is_integer():
            value = int(value)
        return value

    def validate(self, key, value):
        """Checks `value` for the full key name `key`; returns it (coerced where a number was meant)."""
        if value is None:
            if self.default is None or self.nullable:
                return None
            if self.none_is_default:
                return copy.deepcopy(self.default)
            raise ConfigError(f"recipe key {key!r} must not be empty (default {self.default!r})")
        value = self._coerce(value)
        if self.types is not ANY and (
            not isinstance(value, self.types) or (isinstance(value, bool) and bool not in self.types)
        ):
            names = " or ".join(t.__name__ for t in self.types)
            hint = f": {self.help}" if self.help else ""
            raise ConfigError(f"recipe key {key!r} = {value!r} must be {names}{hint}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(
                f"recipe key {key!r} = {value!r} is not allowed; choose one of: "
                f"{', '.join(str(c) for c in self.choices)}"
            )
        if isinstance(value, list):
            for item in value:
                if self.item_types is not None and (
                    not isinstance(item, self.item_types) or isinstance(item, bool) and bool not in self.item_types
                ):
                    names = " or ".join(t.__name__ for t in self.item_types)
                    raise ConfigError(f"recipe key {key!r} = {value!r} must be a list of {names}")
                if self.items is not None and item not in self.items:
                    raise ConfigError(f"recipe key {key!r} has {item!r}; allowed values: {', '.join(self.items)}")
        out_of_range = (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and (value >= self.maximum if self.exclusive_maximum else value > self.maximum))
        )
        if out_of_range:
            hint = f": {self.help}" if self.help else ""
            raise ConfigError(f"recipe key {key!r} = {value!r} must be {self._range_text()}{hint}")
        if self.check is not None:
            value = self.check(key, value)
        return value


def defaults(schema):
    """The full mapping of a schema with every default filled in."""
    return {
        key: defaults(value) if isinstance(value, dict) else copy.deepcopy(value.default)
        for key, value in schema.items()
        if key != OPEN
    }


def unknown_key_error(path, key, schema):
    """The `ConfigError` for `key`, not in `schema`, under section `path` (with a "did you mean")."""
    where = f"under {path!r}" if path else "at the top level"
    names = [name for name in schema if name != OPEN]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(
        f"unknown recipe key {'.'.join(filter(None, [path, key]))!r}{hint}; allowed keys {where}: {', '.join(names)}"
    )


def validate_section(raw, schema, path=""):
    """Checks a raw mapping against `schema`; returns it with every default filled in.

    Args:
        raw: the mapping as read (None or `false` means "all defaults" for a nested section).
        schema: key -> `Field` or nested schema dict (`OPEN` lets the section take unchecked keys of its own).
        path: the section's full key, for messages (`"task_options.augment"`).

    Raises:
        ConfigError: an unknown key (with the allowed ones) or a bad value (with what is allowed).
    """
    if raw is None or raw is False:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"recipe section {path or 'root'!r} must be a mapping of: {', '.join(k for k in schema if k != OPEN)}; "
            f"got {raw!r}"
        )
    for key in raw:
        if key not in schema and OPEN not in schema:
            raise unknown_key_error(path, key, schema)
    resolved = {key: copy.deepcopy(value) for key, value in raw.items() if key not in schema}
    for key, field in schema.items():
        if key == OPEN:
            continue
        full = f"{path}.{key}" if path else key
        if isinstance(field, dict):
            resolved[key] = validate_section(raw.get(key), field, full)
        else:
            resolved[key] = field.validate(full, copy.deepcopy(raw.get(key, field.default)))
    return resolved
