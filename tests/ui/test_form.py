"""The start form is the schema: every field with its help text; a bad value gets the CLI's own line."""

import html
import re

import pytest
from starlette.testclient import TestClient

from thrifty.config.docs import field_rows
from thrifty.config.load import load_config
from thrifty.errors import UserError
from thrifty.ui.app import build_app
from thrifty.ui.form import NOT_IN_FORM, overrides_from


@pytest.fixture
def c(tmp_path):
    return TestClient(build_app(tmp_path, None), base_url="http://127.0.0.1:7860", follow_redirects=False)


def _csrf(c) -> str:
    return re.search(r'name="_csrf" value="([^"]+)"', c.get("/new").text).group(1)


def test_every_schema_field_is_in_the_form_with_its_help(c):
    page = html.unescape(c.get("/new").text)
    rows = [r for r in field_rows() if r["field"] not in NOT_IN_FORM]
    assert len(rows) > 50
    for row in rows:
        assert f'name="{row["field"]}"' in page, row["field"]
        assert row["help"] in page, row["field"]
    assert 'name="output.overwrite"' not in page  # the page never replaces a run


def test_only_changed_fields_become_overrides():
    form = {"_csrf": "t", "_run": "r", "train.learning_rate": "0.0002", "train.max_steps": "7"}
    form["method.target_modules"] = "[q_proj, v_proj]"
    assert overrides_from(form) == ["train.max_steps=7", "method.target_modules=[q_proj, v_proj]"]
    with pytest.raises(UserError, match="one line"):
        overrides_from({"data.system_prompt": "a\nb"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("train.learning_rate", "-1"),
        ("method.rank", "zero"),
        ("train.precision", "fp8"),
        ("bogus.field", "1"),
    ],
)
def test_a_bad_value_is_refused_with_the_clis_message(c, tmp_path, field, value):
    try:
        load_config(None, [f"{field}={value}"])
    except UserError as exc:
        expected = str(exc)
    response = c.post("/new", data={"_csrf": _csrf(c), "_run": "r1", field: value})
    assert response.status_code == 400
    shown = html.unescape(
        re.search(r'<p class="error" id="error">error: (.*?)</p>', response.text, re.S).group(1)
    )
    assert shown == expected and "\n" not in shown
    assert not (tmp_path / "r1").exists() and not (tmp_path / ".thrifty-ui").exists()


def test_missing_inputs_and_bad_folder_names_are_refused(c, tmp_path):
    csrf = _csrf(c)
    missing = c.post("/new", data={"_csrf": csrf, "_run": "r", "model.name": str(tmp_path / "no-model")})
    assert missing.status_code == 400 and "no-model" in html.unescape(missing.text)
    for name in ("../escape", "/abs", ""):
        response = c.post("/new", data={"_csrf": csrf, "_run": name})
        assert response.status_code == 400 and "run folder" in response.text, name
    (tmp_path / "taken").mkdir()
    assert "already exists" in c.post("/new", data={"_csrf": csrf, "_run": "taken"}).text
    assert not (tmp_path.parent / "escape").exists()
