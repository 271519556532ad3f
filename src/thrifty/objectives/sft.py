"""Supervised fine-tuning: the loss on the answer tokens, through transformers' own Trainer."""

from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    from thrifty.data import prepare_data as prepare_supervised

    return prepare_supervised(config, tokenizer, seed)


def arguments(config):
    from transformers import TrainingArguments

    return TrainingArguments, {}


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from transformers import Trainer

    return Trainer(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=data.eval,
        data_collator=collate,
        callbacks=callbacks,
    )


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    return {}  # eval loss and perplexity before/after are every run's fields


register(
    Objective(
        name="sft",
        prepare_data=prepare_data,
        arguments=arguments,
        build=build,
        summary=summary,
    )
)
