"""Several processes for one run: which rank this is, the collectives thrifty's own bookkeeping needs,
and the strategy settings (DDP, FSDP2, DeepSpeed ZeRO) generated from the run config. The processes are
started by accelerate's launcher (torchrun underneath), see thrifty.train.launch."""
