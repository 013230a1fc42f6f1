"""Developer tools kept out of the runtime package (see tools/README.md)."""
