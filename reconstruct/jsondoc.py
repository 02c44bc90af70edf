"""One JSON reader for untrusted metadata: bounded in values, strict in grammar.

`json.loads` alone turns 64 MB of `[{},{},…]` into millions of objects (gigabytes), accepts
`NaN` and `Infinity` (not JSON), and fails on deep nesting with a RecursionError. Metadata
read here is refused before parsing when it could hold more values than any image's metadata
does, and every failure is one `JSONProblem` with a short reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Values a document may hold. Counted before parsing, outside strings, from the characters
# that can start one (`,` `:` `[`): an upper bound on what json.loads would build. Text inside
# strings costs its bytes, not objects, so a label holding megabytes of JSON (Buildpacks'
# metadata, an SBOM) counts as one value. The largest real metadata (a Windows config with
# hundreds of steps, a data root's repositories.json with thousands of tags) holds tens of
# thousands; a million parsed small objects stay near 100 MB.
MAX_VALUES = 1_000_000
# A JSON string, whole (possessive: one pass, no backtracking).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_STRING_BYTES = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)


class JSONProblem(ValueError):
    """The bytes are not a JSON document this tool will read; str() is the one-line reason."""


def _refuse_constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not a JSON value")


def value_bound(data: bytes | str) -> int:
    """An upper bound on the number of values `data` can hold as JSON."""
    if isinstance(data, str):
        skeleton = _STRING.sub('""', data)
        return skeleton.count(",") + skeleton.count(":") + skeleton.count("[") + 1
    skeleton_bytes = _STRING_BYTES.sub(b'""', data)
    return skeleton_bytes.count(b",") + skeleton_bytes.count(b":") + skeleton_bytes.count(b"[") + 1


def load_json(data: bytes | str, max_values: int = MAX_VALUES) -> Any:
    """The JSON value in `data`; JSONProblem when it is not JSON, too large or too deep."""
    if value_bound(data) > max_values:
        raise JSONProblem(
            f"it could hold more than {max_values:,} JSON values, more than metadata has"
        )
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except JSONProblem:
        raise
    except UnicodeDecodeError:
        raise JSONProblem("it is not UTF-8 text") from None
    except ValueError as error:
        raise JSONProblem(_first_line(error)) from None
    except RecursionError:
        raise JSONProblem("it is nested too deeply") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
