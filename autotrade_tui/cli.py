"""Command line entry point (filled in by the foundation work)."""


def main(argv: list[str] | None = None) -> int:
    return 0
