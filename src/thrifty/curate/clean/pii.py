"""PII scrubbing: e-mail addresses, phone numbers and IBANs in a record's text become placeholders
([EMAIL], [PHONE], [IBAN]), so the row stays and keeps its meaning. A transform, not a rule: nothing
is removed. Everything runs offline: phonenumbers and schwifty carry their metadata in their wheels.

IBANs go first (their digit runs would otherwise read as phone numbers), then e-mails, then phones.
"""

import re
from collections import Counter
from typing import Any

from thrifty.errors import UserError

PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "iban": "[IBAN]"}
# Regions whose national-format numbers are recognised (international +NN numbers are, whatever these
# are): the US/Canada plan, the UK, Germany and Sweden (the bundled FAQ's country).
DEFAULT_REGIONS = ("US", "GB", "DE", "SE")

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# Country code, check digits, then the account part: compact, or printed in groups of four.
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b")


def check_regions(text: str) -> tuple[str, ...]:
    """--pii-regions "us,se" -> ("US", "SE"), each a region phonenumbers knows."""
    import phonenumbers

    regions = tuple(r.strip().upper() for r in text.split(",") if r.strip())
    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown or not regions:
        raise UserError(
            f"--pii-regions {text}: unknown region(s) {', '.join(unknown) or '(none given)'}; use two-letter "
            "country codes such as US, GB, DE, SE"
        )
    return regions


def scrub_record(record: dict[str, Any], regions: tuple[str, ...], counts: Counter) -> dict[str, Any]:
    """A copy of `record` with every string inside it (messages and lists too) scrubbed."""
    return {key: _scrub_value(value, regions, counts) for key, value in record.items()}


def _scrub_value(value: Any, regions: tuple[str, ...], counts: Counter) -> Any:
    if isinstance(value, str):
        return scrub_text(value, regions, counts)
    if isinstance(value, list):
        return [_scrub_value(v, regions, counts) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v, regions, counts) for k, v in value.items()}
    return value


def scrub_text(text: str, regions: tuple[str, ...], counts: Counter) -> str:
    """`text` with its IBANs, e-mails and phone numbers replaced; `counts` gains one per replacement."""
    text = IBAN.sub(lambda m: _iban(m.group(0), counts), text)
    text, n = EMAIL.subn(PLACEHOLDERS["email"], text)
    counts["email"] += n
    return _phones(text, regions, counts)


def _iban(candidate: str, counts: Counter) -> str:
    """The placeholder when `candidate` (or it without trailing groups of four, which may be a number
    that follows) is a valid IBAN by schwifty's country lengths and check digits; else as it was."""
    from schwifty import IBAN as Iban

    parts = candidate.split(" ")
    for end in range(len(parts), 0, -1):
        try:
            Iban("".join(parts[:end]))
        except ValueError:  # schwifty's errors (bad length, checksum, country) are ValueErrors
            continue
        counts["iban"] += 1
        rest = " ".join(parts[end:])
        return PLACEHOLDERS["iban"] + (f" {rest}" if rest else "")
    return candidate


def _phones(text: str, regions: tuple[str, ...], counts: Counter) -> str:
    """Numbers phonenumbers finds valid (its default leniency) for any of `regions`; overlapping finds
    of several regions count once."""
    import phonenumbers

    found = {(m.start, m.end) for r in regions for m in phonenumbers.PhoneNumberMatcher(text, r)}
    spans = sorted(found, key=lambda span: (span[0], -span[1]))  # the longest find at a start wins
    out, last = [], 0
    for start, end in spans:
        if start < last:  # inside a number already replaced
            continue
        out.append(text[last:start] + PLACEHOLDERS["phone"])
        counts["phone"] += 1
        last = end
    return "".join(out) + text[last:]
