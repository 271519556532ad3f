"""Cross-entropy fused with the output head, a chunk of tokens at a time: `tokens x vocab` logits never
exist at once.

The plain loss builds fp32 logits for every learned token (Gemma's 262k vocabulary at 1,024 tokens:
1 GiB), keeps them for backward and builds their gradient beside them. Here the head's matmul, the
log-sum-exp and the gradient of the logits are computed for `chunk` tokens at a time in the forward
pass (as Liger's fused linear cross-entropy does on CUDA): only the gradients of the hidden states
(tokens x hidden) and, when the head trains, of its weight stay for backward.

On CUDA with liger_kernel installed Liger's Triton kernel is used instead (train/speed.py); this is
the implementation everywhere else. Loss and gradients equal the plain loss (tests/models/
test_chunked_loss.py: fp64 to 1e-10, fp32 to 1e-5 relative).

Wiring (`install`): a forward pre-hook on the head hands the head an empty slice of the hidden states
and keeps the real ones, so the model's own forward computes no logits; the model's `loss_function`,
called next in the same forward, computes the chunked loss from the kept hidden states. The module
tree and state dict are untouched, so saving, merging and export see the same model. In eval mode
(and for any forward without labels) the head runs as before.
"""

import torch

from thrifty.data.tokenize import IGNORE_INDEX
from thrifty.methods.adapters import base_model_of

# Logits computed at once, per chunk: 2**25 floats = 128 MiB in fp32. SmolLM2 (49,152 words): 682
# tokens a chunk; Gemma 3 (262,144): 128. Large enough that the head's matmul stays efficient.
CHUNK_ELEMENTS = 2**25
# Architectures whose causal-LM forward is `lm_head(hidden)`, optionally soft-capped, then the shared
# ForCausalLM loss: the hook reproduces exactly that. Others (Cohere's logit scale, Granite's logits
# scaling, ...) keep the plain loss.
CHUNKED_MODEL_TYPES = frozenset(
    {
        "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
        "gemma3_text", "phi3", "smollm3", "olmo2", "starcoder2", "stablelm",
    }
)  # fmt: skip


def chunk_tokens(vocab_size: int) -> int:
    return max(1, CHUNK_ELEMENTS // vocab_size)


class _LinearCrossEntropy(torch.autograd.Function):
    """sum over tokens of -log softmax(softcap(hidden @ weight.T))[label], divided by `divisor`.
    Every label must be a real class (the caller drops ignored positions)."""

    @staticmethod
    def forward(ctx, hidden, weight, labels, chunk: int, softcap: float | None, divisor):
        needs_h, needs_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_h = torch.empty_like(hidden) if needs_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if needs_w else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk):
            h, y = hidden[start : start + chunk], labels[start : start + chunk]
            logits = (h @ weight.T).float()
            if softcap:
                logits = torch.tanh(logits / softcap).mul_(softcap)
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, y[:, None]).squeeze(1)).sum()
            if not (needs_h or needs_w):
                continue
            slope = 1 - (logits / softcap) ** 2 if softcap else None  # d softcap(z) / dz
            grad = logits.sub_(lse[:, None]).exp_()  # softmax, in place of the logits
            grad[torch.arange(len(y), device=y.device), y] -= 1
            if slope is not None:
                grad.mul_(slope)
            grad = grad.to(hidden.dtype)
            if needs_h:
                grad_h[start : start + chunk] = grad @ weight
            if needs_w:
                grad_w += grad.T.float() @ h.float()
        ctx.save_for_backward(grad_h, grad_w)
        ctx.divisor = divisor
        ctx.weight_dtype = weight.dtype
        return total / divisor

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w = ctx.saved_tensors
        scale = grad_out / ctx.divisor
        dh = (grad_h * scale).to(grad_h.dtype) if grad_h is not None else None
        dw = (grad_w * scale).to(ctx.weight_dtype) if grad_w is not None else None
        return dh, dw, None, None, None, None


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    num_items_in_batch=None,
    softcap: float | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """The loss HF's ForCausalLM loss gives for logits = softcap(hidden @ weight.T) and these (already
    shifted) labels: a mean over learned tokens, or their sum / num_items_in_batch when the Trainer
    counts tokens across gradient accumulation. hidden [..., H]; labels [...] with IGNORE_INDEX."""
    hidden = hidden.reshape(-1, hidden.shape[-1])
    labels = labels.reshape(-1).to(hidden.device)
    learned = labels != IGNORE_INDEX
    hidden, labels = hidden[learned], labels[learned]
    divisor = num_items_in_batch if num_items_in_batch is not None else max(1, int(labels.numel()))
    if torch.is_tensor(divisor):
        divisor = divisor.to(hidden.device)
    device = hidden.device.type
    compute = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
    with torch.autocast(device_type=device, enabled=False):
        return _LinearCrossEntropy.apply(
            hidden.to(compute),
            weight.to(compute),
            labels,
            chunk or chunk_tokens(weight.shape[0]),
            softcap,
            divisor,
        )


def _text_config(model):
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def supports(model) -> bool:
    """Whether `install` reproduces this model's own loss: a known causal-LM forward, a plain linear
    head without bias."""
    config = _text_config(model)
    head = model.get_output_embeddings()
    return (
        config.model_type in CHUNKED_MODEL_TYPES
        and isinstance(head, torch.nn.Linear)
        and head.bias is None
        and not getattr(config, "logit_scale", None)
    )


def installed(model) -> bool:
    """Whether `install` turned the chunked loss on for this model (or the one a PeftModel wraps)."""
    return getattr(base_model_of(model), "_thrifty_chunked_loss", False)


class _Stash:
    hidden: torch.Tensor | None = None


def install(model) -> bool:
    """Make `model` (a transformers causal LM, or a PeftModel around one) compute its training loss
    chunked. Returns False, changing nothing, when the architecture is not one `supports` knows."""
    inner = base_model_of(model)
    if not supports(inner) or installed(inner):
        return False
    head = inner.get_output_embeddings()
    softcap = getattr(_text_config(inner), "final_logit_softcapping", None)
    plain_loss = inner.loss_function
    stash = _Stash()

    def keep_hidden(module, args):
        if not module.training:
            return None
        (hidden,) = args
        stash.hidden = hidden
        return (hidden[..., :0, :],)  # the head computes [.., 0, vocab] logits: nothing

    def loss_function(logits, labels, vocab_size=None, num_items_in_batch=None, **kwargs):
        hidden, stash.hidden = stash.hidden, None
        if hidden is None:  # eval mode: the head ran on the real hidden states
            return plain_loss(logits, labels, vocab_size, num_items_in_batch=num_items_in_batch, **kwargs)
        shift_labels = kwargs.get("shift_labels")
        if shift_labels is None:  # position t predicts the label at t+1, as ForCausalLMLoss shifts
            pad = torch.full_like(labels[..., :1], IGNORE_INDEX)
            shift_labels = torch.cat([labels[..., 1:], pad], dim=-1)
        return linear_cross_entropy(hidden, head.weight, shift_labels, num_items_in_batch, softcap)

    head.register_forward_pre_hook(keep_hidden)
    inner.loss_function = loss_function
    inner._thrifty_chunked_loss = True
    return True
