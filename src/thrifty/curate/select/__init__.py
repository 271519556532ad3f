"""`thrifty data select`: Pick the rows worth training on (or labelling): loss, uncertainty, diversity."""
