"""`ci-ml schema infer DATA`: a data schema from a trusted file, for a person to edit."""

from __future__ import annotations

import sys
from pathlib import Path

from ci_ml.errors import PASSED, ConfigError
from ci_ml.workspace import say


def infer(data: str, output: str | None, force: bool = False) -> int:
    from ci_ml.validation import dump_schema_yaml, infer_schema

    schema = infer_schema(Path(data))
    if output is None:
        sys.stdout.write(dump_schema_yaml(schema))
        return PASSED
    target = Path(output)
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; pass --force to overwrite it")
    dump_schema_yaml(schema, target)
    say(f"schema: wrote {target} ({len(schema.get('columns', {}))} columns); review and edit it")
    return PASSED
