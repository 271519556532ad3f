"""thrifty: fine-tune open language models for as little money as possible."""

__version__ = "0.1.0"
