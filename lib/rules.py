"""The traders' alert-rules document: validated against its JSON Schema plus what a schema cannot say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema


class RulesError(ValueError):
    """The rules document cannot be deployed; the message names the file and the failing place."""


def load_rules(path: Path, schema_path: Path) -> dict[str, Any]:
    """Parse and validate the rules document; return it. Raises RulesError with every problem found."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: rules document not found") from None
    except json.JSONDecodeError as exc:
        raise RulesError(f"{path}: invalid JSON: {exc}") from None
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    problems = [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(document)'}: {err.message}"
        for err in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not problems:
        seen: set[str] = set()
        for i, rule in enumerate(document["rules"]):
            if rule["id"] in seen:
                problems.append(f"rules/{i}/id: duplicate rule id {rule['id']!r}")
            seen.add(rule["id"])
    if problems:
        raise RulesError(f"{path}: invalid rules document:\n  " + "\n  ".join(problems))
    return document
