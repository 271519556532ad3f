"""`thrifty data augment`: more training rows from fewer: model paraphrases, back-translation, synonyms.

Each kind is a module that registers itself (registry.py); importing the package registers them all.
"""

from thrifty.curate.augment import back_translate, paraphrase, synonyms  # noqa: F401  (they register)
