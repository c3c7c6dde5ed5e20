#!/usr/bin/env python
"""CDKTF entry point (cdktf.json "app"): synthesizes the stack into cdktf.out/stacks/tap-stack."""

import sys

from lib.app import main

if __name__ == "__main__":
    sys.exit(main())
