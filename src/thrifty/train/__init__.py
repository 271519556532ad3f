"""Training: the run recipe, its callbacks, and hardware decisions."""
