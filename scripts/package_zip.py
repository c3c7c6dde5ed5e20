"""Writes lambda_function.zip deterministically: the same inputs give the same bytes (and hash).

One member at the zip root: `bootstrap` (mode 0755, what provided.al2023 executes). Fixed timestamp, Unix
attributes, written atomically. No rules: they are traders' data in the rules table (I13), imported with
`tap_rules import` (R6), so a rule change needs no build and no deploy.

Usage: package_zip.py OUT.zip BOOTSTRAP
"""

from __future__ import annotations

import os
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


def write_package(out: Path, bootstrap: Path) -> None:
    members = [(_member("bootstrap", 0o755), bootstrap)]
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
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    write_package(Path(argv[1]), Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
