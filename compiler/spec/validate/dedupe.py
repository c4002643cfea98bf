"""The `dedupe` block of a dataset config: exact, near (word or character shingles) and semantic dedupe."""

from __future__ import annotations

from typing import Any

from compiler.spec.model import LOCAL_EMBEDDER, MAX_NGRAM, SHINGLE_NGRAM, Dedupe, SemanticDedupe, Variable
from compiler.spec.validate.fields import (
    Problems,
    Range,
    check_keys,
    closest_name,
    parse_mapping,
    parse_number,
    parse_text,
)


def parse_dedupe(problems: Problems, raw: Any, variables: tuple[Variable, ...]) -> Dedupe:
    data = parse_mapping(problems, "dedupe", raw if raw is not None else {}, "a mapping with `near` and `on`")
    check_keys(problems, "dedupe", data, ("near", "on", "existing", "shingle", "ngram", "semantic"))
    existing = data.get("existing", ["curated", "versions"])
    if isinstance(existing, str):
        existing = [existing]
    for kind in existing or []:
        if kind not in ("curated", "versions"):
            problems.add("dedupe.existing", f"unknown kind {kind!r}; use a list of curated, versions (or [])")
    near = data.get("near", 0.85)
    if near is not None:
        near = parse_number(problems, "dedupe.near", near, within=Range(low=0, high=1, low_open=True))
    shingle = data.get("shingle", "word")
    if shingle not in SHINGLE_NGRAM:
        close = closest_name(str(shingle), SHINGLE_NGRAM)
        hint = f"did you mean `{close}`? " if close else ""
        problems.add("dedupe.shingle", f"unknown shingle {shingle!r}; {hint}use word or char")
        shingle = "word"
    ngram = data.get("ngram", SHINGLE_NGRAM[shingle])
    ngram = parse_number(problems, "dedupe.ngram", ngram, integer=True, within=Range(low=1, high=MAX_NGRAM))
    names = [v.name for v in variables]
    on = data.get("on") or names
    if isinstance(on, str):
        on = [on]
    for name in on:
        if name not in names:
            problems.add("dedupe.on", f"`{name}` is not a prompt variable; use some of {', '.join(names)}")
    return Dedupe(
        near=None if near is None else float(near),
        on=tuple(str(n) for n in on),
        existing=tuple(str(k) for k in existing or ()),
        shingle="char" if shingle == "char" else "word",
        ngram=int(ngram) if ngram is not None else SHINGLE_NGRAM[shingle],
        semantic=parse_semantic(problems, data.get("semantic", False)),
    )


def parse_semantic(problems: Problems, raw: Any) -> SemanticDedupe | None:
    """`dedupe.semantic`: false, true (the local hashing embedder) or {embedder, threshold, ...}."""
    if raw is False or raw is None:
        return None
    if raw is True:
        return SemanticDedupe()
    path = "dedupe.semantic"
    data = parse_mapping(problems, path, raw, "true, false or a mapping with `embedder` and `threshold`")
    check_keys(
        problems, path, data, ("embedder", "threshold", "api_base", "api_key_env", "batch_size", "price")
    )
    embedder = data.get("embedder", LOCAL_EMBEDDER)
    if not isinstance(embedder, str) or not embedder.strip():
        problems.add(
            f"{path}.embedder", f"must be {LOCAL_EMBEDDER!r} or a dspy.Embedder model, got {embedder!r}"
        )
        embedder = LOCAL_EMBEDDER
    elif embedder != LOCAL_EMBEDDER and "/" not in embedder:
        problems.add(
            f"{path}.embedder",
            f"{embedder!r} names no provider; use {LOCAL_EMBEDDER!r} or provider/model, "
            "e.g. openai/text-embedding-3-small",
        )
    threshold = parse_number(
        problems, f"{path}.threshold", data.get("threshold", 0.9), within=Range(low=0, high=1, low_open=True)
    )
    batch_size = parse_number(
        problems, f"{path}.batch_size", data.get("batch_size", 64), integer=True, within=Range(low=1)
    )
    price = parse_number(problems, f"{path}.price", data.get("price", 0.0), within=Range(low=0))
    texts = {}
    for key in ("api_base", "api_key_env"):
        if data.get(key) is not None:
            texts[key] = parse_text(problems, f"{path}.{key}", data[key])
    if "api_key_env" in texts and not texts["api_key_env"].replace("_", "").isalnum():
        problems.add(
            f"{path}.api_key_env", "must be the *name* of an environment variable, e.g. OPENAI_API_KEY"
        )
    return SemanticDedupe(
        embedder=str(embedder),
        threshold=float(threshold) if threshold is not None else 0.9,
        batch_size=int(batch_size) if batch_size is not None else 64,
        api_base=texts.get("api_base") or None,
        api_key_env=texts.get("api_key_env") or None,
        price=float(price) if price is not None else 0.0,
    )
