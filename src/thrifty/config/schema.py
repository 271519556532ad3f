"""The run config: one nested pydantic schema. Every field carries its help text; the docs come from it.

Later capabilities add sections (plan, checkpoint, eval, export, budget) beside these.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from thrifty.config.objectives import OBJECTIVES, ObjectiveFields
from thrifty.methods.table import METHODS

# The experiment trackers `train.report_to` accepts: HF Trainer integrations thrifty tests end to end.
TRACKERS = ("tensorboard", "mlflow", "wandb", "trackio")


class Section(BaseModel):
    """Unknown keys are an error, so a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Section):
    name: str = Field(
        "smollm2-135m",
        description="Bundled model name (see `thrifty models list`), a local Hugging Face model folder, or a hub id.",
    )
    revision: str | None = Field(
        None, description="Hub revision (branch, tag or commit) when `name` is a hub id."
    )
    trust_remote_code: bool = Field(
        False,
        description="Run Python code shipped with the model. Off by default: only for models you trust.",
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32",
        description="Storage dtype of the base weights. float32 keeps full-precision master weights; "
        "compute precision is `train.precision`.",
    )
    attn_implementation: Literal["sdpa", "eager"] = Field(
        "sdpa", description="Attention kernel: sdpa (PyTorch fused, default) or eager (reference)."
    )


class MethodConfig(Section):
    name: str = Field(
        "lora",
        description="Fine-tuning method (`thrifty methods` describes each): " + ", ".join(METHODS) + ".",
    )
    rank: int = Field(16, gt=0, description="LoRA rank r: size of the low-rank update. 8-64 is typical.")
    alpha: float = Field(
        32.0, gt=0, description="LoRA alpha: the update is scaled by alpha/r (alpha/sqrt(r) with rsLoRA)."
    )
    dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Dropout on the LoRA input. 0 (default, as Unsloth and LLaMA-Factory): on the FAQ demo "
        "0.05 cost 1.42x the time (275 vs 391 tokens/s, AMX Xeon) for the same held-out loss "
        "(3.1103 vs 3.1080); try 0.05-0.1 for long runs on small data.",
    )
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear",
        description="Modules that get adapters: 'all-linear' (every linear layer but the output head, "
        "the QLoRA paper's advice) or a list of module names such as [q_proj, v_proj].",
    )
    use_rslora: bool = Field(
        False, description="Rank-stabilised LoRA: scale by alpha/sqrt(r) so high ranks keep learning."
    )
    use_dora: bool = Field(
        False, description="DoRA: learn a magnitude vector beside the LoRA direction update."
    )
    trainable_layers: int = Field(2, gt=0, description="freeze: train only the last N decoder layers.")
    trainable_modules: list[str] | None = Field(
        None, description="freeze: train these modules instead (names or name endings, e.g. [lm_head, norm])."
    )
    num_virtual_tokens: int = Field(
        20, gt=0, description="prefix / prompt / ptuning: learned virtual tokens."
    )
    encoder_hidden_size: int = Field(128, gt=0, description="ptuning: hidden size of the prompt encoder MLP.")

    @field_validator("name")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from thrifty.methods.table import method_names  # data only: validating imports no torch

        if value not in method_names():
            raise ValueError(f"unknown method {value!r}; choose one of: {', '.join(method_names())}")
        return value

    @field_validator("target_modules", mode="before")
    @classmethod
    def _split_targets(cls, value):
        # Command-line overrides arrive as "q_proj,v_proj".
        if isinstance(value, str) and value != "all-linear":
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def variant(self) -> str:
        """The method as the planner's tables name it: lora with use_dora is dora, with use_rslora rslora."""
        if self.name == "lora" and self.use_dora:
            return "dora"
        return "rslora" if self.name == "lora" and self.use_rslora else self.name


DataFormat = Literal["auto", "alpaca", "chat", "sharegpt", "prompt_completion", "text"]


class DataConfig(Section):
    path: str | None = Field(
        None,
        description="Training data: .jsonl, .json, .csv, .parquet, a saved `datasets` folder, or "
        "pkg:PACKAGE/FILE for a file shipped inside an installed Python package.",
    )
    eval_path: str | None = Field(
        None,
        description="Held-out data in the same formats. When missing, `val_fraction` of `path` is held out.",
    )
    format: DataFormat = Field(
        "auto",
        description="Record format: alpaca (instruction/input/output), chat (messages), sharegpt "
        "(conversations), prompt_completion (prompt/completion), text (text); auto detects it from the columns.",
    )
    split: str = Field("train", description="Split to read when `path` is a saved DatasetDict folder.")
    val_fraction: float = Field(
        0.1, gt=0, lt=1, description="Share of `path` held out for evaluation when no `eval_path` is given."
    )
    max_seq_len: int = Field(
        512, ge=8, description="Tokens per example; longer examples are truncated and counted."
    )
    train_on_inputs: bool = Field(
        False, description="Also compute the loss on prompt tokens. Off: loss on the completion only."
    )
    system_prompt: str | None = Field(
        None, description="System message added to examples that have none (chat-template models only)."
    )
    max_examples: int | None = Field(
        None, gt=0, description="Use only the first N training examples (quick runs)."
    )
    order: Literal["shuffle", "length", "curriculum"] = Field(
        "shuffle",
        description="Order training reads rows in: shuffle (seeded random), length (shortest first), "
        "curriculum (easy to hard by the base model's answer loss, scored once and cached). length and "
        "curriculum repeat the same order each epoch and are kept in checkpoints, so a resume replays them.",
    )
    packing: bool = Field(
        True,
        description="Padding-free packing: each micro-batch is one row of its examples end to end, with "
        "position ids restarting per example so each attends only to itself (same loss as unpacked, no "
        "FLOPs on padding). Off: dynamic padding to the longest example of the batch. prefix, prompt and "
        "ptuning always pad (their virtual tokens belong to one row each).",
    )


class TrainConfig(Section, ObjectiveFields):
    """Optimisation settings; the objective and its own fields (beta, ...) come from ObjectiveFields."""

    max_steps: int | None = Field(
        None, gt=0, description="Stop after this many optimizer steps; when set it overrides `epochs`."
    )
    epochs: float = Field(
        1.0, gt=0, description="Passes over the training data (when `max_steps` is not set)."
    )
    micro_batch_size: int = Field(4, gt=0, description="Examples per forward pass on each device.")
    gradient_accumulation_steps: int = Field(
        1, gt=0, description="Micro-batches per optimizer step: effective batch = micro_batch_size x this."
    )
    learning_rate: float = Field(
        2e-4, gt=0, description="Peak learning rate. LoRA likes ~10x the full fine-tuning rate."
    )
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule after warmup."
    )
    warmup_ratio: float = Field(
        0.05, ge=0, lt=1, description="Share of the steps spent warming the learning rate up."
    )
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm; 0 disables clipping.")
    optimizer: Literal[
        "adamw_torch", "adamw_torch_fused", "adamw_bnb_8bit", "paged_adamw_8bit", "sgd", "adafactor"
    ] = Field(
        "adamw_torch",
        description="Optimizer: adamw_torch, adamw_torch_fused, adamw_bnb_8bit (8-bit states, 1/4 of the memory), "
        "paged_adamw_8bit (8-bit, pages to CPU under memory pressure on CUDA), sgd, adafactor.",
    )
    precision: Literal["auto", "fp32", "bf16", "bf16-base", "fp16"] = Field(
        "auto",
        description="Compute precision. bf16/fp16: mixed precision (autocast) over fp32 weights. bf16-base: "
        "the frozen base stored in bf16 (no per-step casts of it) and bf16 autocast, while adapter weights, "
        "gradients and optimizer stay fp32, for methods that freeze the whole base. auto: bf16 on GPUs that support "
        "it (fp16 on older ones); on CPUs bf16-base for adapter methods where the CPU has bf16 "
        "instructions (avx512_bf16 or amx_bf16), else fp32 (docs/performance.md has the measurements).",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory, ~30% more compute."
    )
    group_by_length: bool = Field(
        False,
        description="Batch examples of similar length together to cut padding (order is still seeded). "
        "Useful only with data.packing off: packed batches carry no padding.",
    )
    learned_logits_only: bool = Field(
        True,
        description="Compute the output head's logits only where the next token is learned (answers, not "
        "prompts): same loss, less compute and memory for large vocabularies. Off: logits everywhere.",
    )
    chunked_loss: bool = Field(
        True,
        description="Compute the output head and cross-entropy a chunk of tokens at a time (Liger's fused "
        "kernel on CUDA when installed): the tokens x vocab logits never exist at once, for the same loss "
        "and gradients. Off: the model's own head and loss (more memory for large vocabularies).",
    )
    auto_micro_batch: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Search the micro-batch size that gives the most tokens/s within memory, keeping the "
        "effective batch (micro_batch_size x gradient_accumulation_steps) fixed; backs off from sizes that "
        "do not fit and prints its choice. auto: on GPUs only (on CPUs RAM is rarely the limit and the "
        "trial steps cost minutes: see docs/performance.md).",
    )
    compile: Literal["auto", "on", "regional", "off"] = Field(
        "auto",
        description="torch.compile: on compiles the whole model, regional each decoder block (one block "
        "shape, so compiling takes seconds, not minutes); falls back to eager with a warning if compiling "
        "fails. auto: off everywhere until measured to pay off (docs/performance.md: on CPU the first "
        "whole-model step took ~5 min for SmolLM2; no GPU has been measured yet).",
    )
    eval_every_steps: int | None = Field(
        None,
        gt=0,
        description="Evaluate every N steps; the held-out set is always evaluated before and after.",
    )
    max_minutes: float | None = Field(
        None, gt=0, description="Stop after this many minutes of training (a time or dollar budget)."
    )
    early_stopping_patience: int | None = Field(
        None,
        gt=0,
        description="Stop when eval loss has not improved for N evaluations (needs `eval_every_steps`).",
    )
    global_batch_size: int | None = Field(
        None,
        gt=0,
        description="Examples per optimizer step over all processes (micro_batch_size x "
        "gradient_accumulation_steps x world size). When set, gradient_accumulation_steps is derived from "
        "it, so the optimisation stays the same as --nproc changes; it must be a multiple of "
        "micro_batch_size x world size.",
    )
    logging_steps: int = Field(5, gt=0, description="Write a metrics.jsonl line every N steps.")
    report_to: list[str] = Field(
        default_factory=list,
        description="Experiment trackers that also get the logged metrics, through the HF Trainer's own "
        "integrations: none, or one or a list of " + ", ".join(TRACKERS) + " (e.g. [tensorboard,mlflow]). "
        "Local by default: TensorBoard writes RUN/tensorboard/, MLflow a SQLite store RUN/mlflow.db unless "
        "MLFLOW_TRACKING_URI is set, wandb its files under RUN/wandb/ (WANDB_MODE=offline needs no "
        "account), trackio its local store. The run's summary (plan, predicted vs measured, eval before/"
        "after) is added at the end. Needs `pip install 'thrifty[track]'`.",
    )
    seed: int = Field(42, description="Seed for initialisation, data order and the validation split.")

    @field_validator("auto_micro_batch", "compile", mode="before")
    @classmethod
    def _yaml_on_off(cls, value):
        # YAML reads on/off (and the command line's `train.compile=on`) as booleans.
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("report_to", mode="before")
    @classmethod
    def _tracker_list(cls, value):
        # `train.report_to=wandb` arrives as a string, `=[tensorboard,mlflow]` as a list, `none` as either.
        if value is None:
            return []
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ValueError(f"expected none or a list of trackers ({', '.join(TRACKERS)})")
        names = [str(item).strip().lower() for item in items if str(item).strip()]
        unknown = [name for name in names if name not in (*TRACKERS, "none")]
        if unknown:
            raise ValueError(f"unknown tracker {unknown[0]!r}; choose none or any of: {', '.join(TRACKERS)}")
        if "none" in names and len(names) > 1:
            raise ValueError("none turns tracking off; list trackers without it")
        return list(dict.fromkeys(n for n in names if n != "none"))  # each once, in the order given

    @model_validator(mode="after")
    def _early_stopping_needs_eval(self):
        if self.early_stopping_patience is not None and self.eval_every_steps is None:
            raise ValueError("early_stopping_patience needs train.eval_every_steps to be set")
        return self


class OutputConfig(Section):
    dir: str | None = Field(None, description="Run directory; default runs/<model>-<method>-<date-time>.")
    overwrite: bool = Field(False, description="Replace a finished run already in `dir` (otherwise refused).")


class CheckpointConfig(Section):
    every_steps: int | None = Field(
        None, gt=0, description="Write a checkpoint every N optimizer steps (off when unset)."
    )
    every_minutes: float | None = Field(
        30.0,
        gt=0,
        description="Also write one when this many minutes of training passed since the last one; "
        "unset to turn off. A spot notice gives 30 s to 2 min, so periodic checkpoints carry the rest.",
    )
    keep_last: int = Field(2, ge=1, description="Keep the newest N checkpoints; older ones are deleted.")
    keep_best: int = Field(
        1,
        ge=0,
        description="Also keep the N checkpoints with the lowest eval loss (needs `train.eval_every_steps`).",
    )
    remote: str | None = Field(
        None,
        description="fsspec URL that completed checkpoints are copied to in the background "
        "(s3://bucket/run, gs://..., az://..., file:///mnt/disk/run); `--resume auto` pulls from it.",
    )
    remote_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec storage options for `remote`, e.g. {endpoint_url: 'http://minio:9000'}. "
        "Keep credentials in the environment (AWS_ACCESS_KEY_ID...), not here.",
    )
    preemption_url: str | None = Field(
        None,
        description="Poll a preemption-notice endpoint and checkpoint+stop when it fires: 'aws' (spot "
        "instance-action), 'gcp' (instance/preempted) or any URL that answers 200 with a body other than "
        "'false' when the machine is about to go.",
    )
    poll_seconds: float = Field(
        5.0, gt=0, description="Seconds between polls of `preemption_url` (AWS gives 120 s notice, GCP 30 s)."
    )


class DistributedConfig(Section):
    """Several processes (devices, nodes) for one run, started through accelerate's launcher (torchrun)."""

    nproc: int = Field(
        1,
        ge=1,
        description="Processes on this machine, one per device (GPUs; on a CPU each process takes "
        "cores/nproc threads). 1 trains in this process. `--nproc` on the command line.",
    )
    nnodes: int = Field(1, ge=1, description="Machines in the job; every machine runs the same command.")
    node_rank: int = Field(0, ge=0, description="This machine's index, 0 .. nnodes-1 (0 is the head).")
    master_addr: str = Field(
        "127.0.0.1", description="Address of the head machine (node_rank 0) that every process reaches."
    )
    master_port: int = Field(29500, ge=1, le=65535, description="Free TCP port on the head machine.")
    strategy: Literal["auto", "ddp", "fsdp", "zero2", "zero3"] = Field(
        "auto",
        description="How the work is split: ddp (each device holds the whole model, gradients averaged), "
        "fsdp (FSDP2: parameters, gradients and optimizer states sharded over devices), zero2 (DeepSpeed: "
        "optimizer states and gradients sharded), zero3 (DeepSpeed: parameters too). auto: ddp when the "
        "planner says the model fits one device, else the first of fsdp, zero3 that fits.",
    )
    offload: Literal["none", "optimizer", "params"] = Field(
        "none",
        description="Move state to CPU RAM to fit a bigger model on fewer GPUs (slower): optimizer "
        "(ZeRO-Offload of optimizer states, zero2/zero3) or params (parameters too: zero3, or FSDP's CPU "
        "offload).",
    )
    backend: Literal["auto", "nccl", "gloo"] = Field(
        "auto", description="Collective backend: auto is nccl on CUDA, gloo on CPU."
    )

    @property
    def world_size(self) -> int:
        return self.nproc * self.nnodes

    @model_validator(mode="after")
    def _consistent(self):
        if self.node_rank >= self.nnodes:
            raise ValueError(f"node_rank {self.node_rank} must be below nnodes {self.nnodes}")
        if self.offload != "none" and self.strategy in ("ddp",):
            raise ValueError(
                f"offload={self.offload} needs a sharded strategy (zero2, zero3 or fsdp), not {self.strategy}"
            )
        if self.offload == "optimizer" and self.strategy == "fsdp":
            raise ValueError("FSDP offloads parameters and optimizer states together: use offload=params")
        if self.offload == "params" and self.strategy == "zero2":
            raise ValueError("zero2 keeps parameters on the device: use offload=optimizer, or strategy=zero3")
        return self


class RunConfig(Section):
    """Everything one fine-tuning run needs."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="The pretrained model to start from.")
    method: MethodConfig = Field(default_factory=MethodConfig, description="How its weights are adapted.")
    data: DataConfig = Field(default_factory=DataConfig, description="Training and evaluation data.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimisation settings.")
    output: OutputConfig = Field(default_factory=OutputConfig, description="Where the run is written.")
    checkpoint: CheckpointConfig = Field(
        default_factory=CheckpointConfig, description="Checkpoints, preemption and resume."
    )
    distributed: DistributedConfig = Field(
        default_factory=DistributedConfig,
        description="Several processes or machines for one run (DDP, FSDP2, DeepSpeed ZeRO).",
    )

    @model_validator(mode="after")
    def _derive_accumulation(self):
        """train.global_batch_size fixes micro x accumulation x world size: accumulation follows from it."""
        t, world = self.train, self.distributed.world_size
        if t.global_batch_size is None:
            return self
        per_pass = t.micro_batch_size * world
        if t.global_batch_size % per_pass:
            raise ValueError(
                f"train.global_batch_size {t.global_batch_size} is not a multiple of micro_batch_size "
                f"{t.micro_batch_size} x world size {world} = {per_pass}"
            )
        t.gradient_accumulation_steps = t.global_batch_size // per_pass
        return self

    @model_validator(mode="after")
    def _objective_fits_the_method(self):
        """Preference objectives start from a pretrained model and train on the tokens as they are: not
        from scratch, and not with virtual tokens (prefix, prompt, ptuning) that TRL's batches do not
        carry. A reference-based objective with a method that trains base weights (full, freeze) holds a
        reference copy, or precomputes its log-probabilities (train.precompute_ref_logps)."""
        t, info = self.train, METHODS[self.method.name]
        if t.objective == "sft":
            return self
        if info.random_init or info.padded_only:
            raise ValueError(
                f"train.objective={t.objective} needs a pretrained model trained through lora, qlora, dora, "
                f"ia3, freeze or full; method {self.method.name} is not supported with it"
            )
        if t.precompute_ref_logps and (
            OBJECTIVES[t.objective].reference == "none" or info.trains_base == "none"
        ):
            raise ValueError(
                "train.precompute_ref_logps applies to dpo/kto with method full or freeze (an adapter "
                "method's reference is the base itself, at no memory cost)"
            )
        return self

    @property
    def global_batch(self) -> int:
        """Examples per optimizer step over all processes."""
        t = self.train
        return t.micro_batch_size * t.gradient_accumulation_steps * self.distributed.world_size
