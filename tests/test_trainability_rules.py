"""The rule table of `lamina.trainability` covers docs/design.md section 2 and names real code."""
import importlib
import re

import pytest

from lamina import trainability

RULES = range(1, 11)  # docs/design.md section 2, rules 1-10


def _table():
    """rule number -> the names (relative to `lamina`) its rows point to with `->`."""
    table, rule = {}, None
    for line in trainability.__doc__.splitlines():
        row = re.match(r"\|\s*(\d*)\s*\|(.*)\|\s*$", line)
        if row is None:
            continue
        if row.group(1):
            rule = int(row.group(1))
            table.setdefault(rule, [])
        table[rule] += re.findall(r"->\s*`([\w.]+)`", row.group(2))
    return table


def _resolve(dotted):
    """The object `lamina.<dotted>` names: the longest importable module, then attributes."""
    parts = f"lamina.{dotted}".split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                raise AssertionError(f"the rule table names `{dotted}`, but "
                                     f"{'.'.join(parts[:cut])} has no attribute path "
                                     f"{'.'.join(parts[cut:])!r}")
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"the rule table names `{dotted}`, which is not importable")


def test_table_lists_every_rule_with_where_it_lives():
    table = _table()
    assert sorted(table) == list(RULES), (
        f"expected rules {list(RULES)} in lamina.trainability's table, found {sorted(table)}")
    empty = [rule for rule, names in table.items() if not names]
    assert not empty, f"rules without a `-> module.function` row: {empty}"


@pytest.mark.parametrize("dotted", sorted({n for names in _table().values() for n in names}))
def test_every_name_in_the_table_exists(dotted):
    assert _resolve(dotted) is not None
