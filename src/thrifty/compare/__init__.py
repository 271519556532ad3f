"""Compare fine-tuning strategies on the same data and budget: quality, time, memory, dollars."""
