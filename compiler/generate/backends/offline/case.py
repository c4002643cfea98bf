"""Writing the inputs of the prompt under test for the offline LM.

`write_inputs` writes the prompt-under-test variables from a case's `Scene` (read by
`offline_read.read_scene`): the user's message (`offline_message`), plus passages, tool results, history and
other values. Every choice comes from the scene's `random.Random`, so the order of the draws is part of the
output and must not change.
"""

from __future__ import annotations

import json
from typing import Any

from compiler.generate.backends.offline import domain_words as domains
from compiler.generate.backends.offline import text_words as bank
from compiler.generate.backends.offline.message import pick_second_ask, write_message
from compiler.generate.backends.offline.read import as_mapping, first_match
from compiler.generate.backends.offline.read import (
    read_scene as read_scene,  # offline.py reads a case through here
)
from compiler.generate.backends.offline.scene import Scene, partial_passage
from compiler.generate.backends.offline.situation import enumerated_values, situation_line
from compiler.generate.backends.offline.tools import summarize_order, write_tool_result


def _passages(sc: Scene) -> str:
    rng, fact = sc.rng, sc.fact
    others = [f for f in domains.MANUAL_FACTS if f is not fact and f is not sc.second_fact]
    chosen = rng.sample(others, 2)
    if fact is not None and sc.answerable != "no":
        if sc.answerable == "partial":
            chosen.append((fact[0], fact[1], partial_passage(fact[2]), fact[3]))
        else:
            chosen.append(fact)
            if sc.asks_second and sc.second_fact is not None:
                chosen.append(sc.second_fact)
    rng.shuffle(chosen)
    return "\n".join(f"[{sec}] {text}" for _, _, text, sec in chosen)


def variable_role(name: str, spec: dict[str, Any]) -> str:
    text = f"{name.replace('_', ' ')} {spec.get('description', '')}".lower()
    if "json" in text:
        return "json"
    table = (
        (
            "passage",
            ("passage", "context", "document", "excerpt", "retriev", "chunk", "snippet", "knowledge"),
        ),
        ("history", ("history", "conversation", "transcript", "previous")),
        ("tools", ("tools", "available tool", "functions")),
        (
            "message",
            (
                "message",
                "question",
                "query",
                "request",
                "utterance",
                "input",
                "ask",
                "prompt",
                "instruction",
                "text",
                "complaint",
            ),
        ),
    )
    return first_match(text, table) or "other"


def _enumerated_value(sc: Scene, name: str, options: tuple[str, ...]) -> str:
    """One of the values a variable's description enumerates, the one the cell names when it names one; or
    the cell's value of the dimension named like the variable (`locale` and `author_locale: Français`, where
    "such as English or Deutsch" only gave examples)."""
    said = " ".join(v.lower() for _, v, _ in sc.cell)
    named = [o for o in options if o.lower() in said]
    if named:
        return named[0]
    words = set(name.lower().split("_"))
    kin = [v for d, v, _ in sc.cell if words <= set(d.lower().split("_"))]
    return kin[0] if len(kin) == 1 else sc.rng.choice(options)


def _rules_text(sc: Scene, name: str) -> str:
    """Terms or rules a variable carries, written from the cell: `fare_rules` with `non_refundable`."""
    words = {w for w in name.lower().split("_") if len(w) >= 3}
    lines = []
    for dim, value, negative in sc.extras:
        noun = next((w for w in dim.lower().split("_") if w in words), "")
        if not noun:
            continue  # only the values the rules are about: `fare_type` for `fare_rules`
        head = f"{value[:1].upper()}{value[1:]}" + ("" if noun in value.lower() else f" {noun}")
        lines.append(f"{head}: the usual terms no longer apply." if negative else f"{head}.")
    lines.append(sc.pick(bank.RULE_LINES))
    return " ".join(lines)


def _other_value(sc: Scene, name: str, spec: dict[str, Any]) -> str:
    f, low = sc.facts, name.lower()
    same = next((v for d, v, _ in sc.cell if d == name), None)
    if same is not None:  # a variable named after a dimension carries the cell's value (`locale: ja-JP`)
        sc.given.append((name, same))
        return same
    description = str(spec.get("description", ""))
    options = enumerated_values(description)
    if options:
        value = _enumerated_value(sc, name, options)
        sc.given.append((name, value))
        return value
    text = f"{low.replace('_', ' ')} {description.lower()}"
    if any(w in text for w in ("country", "where", "region")):
        value = sc.rng.choice(bank.COUNTRIES)
        sc.given.append((name, value))
        return value
    for words, key in (
        (("email",), "email"),
        (("name",), "name"),
        (("date", "day"), "date"),
        (("product", "item"), "item"),
        (("order", "id"), "order_id"),
        (("city", "location"), "city"),
        (("amount", "price"), "amount"),
    ):
        if any(w in low for w in words):
            return f[key]
    if "lang" in low or "locale" in low:
        return sc.lang
    if any(w in text for w in ("rule", "terms", "policy", "conditions", "notes")):
        return _rules_text(sc, name)
    lines = [situation_line(d, v, n, sc.rng, sc.notes.get(d, "")) for d, v, n in sc.extras]
    return " ".join(lines) or sc.pick(("About {topic}.", "Regarding {topic}."))


def write_inputs(sc: Scene, names: list[str], variables: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """The prompt-under-test variables, and which one carries the user's message."""
    specs = {n: as_mapping(variables.get(n)) for n in names}
    roles = {n: variable_role(n, specs[n]) for n in names}
    main = next((n for n in names if roles[n] == "message"), None) or next(
        (n for n in names if roles[n] == "other"), names[0] if names else None
    )
    values: dict[str, str] = {}
    for name in names:
        role, spec = roles[name], specs[name]
        if name == main:
            values[name] = write_message(sc)
            continue
        if role == "json":
            text = f"{name} {spec.get('description', '')}".lower()
            obj = (
                write_tool_result(sc)
                if any(w in text for w in ("tool", "result", "api"))
                else summarize_order(sc)
                if "order" in text or sc.flavor == "shop"
                else {
                    "id": sc.facts["order_id"],
                    "opened": sc.facts["iso"],
                    "summary": " ".join(
                        situation_line(d, v, n, sc.rng, sc.notes.get(d, "")) for d, v, n in sc.extras
                    )
                    or f"About {sc.topic_value}.",
                }
            )
            value = json.dumps(obj, ensure_ascii=False)
        elif role == "passage":
            value = _passages(sc) if sc.flavor == "manual" else sc.pick(bank.GENERIC_DETAILS)
        elif role == "history":
            value = (
                "User: "
                + pick_second_ask(sc)
                + "\nAssistant: "
                + sc.pick(("Could you share a few more details?", "Let me check that for you."))
            )
        elif role == "tools":
            value = json.dumps(list(sc.tools)) if "json" in str(spec).lower() else ", ".join(sc.tools)
        else:
            value = _other_value(sc, name, spec)
        keep = role == "passage" or (role == "json" and sc.tool_state != "")
        if spec.get("required") is False and not keep and sc.rng.random() < 0.3:
            value = ""
        values[name] = value
    return values, main
