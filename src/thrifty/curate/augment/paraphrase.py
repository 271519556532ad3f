"""paraphrase: the generator rewrites each row's prompt N times (sampled, seeded). The answer is kept
as it is: it is the label, and a rewritten answer could be wrong in ways no filter sees; the prompt
only has to keep its meaning, which the filter checks roughly."""

from thrifty.curate.augment.filters import clean_generated
from thrifty.curate.augment.generation import Context, generate
from thrifty.curate.augment.prompts import paraphrase_request
from thrifty.curate.augment.registry import Augmenter, Candidate, Source, register


def make(sources: list[Source], ctx: Context) -> list[Candidate]:
    per_row = ctx.options.paraphrases or 1
    asked = [s for s in sources for _ in range(per_row)]
    replies = generate(ctx, [paraphrase_request(s.prompt) for s in asked], sample=True, desc="paraphrase")
    return [
        Candidate(s.row, "paraphrase", clean_generated(reply, s.prompt))
        for s, reply in zip(asked, replies, strict=True)
        if reply is not None
    ]


register(
    Augmenter(
        name="paraphrase",
        help="The generator rewrites each prompt N times (--paraphrases N); answers are kept.",
        make=make,
        needs_model=True,
    )
)
