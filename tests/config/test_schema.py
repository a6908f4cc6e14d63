"""The schema machinery every configuration is checked with (`keras_nn.config.schema`)."""

import pytest

from keras_nn.config.schema import OPEN, Field, defaults, validate_section
from keras_nn.errors import ConfigError

SCHEMA = {
    "rate": Field((float,), 0.5, minimum=0.0, maximum=1.0, exclusive_maximum=True, help="a share"),
    "count": Field((int,), 3, minimum=1),
    "names": Field((list, str), ["a"], item_types=(str,)),
    "mode": Field((str,), "x", choices=("x", "y"), nullable=True),
    "strength": Field((float,), 0.0, none_is_default=True),
    "section": {"flag": Field((bool,), False)},
}


def test_defaults_and_coercion():
    assert defaults(SCHEMA) == {"rate": 0.5, "count": 3, "names": ["a"], "mode": "x", "strength": 0.0, "section": {"flag": False}}
    resolved = validate_section({"rate": 0, "count": 2.0}, SCHEMA)
    assert resolved["rate"] == 0.0 and isinstance(resolved["rate"], float)
    assert resolved["count"] == 2 and isinstance(resolved["count"], int)
    # An open section keeps keys of its own, unchecked, beside the listed ones.
    open_schema = {"name": Field((str,), "m"), OPEN: Field(object)}
    assert validate_section({"units": 8}, open_schema) == {"units": 8, "name": "m"}
    # YAML 1.1 reads 1e-3 as a string; a float field takes it as the number it is.
    assert validate_section({"rate": "1e-3"}, SCHEMA)["rate"] == pytest.approx(1e-3)
    # null: a value of its own where the field says so, the default where it says so, else an error.
    assert validate_section({"mode": None, "strength": None}, SCHEMA)["mode"] is None
    assert validate_section({"strength": None}, SCHEMA)["strength"] == 0.0
    with pytest.raises(ConfigError, match=r"'count' must not be empty \(default 3\)"):
        validate_section({"count": None}, SCHEMA)
    # A nested section given as false or null means its defaults.
    assert validate_section({"section": False}, SCHEMA)["section"] == {"flag": False}


def test_messages_name_the_full_key_and_what_is_allowed():
    cases = [
        ({"rate": 1.0}, r"'opts.rate' = 1.0 must be a number in \[0, 1\): a share"),
        ({"count": 0}, r"'opts.count' = 0 must be >= 1"),
        ({"count": True}, r"'opts.count' = True must be int"),
        ({"names": [1]}, r"'opts.names' = \[1\] must be a list of str"),
        ({"mode": "z"}, r"'opts.mode' = 'z' is not allowed; choose one of: x, y"),
        ({"cuont": 2}, r"unknown recipe key 'opts.cuont' \(did you mean 'count'\?\); allowed keys under 'opts': rate, count"),
        ({"section": {"flg": True}}, r"unknown recipe key 'opts.section.flg' \(did you mean 'flag'\?\)"),
        ({"section": 3}, r"recipe section 'opts.section' must be a mapping of: flag"),
    ]
    for raw, message in cases:
        with pytest.raises(ConfigError, match=message):
            validate_section(raw, SCHEMA, "opts")


def test_a_field_check_runs_after_the_type_checks():
    def even(key, value):
        if value % 2:
            raise ConfigError(f"{key} must be even")
        return value * 10

    schema = {"n": Field((int,), 2, check=even)}
    assert validate_section({"n": 4}, schema) == {"n": 40}
    with pytest.raises(ConfigError, match="n must be even"):
        validate_section({"n": 3}, schema)
