"""The Modelfile TEMPLATE is read off the tokenizer's own chat template: the role wrappers it finds must
rebuild exactly what the chat template renders."""

from pathlib import Path

from tests.conftest import CHATML, build_tokenizer
from thrifty.export.ollama import analyse_template, go_template, modelfile

LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' "
    "+ m['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
NO_SYSTEM = (  # Gemma-style: refuses a system role
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
    "{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + m['content'] + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


def _rebuild(turns, system: str | None, user: str, answer: str, question: str) -> str:
    """What the Go template would print for [system, user, assistant, user] plus the open assistant turn."""
    (up, us), (ap, asuf) = turns.user, turns.assistant
    text = turns.system[0] + system + turns.system[1] if system else ""
    return text + up + user + us + ap + answer + asuf + up + question + us + ap


def _tokenizer(template):
    tok = build_tokenizer(CHATML)
    tok.chat_template = template
    return tok


def test_chatml_and_llama3_role_wrappers_rebuild_the_chat_template():
    for template in (CHATML, LLAMA3):
        tok = _tokenizer(template)
        turns = analyse_template(tok)
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Permit?"},
        ]
        expected = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        expected = expected.removeprefix(tok.bos_token) if template == LLAMA3 else expected
        assert _rebuild(turns, "Be brief.", "Hi", "Hello", "Permit?") == expected
    assert turns.stops == ["<|eot_id|>", "<|start_header_id|>user<|end_header_id|>", "<|im_end|>"]


def test_default_system_text_becomes_system_and_override_wins():
    smol = (
        "{% for m in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are SmolLM.<|im_end|>\n' }}{% endif %}"
        "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    tok = _tokenizer(smol)
    text, notes = modelfile(Path("m-q8_0.gguf"), tok, adapter=Path("a.gguf"))
    assert text.startswith(
        'FROM ./m-q8_0.gguf\nADAPTER ./a.gguf\nTEMPLATE """{{ if .System }}<|im_start|>system\n'
    )
    assert 'SYSTEM """You are SmolLM."""' in text and 'PARAMETER stop "<|im_end|>"' in text and not notes
    assert 'SYSTEM """Answer in Swedish."""' in modelfile(Path("m.gguf"), tok, system="Answer in Swedish.")[0]


def test_templates_without_system_role_or_chat_template_and_the_fallback():
    gemma = analyse_template(_tokenizer(NO_SYSTEM))
    assert gemma.system is None and gemma.assistant == ("<start_of_turn>model\n", "<end_of_turn>\n")
    assert "{{ if .System }}" not in go_template(gemma)
    plain = analyse_template(_tokenizer(None))  # no chat template: thrifty's plain training template
    assert plain.user == ("### Instruction:\n", "\n\n### Response:\n")
    odd = "{{ messages | length }} messages"  # not a role wrapper at all
    text, notes = modelfile(Path("m.gguf"), _tokenizer(odd))
    assert "TEMPLATE" not in text and "template stored in the GGUF" in notes[0]
