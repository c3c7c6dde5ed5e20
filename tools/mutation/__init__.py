"""Mutation testing of the C++ function: mutants (pure), outcomes and summary (pure), the run (I/O)."""
