"""docs/api.md states the real signatures: every heading names a callable that exists, with its
parameters in order."""
import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^### `([\w.]+)\((.*)\)`$")


def _documented():
    for line in (ROOT / "docs" / "api.md").read_text().splitlines():
        m = HEADING.match(line)
        if m:
            yield m.group(1), [p.strip() for p in m.group(2).split(",") if p.strip()]


def _actual(obj) -> list[str]:
    out, star = [], False
    for p in inspect.signature(obj).parameters.values():
        if p.kind == p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        out.append({p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name)
    return out


def test_api_reference_matches_the_code():
    documented = list(_documented())
    assert len(documented) >= 20
    for qualname, params in documented:
        module, _, attr = qualname.rpartition(".")
        obj = getattr(importlib.import_module(module), attr)
        assert params == _actual(obj), f"docs/api.md: {qualname}({', '.join(params)}) != {_actual(obj)}"


def test_the_public_surface_is_documented():
    import scoredeblur

    names = {q for q, _ in _documented()}
    for name in scoredeblur.__all__:
        if callable(getattr(scoredeblur, name)) and not isinstance(getattr(scoredeblur, name), type):
            assert f"scoredeblur.{name}" in names, f"scoredeblur.{name} is public but not in docs/api.md"
