"""`thrifty data inspect`: Look at a data file before paying for it: lengths, truncation, duplicates, leakage, languages, cost."""
