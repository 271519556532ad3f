"""The pool's rows as the model sees them: tokenized as training tokenizes them (with the run's system
prompt when the model is a run folder), scored through thrifty.curate.score's cache."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.curate import score
from thrifty.curate.rows import last_answer_index
from thrifty.curate.select.pool import Pool


@dataclass
class PoolScorer:
    pool: Pool
    model: Any
    tokenizer: Any
    system: str | None
    fingerprint: str
    options: Any  # SelectOptions

    @classmethod
    def load(cls, pool: Pool, options) -> "PoolScorer":
        from thrifty.curate.generator import load_generator
        from thrifty.models.registry import resolve_model

        model, tokenizer, system = load_generator(
            options.model, options.device, options.trust_remote_code, options.system_prompt
        )
        folder = Path(options.model).expanduser()
        weights = folder if folder.is_dir() else resolve_model(options.model)
        return cls(pool, model, tokenizer, system, score.model_fingerprint(weights), options)

    def _bar(self) -> dict[str, Any]:
        return {"batch_size": self.options.batch_size, "progress": self.options.progress}

    def forward(self) -> list[tuple[float, list[float]]]:
        """(answer loss, mean prompt hidden state) per row, one forward pass for both: the full rows as
        training tokenizes them when the pool has answers, else the prompts alone (loss NaN)."""
        from thrifty.data.tokenize import encode_example

        if self.pool.all_labelled:
            rows = [
                encode_example(e, self.tokenizer, self.options.max_seq_len, False, self.system)[0]
                for e in self.pool.table.examples
            ]
        else:
            rows = self.prompt_rows()
        compute = lambda todo: score.losses_and_hidden(self.model, todo, **self._bar())  # noqa: E731
        return score.cached_scores(score.FORWARD, self.fingerprint, rows, compute)

    def losses(self) -> list[float]:
        return [loss for loss, _ in self.forward()]

    def prompt_rows(self) -> list[dict[str, list[int]]]:
        """Each row's prompt, rendered to ask for the answer; its last max_seq_len tokens."""
        from thrifty.data.template import render_prompt, with_system

        rows = []
        for example in self.pool.table.examples:
            messages = example["messages"]
            text = render_prompt(
                with_system(messages[: last_answer_index(messages)], self.system), self.tokenizer
            )
            ids = self.tokenizer(text, add_special_tokens=not self.tokenizer.chat_template)["input_ids"]
            rows.append({"input_ids": ids[-self.options.max_seq_len :]})
        return rows

    def entropies(self) -> list[float]:
        new = self.options.max_new_tokens

        def compute(todo):
            return score.answer_entropies(self.model, self.tokenizer, todo, new, **self._bar())

        return score.cached_scores(f"entropy{new}", self.fingerprint, self.prompt_rows(), compute)

    def hidden(self) -> list[list[float]]:
        return [hidden for _, hidden in self.forward()]
