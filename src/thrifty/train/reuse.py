"""What runs in one process can share: a sweep worker trains many trials of one base model on one data
set, so it loads each once and hands every trial an exact copy.

`Preloaded` keeps the base model as loaded (never trained: each run gets a deep copy, so a trial's
adapter, a full fine-tune's updated weights or a flag it sets never reach the next one) and the
prepared data. A load is reused only when everything it was made from is the same (the cache keys
below); anything else is loaded afresh, and replaces the kept one (one base and one data set are kept,
so a sweep over `model.dtype` never holds two bases).
"""

import copy
import hashlib
from collections.abc import Callable
from typing import Any

from thrifty.config.schema import ModelConfig, RunConfig
from thrifty.data import PreparedData


class Preloaded:
    """Pass one to `train(..., preloaded=)` for every run of a process. Host memory: one extra copy of
    the base weights (the kept one) beside the copy being trained."""

    def __init__(self):
        self._base: tuple[tuple, Any, Any] | None = None  # (key, pristine model, RNG state after loading)
        self._data: tuple[tuple, PreparedData] | None = None
        self.loads = 0  # base models actually loaded (the rest were copies)
        self.preparations = 0

    def load_model(
        self,
        path: str,
        config: ModelConfig,
        quantization: str | None = None,
        random_init: bool = False,
        head: str = "causal_lm",
    ):
        """`models.load.load_model`, from the kept copy when the same load was done before.

        The torch RNG is part of the key and of what is kept: a random init (or a reward head)
        draws from it, and the adapter initialised next draws what the load left, so a copy leaves
        the generator exactly where a fresh load would have. A 4/8-bit base is always loaded afresh:
        bitsandbytes' weights sit on the GPU already and a second copy would double that memory.
        """
        import torch

        from thrifty.models.load import load_model

        if quantization:
            return load_model(path, config, quantization, random_init, head)
        key = (path, config.model_dump_json(), random_init, head, _rng_digest(torch.get_rng_state()))
        if self._base is not None and self._base[0] == key:
            torch.set_rng_state(self._base[2])
            return copy.deepcopy(self._base[1])
        self._base = None  # free the old base before loading another
        model = load_model(path, config, quantization, random_init, head)
        self.loads += 1
        self._base = (key, copy.deepcopy(model), torch.get_rng_state())
        return model

    def prepared_data(self, config: RunConfig, model_path: str, prepare: Callable[[], PreparedData]):
        """The objective's prepared data, kept for runs whose preparation reads the same settings: the
        objective, the data section, the seed (the held-out split) and the tokenizer (the model's files)."""
        key = (
            config.train.objective,
            config.data.model_dump_json(),
            config.train.seed,
            model_path,
            config.model.revision,
            config.model.trust_remote_code,
        )
        if self._data is not None and self._data[0] == key:
            return copy.copy(self._data[1])  # its rows are only read (trainers and collators copy them)
        data = prepare()
        self.preparations += 1
        self._data = (key, data)
        return copy.copy(data)


def _rng_digest(state) -> str:
    return hashlib.sha256(state.numpy().tobytes()).hexdigest()
