"""``make bench``: every benchmark, each printing its figures beside its baseline."""

import importlib
import sys

SUITES = (
    "benchmarks.runtime",
    "benchmarks.matcher",
    "benchmarks.onboarding",
    "benchmarks.notifier",
    "benchmarks.latency",
)


def main() -> None:
    names = sys.argv[1:] or SUITES
    del sys.argv[1:]  # each suite parses its own options: here, its defaults
    for name in names:
        try:
            module = importlib.import_module(name if "." in name else f"benchmarks.{name}")
        except ModuleNotFoundError:
            print(f"(skipped {name}: not present)")
            continue
        module.main()
        print()


main()
