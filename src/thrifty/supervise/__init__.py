"""Keep a training run going on machines that disappear: a restart supervisor and cloud job files."""
