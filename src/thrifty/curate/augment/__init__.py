"""`thrifty data augment`: More training rows from fewer: model paraphrases, back-translation, synonyms."""
