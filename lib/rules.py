"""The traders' alert-rules document, as synthesis reads it.

Validity has one definition: the function's own loader (lib/lambda/src/core/rules.cpp, `validate_rules`).
Synthesis does not judge the document a second time; it relies on two checks that use that definition:
- the package step (scripts/package_zip.py) runs the host build of that validator (`tap_validate rules FILE`)
  and refuses to zip an invalid document;
- synthesis refuses a zip whose `alert-rules.json` differs from the document it reads (lib/tap_stack.py,
  package_hash), so the deployed rules are always ones the validator accepted.
config/alert-rules.schema.json stays for editors; tests/contract/test_rules_contract.py holds it equal to the
validator over generated documents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RulesError(ValueError):
    """The rules document cannot be read; the message names the file."""


def load_rules(path: Path) -> dict[str, Any]:
    """Parse the rules document; return it. Raises RulesError when it is missing or not JSON."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: rules document not found") from None
    except json.JSONDecodeError as exc:
        raise RulesError(f"{path}: invalid JSON: {exc}") from None
    return document
