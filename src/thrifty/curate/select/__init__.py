"""`thrifty data select`: pick the rows worth training on (core-sets) or worth labelling (active
learning). A pool is scored by a model (the base model, or a fine-tuned run's) — answer-token loss where
rows have answers, predictive entropy of the model's own answer where they do not, mean hidden states for
diversity — and a strategy (strategies/, one module each) picks --k rows or a --fraction of them."""
