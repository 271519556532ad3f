"""Data curation verbs (`thrifty data ...`): build, inspect and clean training files before a run."""
