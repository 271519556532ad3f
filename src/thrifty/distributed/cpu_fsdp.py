"""FSDP2 on CPU processes (gloo). accelerate builds FSDP only for accelerator device types and quietly
falls back to DDP on CPUs; torch's `fully_shard` itself runs on CPU with gloo. This lets accelerate's own
FSDP2 path (the same `fsdp2_prepare_model`, state-dict and checkpoint code a GPU run uses) run on CPU
processes: after accelerate's state is built, a MULTI_CPU state given an FSDP plugin becomes an FSDP
state. CPU FSDP is how thrifty's FSDP path is tested without a GPU; on GPUs nothing here is used."""

_patched = False


def enable() -> None:
    global _patched
    if _patched:
        return
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin

    AcceleratorState.__init__ = init
    _patched = True
