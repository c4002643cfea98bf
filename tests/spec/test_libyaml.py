"""OmegaConf's loader on libyaml reads every text as OmegaConf's own loader does, errors included."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from omegaconf import OmegaConf
from omegaconf._utils import get_yaml_loader

from compiler.spec.libyaml import libyaml_twin, libyaml_while_composing

TEXTS = {
    "values": "a: 1e3\nb: 2026-10-01\nc: [x, 'y', {d: ~}]\ne: &z 3\nf: *z\ng: |\n  one\n  two\nh: 0o17\n",
    "duplicate-key": "seed: 1\nname: x\nseed: 2\n",
    "tab": "a:\n\tb: 1\n",
    "mapping-value": "a: b: c\n",
    "bad-indent": "a:\n  - b\n - c\n",
    "empty": "",
}


def _load(loader: type, text: str, named: bool) -> Any:
    stream: Any = io.StringIO(text) if named else text
    if named:
        stream.name = "/p/conf/dataset/x.yaml"
    try:
        return yaml.load(stream, Loader=loader)
    except yaml.YAMLError as exc:
        return str(exc)


@pytest.mark.parametrize("named", [True, False], ids=["file", "string"])
@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_the_twin_reads_and_words_yaml_as_omegaconf_does(text: str, named: bool) -> None:
    original = get_yaml_loader()
    assert _load(libyaml_twin(original), text, named) == _load(original, text, named)


def test_omegaconf_load_uses_the_twin_only_inside_the_block() -> None:
    with libyaml_while_composing():
        inside = OmegaConf.load(io.StringIO(TEXTS["values"]))
    assert OmegaConf.to_container(inside) == OmegaConf.to_container(
        OmegaConf.load(io.StringIO(TEXTS["values"]))
    )
    assert get_yaml_loader().__name__ == "OmegaConfLoader"
