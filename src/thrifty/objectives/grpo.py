"""Group relative policy optimisation through TRL's GRPOTrainer: for each prompt it samples
`train.num_generations` answers (transformers' generate on CPU; no vLLM), scores them with
`train.reward`, and moves towards the better ones within each group; with beta > 0 a KL term to the
frozen reference (the base with the adapter disabled: no second model)."""

from thrifty.objectives.common import figures, trl_trainer
from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    from thrifty.data.prompts import prepare_prompts

    return prepare_prompts(config, tokenizer, seed)


def arguments(config):
    from trl import GRPOConfig

    t = config.train
    return GRPOConfig, {
        "beta": t.beta,
        "num_generations": t.num_generations,
        "max_completion_length": t.max_completion_length,
        "temperature": t.temperature,
        "log_completions": False,
    }


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from trl import GRPOTrainer

    from thrifty.methods.adapters import drop_reference_adapter
    from thrifty.rewards import build_rewards

    rewards = build_rewards(config.train.reward, tokenizer, config.train.max_completion_length)
    trainer = trl_trainer(
        GRPOTrainer,
        model,
        args,
        data,
        tokenizer,
        callbacks,
        reward_funcs=[r.func for r in rewards],
        reward_processing_classes=[r.tokenizer for r in rewards],
    )
    drop_reference_adapter(trainer.model)  # TRL's "ref" copy of the fresh adapter: the base is the same
    return trainer


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    """Mean reward of the answers sampled for the held-out prompts, before and after training."""
    return figures(before, after, {"reward": "eval_reward"})


register(
    Objective(
        name="grpo",
        prepare_data=prepare_data,
        arguments=arguments,
        build=build,
        summary=summary,
        thrifty_batches=False,
    )
)
