"""`thrifty data select`: arguments and the function they map to."""


def add_parser(actions) -> None:
    actions.add_parser(
        "select", help="Pick the rows worth training on (or labelling): loss, uncertainty, diversity."
    )
