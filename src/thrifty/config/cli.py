"""The `thrifty config schema` and `thrifty methods` verbs: the run config's and the methods' documentation."""

import argparse
import json


def add_parser(verbs) -> None:
    config = verbs.add_parser("config", help="Run config documentation.")
    actions = config.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    schema = actions.add_parser("schema", help="Every config field with type, default and help.")
    schema.add_argument("--json", action="store_true", help="JSON Schema instead of a table.")
    schema.set_defaults(func=cmd_schema)

    methods = verbs.add_parser("methods", help="List fine-tuning methods.")
    methods.set_defaults(func=cmd_methods)


def cmd_schema(args: argparse.Namespace) -> int:
    from thrifty.config.docs import field_rows
    from thrifty.config.schema import RunConfig
    from thrifty.report import print_schema

    if args.json:
        print(json.dumps(RunConfig.model_json_schema(), indent=2))
    else:
        print_schema(field_rows())
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from thrifty.methods import table

    for name in table.method_names():
        print(f"{name:10} {table.method_info(name).description}")
    return 0
