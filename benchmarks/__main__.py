"""``make bench``: every benchmark, each printing its figures beside its baseline."""

import importlib
import sys

SUITES = (
    "benchmarks.runtime",
    "benchmarks.matcher",
    "benchmarks.onboarding",
    "benchmarks.notifier",
)


def main() -> None:
    for name in sys.argv[1:] or SUITES:
        try:
            module = importlib.import_module(name if "." in name else f"benchmarks.{name}")
        except ModuleNotFoundError:
            print(f"(skipped {name}: not present)")
            continue
        module.main()
        print()


main()
