"""The README's configuration table lists every GuardConfig option, with its environment
variable and its default as the code has them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from kinde_guard import GuardConfig
from kinde_guard.config import ENV_NAMES

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(\w+)` \| `(KINDE_\w+)` \| [^|]+ \| ([^|]+) \|", re.M)


def table() -> dict[str, tuple[str, str]]:
    return {name: (env, default.strip()) for name, env, default in ROW.findall(README.read_text())}


def test_every_option_is_in_the_table_with_its_environment_variable() -> None:
    rows = table()
    fields = [f for f in dataclasses.fields(GuardConfig) if f.init]
    missing = [f.name for f in fields if f.name not in rows]
    assert missing == []
    for f in fields:
        assert rows[f.name][0] == "KINDE_" + ENV_NAMES.get(f.name, f.name.upper()), f.name
    assert set(rows) <= {f.name for f in fields}, "the table lists options that do not exist"


def test_numeric_and_boolean_defaults_in_the_table_are_the_codes() -> None:
    rows = table()
    for f in dataclasses.fields(GuardConfig):
        if f.name not in rows or f.default is dataclasses.MISSING or isinstance(f.default, str):
            continue
        shown = rows[f.name][1].strip("`")
        if isinstance(f.default, bool):
            assert shown == str(f.default).lower(), f.name
        elif isinstance(f.default, (int, float)):
            assert float(shown) == float(f.default), f.name
