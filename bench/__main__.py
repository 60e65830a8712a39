"""``python -m bench``: run the benchmark sections and print their tables."""

from __future__ import annotations

import argparse
import time

from ._report import load, machine

SECTIONS = ("match", "handshake", "echo", "memory", "messages", "broadcast", "scaleout", "redos")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the chosen sections in order."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark websockets-routes against baselines measured in the same run.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny counts and one round: checks that the benchmarks run, measures nothing",
    )
    parser.add_argument(
        "--section",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeat for several); default: all",
    )
    parser.add_argument(
        "--connections",
        type=int,
        action="append",
        help="idle connections in the memory section, repeatable (default: 2000 and 10000)",
    )
    parser.add_argument(
        "--baseline-src",
        metavar="DIR",
        help="also measure the websockets_routes package in DIR (another checkout's src/) "
        "in the match and handshake sections",
    )
    args = parser.parse_args(argv)
    if args.baseline_src is not None:
        from ._baseline import use

        use(args.baseline_src)
    chosen = [s for s in SECTIONS if s in (args.section or SECTIONS)]

    print(
        "## websockets-routes benchmarks" + (" (--quick: not measurements)" if args.quick else "")
    )
    print()
    print(machine())
    print()
    start = time.monotonic()
    for section in chosen:
        if section == "match":
            from . import match

            match.run(quick=args.quick)
        elif section == "handshake":
            from . import handshake

            handshake.run(quick=args.quick)
            from . import instructions

            instructions.run(quick=args.quick)
        elif section == "echo":
            from . import echo

            echo.run(quick=args.quick)
        elif section == "memory":
            from . import memory

            memory.run(quick=args.quick, connections=args.connections or (2_000, 10_000))
        elif section == "messages":
            from . import messages

            messages.run(quick=args.quick)
        elif section == "broadcast":
            from . import broadcast

            broadcast.run(quick=args.quick, connections=20 if args.quick else 1_000)
            from . import fanout

            fanout.run(quick=args.quick)
        elif section == "scaleout":
            from . import scaleout

            scaleout.run(quick=args.quick)
        else:
            from . import redos

            table, _ = redos.run(repeat=1 if args.quick else 5)
            print(table)
            print()
    print(f"Done in {time.monotonic() - start:.0f} s; {load()}.")


if __name__ == "__main__":
    main()
