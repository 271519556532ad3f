"""What the generator is asked. Small instruct models (SmolLM2-135M) answer a question they are asked to
rewrite; two worked examples as earlier chat turns make them rewrite instead (seen on the FAQ: without
them nearly every output was an answer). Questions and imperative instructions get their own examples,
so a rewrite keeps the prompt's form."""

Shots = list[tuple[str, str]]

PARAPHRASE: dict[str, tuple[str, Shots]] = {
    "question": (
        "Rewrite this question with different words, keeping its meaning:",
        [
            ("How do I renew my passport?", "What is the process for renewing my passport?"),
            ("Can I park my car on the street overnight?", "Is overnight street parking allowed for my car?"),
        ],
    ),
    "instruction": (
        "Rewrite this instruction with different words, keeping its meaning:",
        [
            ("Write a short poem about the sea.", "Compose a brief poem about the ocean."),
            ("List three uses of baking soda.", "Name three ways to use baking soda."),
        ],
    ),
}

# The worked examples' topics: a rewrite that brings one in (the 135M model turned "Can I appeal a denied
# building permit?" into "Can I adjust my car's license plate on the street?") copies an example, not the
# prompt. Keep in step with the examples above and below.
SHOT_TOPICS = frozenset("passport renew park parking car street overnight poem sea ocean baking soda".split())

# The same two examples per form in each language back-translation can pivot through.
EXAMPLES = {
    "question": {
        "en": ["How do I renew my passport?", "Can I park my car on the street overnight?"],
        "es": ["¿Cómo renuevo mi pasaporte?", "¿Puedo aparcar mi coche en la calle durante la noche?"],
        "fr": [
            "Comment renouveler mon passeport ?",
            "Puis-je garer ma voiture dans la rue pendant la nuit ?",
        ],
        "de": [
            "Wie verlängere ich meinen Reisepass?",
            "Darf ich mein Auto über Nacht auf der Straße parken?",
        ],
    },
    "instruction": {
        "en": ["Write a short poem about the sea.", "List three uses of baking soda."],
        "es": ["Escribe un poema corto sobre el mar.", "Enumera tres usos del bicarbonato de sodio."],
        "fr": ["Écris un court poème sur la mer.", "Cite trois utilisations du bicarbonate de soude."],
        "de": ["Schreibe ein kurzes Gedicht über das Meer.", "Nenne drei Verwendungen von Natron."],
    },
}
LANGUAGES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German"}
PIVOTS = tuple(code for code in LANGUAGES if code != "en")


def form(text: str) -> str:
    """A question (ends with '?') or an instruction: which examples and wording to use."""
    return "question" if text.rstrip().endswith("?") else "instruction"


def few_shot(instruction: str, shots: Shots, text: str) -> list[dict[str, str]]:
    """The worked examples as earlier turns, then the request for `text`."""
    messages = []
    for asked, answered in shots:
        messages += [
            {"role": "user", "content": f"{instruction}\n{asked}"},
            {"role": "assistant", "content": answered},
        ]
    return [*messages, {"role": "user", "content": f"{instruction}\n{text}"}]


def paraphrase_request(text: str) -> list[dict[str, str]]:
    instruction, shots = PARAPHRASE[form(text)]
    return few_shot(instruction, shots, text)


def translation_request(text: str, source: str, target: str, kind: str) -> list[dict[str, str]]:
    """Translate `text` (a `kind`: question or instruction, of the English original) from `source` into
    `target`, language codes of LANGUAGES."""
    examples = EXAMPLES[kind]
    shots = list(zip(examples[source], examples[target], strict=True))
    return few_shot(f"Translate this {kind} into {LANGUAGES[target]}:", shots, text)
