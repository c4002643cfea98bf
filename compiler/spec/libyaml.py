"""OmegaConf's YAML loader on libyaml's parser while dsc composes: the same config, read ~8x faster.

Hydra reads every config file with OmegaConf's loader, a PyYAML `SafeLoader` (pure Python) that refuses
duplicate keys, reads `1e3` as a float and leaves timestamps as strings: about a tenth of a cold
`dsc plan`. The twin below keeps that loader's constructor and resolvers (so the same nodes build the
same values) and puts libyaml's parser and composer in front of them. Where the two parsers differ, the
original loader reads the text again: on any error (libyaml words errors differently, and a duplicate
key's message would lose its snippet) and for any text holding a tab (which libyaml reads where PyYAML
refuses it). So what Hydra composes, and every error it reports, stay as they were.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Iterator
from typing import Any

import yaml


def _reread(loader: type, text: str | bytes, name: str | None) -> Any:
    """What `loader` makes of the text, read from a stream like the one Hydra passed (same name)."""
    stream: Any = text
    if name is not None:
        stream = io.StringIO(text) if isinstance(text, str) else io.BytesIO(text)
        stream.name = name  # PyYAML names the file in its errors
    reader = loader(stream)
    try:
        return reader.get_single_data()
    finally:
        reader.dispose()


def libyaml_twin(loader: type) -> type:
    """`loader` (a PyYAML SafeLoader subclass) reading with libyaml, falling back to itself."""
    parser: Any = yaml.cyaml.CParser  # present when yaml.__with_libyaml__

    class LibyamlTwin(parser, loader):
        def __init__(self, stream: Any) -> None:
            has_read = hasattr(stream, "read")
            self._text: str | bytes = stream.read() if has_read else stream
            self._name: str | None = getattr(stream, "name", None) if has_read else None
            parser.__init__(self, self._text)
            constructor: Any = yaml.constructor.SafeConstructor
            resolver: Any = yaml.resolver.Resolver
            constructor.__init__(self)
            resolver.__init__(self)

        def get_single_data(self) -> Any:
            if isinstance(self._text, str) and "\t" not in self._text:
                with contextlib.suppress(Exception):
                    return super().get_single_data()
            return _reread(loader, self._text, self._name)

    return LibyamlTwin


@contextlib.contextmanager
def libyaml_while_composing() -> Iterator[None]:
    """Within the block, OmegaConf loads YAML with the libyaml twin of its own loader."""
    if not getattr(yaml, "__with_libyaml__", False):
        yield
        return
    utils: Any = importlib.import_module("omegaconf._utils")  # OmegaConf.load looks it up on every call
    original = utils.get_yaml_loader
    twin = libyaml_twin(original())
    utils.get_yaml_loader = lambda: twin
    try:
        yield
    finally:
        utils.get_yaml_loader = original
