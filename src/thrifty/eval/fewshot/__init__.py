"""In-context few-shot baseline: the base model with k training examples as earlier turns of the
conversation, scored on the same held-out answers as a fine-tuned model. What fine-tuning must beat to
be worth its cost: a prompt with examples costs nothing to train, but more per query."""
