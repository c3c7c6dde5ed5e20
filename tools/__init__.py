"""Developer tools that are neither product nor local AWS emulation (the mutation run)."""
