"""The CDKTF app behind main.py: configuration from context/environment, one stack, clear errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from lib.config import CONTEXT_KEYS, ConfigError, from_sources
from lib.tap_stack import STACK_NAME, App, LambdaPackageError, TapStack


def main(env: Mapping[str, str] | None = None, outdir: str | None = None) -> int:
    app = App(outdir=outdir) if outdir else App()
    context = {k: v for k in CONTEXT_KEYS if (v := app.node.try_get_context(k)) is not None}
    try:
        config = from_sources(context, os.environ if env is None else env)
        TapStack(app, STACK_NAME, config)
    except (ConfigError, LambdaPackageError) as exc:
        print(f"synth: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0
