"""`thrifty data augment`: arguments and the function they map to."""


def add_parser(actions) -> None:
    actions.add_parser(
        "augment", help="More training rows from fewer: model paraphrases, back-translation, synonyms."
    )
