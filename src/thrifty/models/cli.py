"""The `thrifty models pull|list` verbs: their arguments and the functions they map to."""

import argparse
import json


def add_parser(verbs) -> None:
    models = verbs.add_parser("models", help="Bundled models: pull and list.")
    actions = models.add_subparsers(dest="models_verb", required=True, metavar="ACTION")
    pull = actions.add_parser("pull", help="Install and cache a bundled model.")
    pull.add_argument("name", help="Bundled model name, e.g. smollm2-135m.")
    pull.set_defaults(func=cmd_pull)
    listing = actions.add_parser("list", help="Show bundled models and which are cached.")
    listing.add_argument("--json", action="store_true", help="Machine-readable output.")
    listing.set_defaults(func=cmd_list)


def cmd_pull(args: argparse.Namespace) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.models.registry import pull_model

    print(pull_model(args.name, progress=True))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from thrifty.models.registry import list_cached
    from thrifty.report import print_models

    rows = list_cached()
    print(json.dumps(rows, indent=2)) if args.json else print_models(rows)
    return 0
