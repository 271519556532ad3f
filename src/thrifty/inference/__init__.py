"""Inference: generation from a base model plus an optional adapter."""
