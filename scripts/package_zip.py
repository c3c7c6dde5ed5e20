"""Writes lambda_function.zip deterministically: the same inputs give the same bytes (and hash).

Members at the zip root: `bootstrap` (mode 0755, what provided.al2023 executes) and the rules document as
`alert-rules.json` (0644). Fixed timestamps, fixed order, Unix attributes, written atomically.
The rules document is zipped only when the function's own validator accepts it (VALIDATOR is the host build
of tap_validate: the same rules.cpp the bootstrap is built from), so an invalid document never ships and
synthesis, which deploys only the zip's rules, never validates a second time.

Usage: package_zip.py OUT.zip BOOTSTRAP RULES.json VALIDATOR
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# The earliest time a zip can store: no build clock, no file mtime leaks into the archive.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
UNIX = 3  # create_system: the attributes below are Unix modes


def _member(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.create_system = UNIX
    info.external_attr = (0o100000 | mode) << 16  # regular file + permission bits
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_package(out: Path, bootstrap: Path, rules: Path) -> None:
    members = [(_member("bootstrap", 0o755), bootstrap), (_member("alert-rules.json", 0o644), rules)]
    fd, tmp_name = tempfile.mkstemp(prefix=out.name, suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
            for info, source in members:
                archive.writestr(info, source.read_bytes(), compresslevel=9)
        tmp.chmod(0o644)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    out, bootstrap, rules, validator = (Path(arg) for arg in argv[1:])
    verdict = subprocess.run(
        [str(validator), "rules", str(rules)], capture_output=True, text=True, check=False
    )
    if verdict.returncode != 0:
        print(
            f"package_zip: the function would refuse these rules:\n{verdict.stderr}", file=sys.stderr, end=""
        )
        return 1
    write_package(out, bootstrap, rules)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
