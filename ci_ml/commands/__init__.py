"""One module per command; each exposes `run(...) -> int` (an exit code)."""
