"""Pure risk domain: instruments, canonical events, formulas and the hedge book (no I/O)."""
