"""`thrifty data inspect`: arguments and the function they map to."""


def add_parser(actions) -> None:
    actions.add_parser(
        "inspect",
        help="Look at a data file before paying for it: lengths, truncation, duplicates, leakage, languages, cost.",
    )
