"""`thrifty ui`: a local web page over the files thrifty writes (runs, sweeps, comparisons), with live
loss curves and actions (start, stop, resume) that run the CLI as subprocesses."""
