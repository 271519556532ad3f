"""`thrifty data clean`: Remove duplicates, leakage, bad lengths, other languages and (optionally) PII; nothing is lost."""
