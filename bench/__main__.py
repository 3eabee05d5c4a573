"""``python -m bench <scenario>``: the benchmark suite, with the flags of ``monitor.commands.bench``."""

from __future__ import annotations

import argparse
import sys

from bench.runner import run
from monitor.commands.bench import EXAMPLE, add_arguments


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and run the chosen scenarios."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="hedge-monitor benchmark suite",
        epilog=f"example:\n  {EXAMPLE}\n", formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
