"""An Ollama Modelfile for an exported GGUF: FROM, TEMPLATE, PARAMETER stop, SYSTEM, ADAPTER.

The TEMPLATE is derived from the tokenizer's own chat template by rendering it around marker strings and
reading off what it puts before and after each role's text (ChatML, Llama 3, Zephyr, Phi-3 and the like
all come out right). A model without a chat template gets thrifty's plain "### Instruction:" template,
which is what it was trained with. A template that cannot be analysed this way gets no TEMPLATE line:
Ollama then uses the chat template stored inside the GGUF, and thrifty says so.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thrifty.data.template import PLAIN_PARTS

MARK = {
    "system": "\x01SYS\x01",
    "user": "\x01USR\x01",
    "user2": "\x01USR2\x01",
    "assistant": "\x01AST\x01",
    "a2": "\x01AST2\x01",
}


@dataclass
class Turns:
    """Text a chat template puts around each role's content."""

    system: tuple[str, str] | None  # None: the template has no system role
    user: tuple[str, str]
    assistant: tuple[str, str]
    default_system: str | None = None  # a system text the template inserts when none is given
    stops: list[str] = field(default_factory=list)


def analyse_template(tokenizer: Any) -> Turns | None:
    """Role prefixes/suffixes of `tokenizer`'s chat template, or None when it does not fit that model."""
    if not tokenizer.chat_template:
        return _plain_turns(tokenizer)
    try:
        return _chat_turns(tokenizer)
    except Exception:  # jinja errors, missing markers: templates with logic beyond role wrapping
        return None


def _render(tokenizer, messages, generation: bool = False) -> str:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    bos = tokenizer.bos_token or ""
    # llama.cpp adds BOS itself (the GGUF records add_bos_token), so a leading BOS is not template text;
    # unless the same token also opens every turn (SmolLM2's BOS is <|im_start|>).
    if bos and text.startswith(bos) and text.count(bos) == 1:
        return text[len(bos) :]
    return text


def _chat_turns(tokenizer) -> Turns | None:
    u, a, u2, a2 = MARK["user"], MARK["assistant"], MARK["user2"], MARK["a2"]
    convo = [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    two = _render(tokenizer, [*convo, {"role": "user", "content": u2}, {"role": "assistant", "content": a2}])
    asked = _render(tokenizer, convo[:1], generation=True)
    plain = _render(tokenizer, convo[:1])
    if not asked.startswith(plain):
        return None
    assistant_pre = asked[len(plain) :]
    between_ua = two[two.index(u) + len(u) : two.index(a)]
    if not between_ua.endswith(assistant_pre):
        return None
    user_suf = between_ua[: len(between_ua) - len(assistant_pre)]
    assistant_suf = two[two.index(a2) + len(a2) :]
    between_au = two[two.index(a) + len(a) : two.index(u2)]
    if not between_au.startswith(assistant_suf):
        return None
    user_pre = between_au[len(assistant_suf) :]
    head = two[: two.index(u)]
    if not head.endswith(user_pre):
        return None
    turns = Turns(_system_turn(tokenizer, user_pre), (user_pre, user_suf), (assistant_pre, assistant_suf))
    default = head[: len(head) - len(user_pre)]
    if default and turns.system and default.startswith(turns.system[0]) and default.endswith(turns.system[1]):
        turns.default_system = default[len(turns.system[0]) : len(default) - len(turns.system[1])]
    turns.stops = _stops([assistant_suf, user_pre, tokenizer.eos_token])
    return turns


def _system_turn(tokenizer, user_pre: str) -> tuple[str, str] | None:
    s, u = MARK["system"], MARK["user"]
    try:
        text = _render(tokenizer, [{"role": "system", "content": s}, {"role": "user", "content": u}])
    except Exception:
        return None  # e.g. Gemma's template raises on a system role
    if s not in text:
        return None
    between = text[text.index(s) + len(s) : text.index(u)]
    if not between.endswith(user_pre):
        return None
    return text[: text.index(s)], between[: len(between) - len(user_pre)]


def _plain_turns(tokenizer) -> Turns:
    eos = tokenizer.eos_token or ""
    user_pre, user_suf = PLAIN_PARTS["user"].split("{content}")
    sys_pre, sys_suf = PLAIN_PARTS["system"].split("{content}")
    return Turns(
        (sys_pre, sys_suf), (user_pre, user_suf), ("", eos + "\n\n"), stops=_stops([eos, "### Instruction:"])
    )


def _stops(candidates: list[str | None]) -> list[str]:
    return list(dict.fromkeys(c.strip() for c in candidates if c and c.strip()))


def go_template(turns: Turns) -> str:
    """Ollama's Go template for these turns: system first, then each message; an open assistant turn last."""
    (up, us), (ap, asuf) = turns.user, turns.assistant
    # One line, no whitespace-trimming markers ({{-): the literal text around each tag is exactly what the
    # chat template produces, newlines included.
    out = ""
    if turns.system:
        sp, ss = turns.system
        out += "{{ if .System }}" + sp + "{{ .System }}" + ss + "{{ end }}"
    out += (
        "{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}"
        '{{ if eq .Role "user" }}'
        + up
        + "{{ .Content }}"
        + us
        + '{{ else if eq .Role "assistant" }}'
        + ap
        + "{{ .Content }}{{ if not $last }}"
        + asuf
        + "{{ end }}"
        + '{{ end }}{{ if and $last (ne .Role "assistant") }}'
        + ap
        + "{{ end }}{{ end }}"
    )
    return out


def modelfile(
    gguf: Path,
    tokenizer: Any,
    system: str | None = None,
    adapter: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> tuple[str, list[str]]:
    """(Modelfile text, notes for the user). Paths are written relative to the Modelfile's folder."""
    notes: list[str] = []
    lines = [f"FROM ./{gguf.name}"]
    if adapter is not None:
        lines.append(f"ADAPTER ./{adapter.name}")
    turns = analyse_template(tokenizer)
    if turns is None:
        notes.append(
            "the chat template is not a plain role wrapper, so no TEMPLATE was written: Ollama uses the "
            "template stored in the GGUF; check it with `ollama show --template`"
        )
    else:
        lines.append('TEMPLATE """' + go_template(turns) + '"""')
        for stop in turns.stops:
            lines.append(f"PARAMETER stop {_quote(stop)}")
    system = system if system is not None else (turns.default_system if turns else None)
    if system:
        lines.append('SYSTEM """' + system.replace('"""', "'''") + '"""')
    for key, value in (parameters or {}).items():
        lines.append(f"PARAMETER {key} {value}")
    return "\n".join(lines) + "\n", notes


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
