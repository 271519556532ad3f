"""Every config shipped in src/thrifty/configs validates against the schema (torchtune checks its
recipes' configs the same way), and the DPO one trains on preferences with the frozen base as reference."""

from pathlib import Path

import pytest

import thrifty
from thrifty.config.load import load_config

CONFIGS = sorted((Path(thrifty.__file__).parent / "configs").glob("*.yaml"))


def test_there_are_configs():
    assert {p.name for p in CONFIGS} >= {"smollm2-135m_lora_faq.yaml", "smollm2-135m_dpo_faq.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_validates(path):
    config = load_config(path)
    assert config.model.name == "smollm2-135m"
    if "dpo" in path.name:
        assert config.train.objective == "dpo" and config.method.name == "lora"
