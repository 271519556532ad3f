"""Memory model details: the loss head as training computes it."""


def test_the_chunked_loss_plans_no_full_logits():
    """A 262k vocabulary at 1,024 tokens: the plain head keeps fp32 logits for every token (1 GiB a
    copy), the chunked one only the hidden states' gradient and one chunk; dpo (TRL's head) stays plain."""
    from thrifty.config.schema import MethodConfig
    from thrifty.models.chunked_loss import chunk_tokens
    from thrifty.plan.planner import PlanRequest, make_plan

    def plan(**kw):
        settings = {"seq_len": 1024, "micro_batch": 1, "device": "cpu", "precision": "fp32", "gpu": None}
        return make_plan(PlanRequest(model="gemma-3-1b", method=MethodConfig(name="lora"), **settings, **kw))

    chunked, plain = plan(), plan(chunked_loss=False)
    assert chunked["loss_head"] == "chunked" and plain["loss_head"] == "plain"
    logits = 1024 * 262144 * 4
    assert plain["memory"]["loss_transient"] == logits
    assert chunked["memory"]["loss_transient"] == 2 * chunk_tokens(262144) * 262144 * 4 < logits / 3
    assert plain["memory"]["total"] - chunked["memory"]["total"] > 2 * logits  # logits kept + their gradient
    assert plan(objective="dpo")["loss_head"] == "plain"
