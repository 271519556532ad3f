"""back_translate: the generator translates each prompt into a pivot language and back into English
(greedy both ways, one candidate per row): the round trip rewords what a direct paraphrase keeps. The
answer is kept as it is."""

from thrifty.curate.augment.filters import clean_generated
from thrifty.curate.augment.generation import Context, generate
from thrifty.curate.augment.options import DEFAULT_PIVOT
from thrifty.curate.augment.prompts import form, translation_request
from thrifty.curate.augment.registry import Augmenter, Candidate, Source, register


def make(sources: list[Source], ctx: Context) -> list[Candidate]:
    pivot = ctx.options.pivot or DEFAULT_PIVOT
    forms = {s.row: form(s.prompt) for s in sources}
    there = generate(
        ctx, [translation_request(s.prompt, "en", pivot, forms[s.row]) for s in sources], False, f"to {pivot}"
    )
    pivoted = {
        s.row: clean_generated(t, s.prompt) for s, t in zip(sources, there, strict=True) if t is not None
    }
    going = [s for s in sources if pivoted.get(s.row)]
    back = generate(
        ctx,
        [translation_request(pivoted[s.row], pivot, "en", forms[s.row]) for s in going],
        False,
        "back to en",
    )
    home = {s.row: clean_generated(b, s.prompt) for s, b in zip(going, back, strict=True) if b is not None}
    # An empty translation is a candidate rejected as empty; a row a stop left undone is no candidate.
    return [
        Candidate(s.row, "back_translate", home.get(s.row, ""))
        for s in sources
        if s.row in home or pivoted.get(s.row) == ""
    ]


register(
    Augmenter(
        name="back_translate",
        help="Prompt -> pivot language (--pivot) -> English with the generator; answers are kept.",
        make=make,
        needs_model=True,
    )
)
