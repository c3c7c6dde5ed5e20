"""Tools for operators of a deployed stack (real AWS or the emulator): the DLQ tool, the feed sender."""
