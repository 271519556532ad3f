"""`thrifty prune`: a smaller standard Hugging Face model that trains and serves cheaper. This first part
drops whole decoder blocks (`--layers N`), the least important by calibration data; attention-head and
MLP-channel pruning (issue 19's --heads/--mlp, through torch-pruning) are not built yet."""
