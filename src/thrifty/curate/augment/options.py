"""`thrifty data augment`'s settings and the checks on them, made before any file is read or model loaded."""

from dataclasses import dataclass

from thrifty.curate.rows import check_positive, check_threshold
from thrifty.errors import UserError

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_PIVOT = "es"
DEFAULT_SYNONYM_RATE = 0.1  # share of a prompt's content words swapped: more drifts from the meaning


@dataclass
class AugmentOptions:
    data: str
    output: str
    model: str = DEFAULT_MODEL
    generator: str | None = None  # the model that rewrites; default: model
    format: str = "auto"
    paraphrases: int | None = None  # rewrites per row; None: no paraphrasing
    back_translate: bool = False
    pivot: str | None = None  # None: DEFAULT_PIVOT (with back_translate)
    synonyms: bool = False
    synonym_rate: float | None = None  # None: DEFAULT_SYNONYM_RATE (with synonyms)
    seed: int = 0
    temperature: float = 0.8  # paraphrase sampling: lower repeats the original, higher drifts
    batch_size: int = 8
    max_new_tokens: int = 48  # a rewritten prompt; a rambling answer is cut here (and then rejected)
    limit: int | None = None  # augment the first N rows only (all rows are still written)
    min_similarity: float = 0.3
    max_similarity: float = 0.95
    trust_remote_code: bool = False
    device: str = "auto"
    progress: bool = True

    def generator_name(self) -> str:
        return self.generator or self.model

    def kinds(self) -> list[str]:
        """The selected augmenters, in the order they run."""
        chosen = {"paraphrase": self.paraphrases is not None, "back_translate": self.back_translate}
        return [name for name, on in {**chosen, "synonyms": self.synonyms}.items() if on]


def check_options(options: AugmentOptions) -> list[str]:
    """The selected kinds, after the one-line refusals of flags that cannot work together or at all."""
    from thrifty.curate.augment.prompts import PIVOTS

    for flag, value in (
        ("--paraphrases", options.paraphrases),
        ("--batch-size", options.batch_size),
        ("--max-new-tokens", options.max_new_tokens),
        ("--limit", options.limit),
    ):
        check_positive(flag, value)
    kinds = options.kinds()
    if not kinds:
        raise UserError("choose what to make: --paraphrases N, --back-translate and/or --synonyms")
    if options.pivot is not None and not options.back_translate:
        raise UserError(f"--pivot {options.pivot}: only used with --back-translate; add it or drop --pivot")
    if options.pivot is not None and options.pivot not in PIVOTS:
        raise UserError(f"--pivot {options.pivot}: choose one of {', '.join(PIVOTS)}")
    if options.synonym_rate is not None and not options.synonyms:
        raise UserError("--synonym-rate: only used with --synonyms; add it or drop --synonym-rate")
    if options.synonym_rate is not None and not 0 < options.synonym_rate <= 1:
        raise UserError(f"--synonym-rate {options.synonym_rate:g}: must be above 0 and at most 1")
    if options.temperature <= 0:
        raise UserError(f"--temperature {options.temperature:g}: must be above 0")
    check_threshold("--min-similarity", options.min_similarity)
    check_threshold("--max-similarity", options.max_similarity)
    if options.min_similarity >= options.max_similarity:
        raise UserError(
            f"--min-similarity {options.min_similarity:g} must be below --max-similarity {options.max_similarity:g}"
        )
    return kinds
