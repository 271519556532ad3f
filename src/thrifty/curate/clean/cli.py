"""`thrifty data clean`: arguments and the function they map to."""


def add_parser(actions) -> None:
    actions.add_parser(
        "clean",
        help="Remove duplicates, leakage, bad lengths, other languages and (optionally) PII; nothing is lost.",
    )
