"""Reliability harnesses: the crash test (SIGKILLed processors) and its verifier (docs/reliability.md)."""
