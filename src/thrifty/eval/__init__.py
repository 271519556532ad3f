"""Evaluate a finished run: perplexity, task metrics, base vs fine-tuned, speed and memory."""
