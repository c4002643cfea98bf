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


def _tool_for(sc: Scene, hints: tuple[str, ...]) -> list[str]:
    found = [t for h in hints for t in sc.tools if h in t]
    if found:
        return list(dict.fromkeys(found))
    return [f"{hints[0]}_lookup"] if hints else []


def _tool_call(sc: Scene, tool: str) -> str:
    f = sc.facts
    if "search" in tool or "find" in tool:
        args = f"origin='{f['city']}', destination='{f['city2']}', date='{f['iso']}'"
    elif "book" in tool and "cancel" not in tool:
        args = f"flight='{f['flight']}', date='{f['iso']}'"
    elif "cancel" in tool:
        args = f"booking_ref='{f['booking_ref']}'" if sc.flavor == "travel" else f"order_id='{f['order_id']}'"
    elif "calendar" in tool:
        args = f"date='{f['iso']}'"
    elif sc.flavor == "shop":
        args = f"order_id='{f['order_id']}'"
    else:
        args = f"query='{sc.topic_value}'"
    return f"{tool}({args})"


def expected_tool_calls(sc: Scene) -> list[str]:
    """The tool calls a correct turn makes, in order (none when no tool can or should run)."""
    if sc.topic is None or sc.stance in ("refuse", "clarify", "abstain") or sc.tool_state == "missing":
        return []
    tools = _tool_for(sc, sc.topic.tools)[: 1 + (sc.shape == "multi") + ("reschedul" in sc.topic.words[0])]
    calls = [_tool_call(sc, t) for t in tools]
    if sc.tool_state == "error" and calls and sc.rng.random() < 0.4:
        calls.append(calls[-1])  # one retry
    return calls


def _tool_result(sc: Scene) -> dict[str, Any]:
    f = sc.facts
    tools = _tool_for(sc, sc.topic.tools if sc.topic is not None else ("search",))
    tool = tools[0] if tools else "lookup"
    if sc.tool_state == "missing":
        suffix = tool.split("_")[-1]
        missing = next(
            name
            for name in (
                f"{sc.facts['topic_word'].lower()}_{suffix}",
                f"modify_{suffix}",
                f"manage_{suffix}",
                f"{suffix}_admin",
            )
            if name not in sc.tools
        )
        return {"tool": missing, "status": "error", "error": f"unknown tool '{missing}'"}
    if sc.tool_state == "error":
        return {
            "tool": tool,
            "status": "error",
            "error": sc.pick(
                (
                    "504 Gateway Timeout",
                    "rate limit exceeded",
                    "upstream provider unavailable",
                    "invalid date format: '{date}'",
                )
            ),
        }
    if "cancel" in tool:
        result: dict[str, Any] = {
            "booking_ref": f["booking_ref"],
            "status": "cancelled",
            "refund": f["amount"],
        }
    elif "search" in tool or ("flight" in tool and "book" not in tool):
        result = {
            "flights": [
                {
                    "flight": f["flight"],
                    "from": f["city"],
                    "to": f["city2"],
                    "departs": f"{f['iso']}T{f['time']}",
                    "price": f["amount"],
                },
                {
                    "flight": f"{f['flight'][:2]}{int(f['flight'][2:]) + 7}",
                    "from": f["city"],
                    "to": f["city2"],
                    "departs": f"{f['iso']}T{sc.rng.randint(12, 21)}:10",
                    "price": f["amount"],
                },
            ]
        }
    elif "book" in tool:
        result = {"booking_ref": f["booking_ref"], "flight": f["flight"], "status": "confirmed"}
    elif "calendar" in tool:
        result = {
            "date": f["iso"],
            "events": [{"time": f["time"], "title": sc.pick(("Team sync", "Dentist", "Client call"))}],
        }
    else:
        result = _order_summary(sc)
    out: dict[str, Any] = {"tool": tool, "status": "ok", "result": result}
    if sc.tool_state == "stale":
        out["fetched_at"] = f"2024-{f['iso'][5:]}T08:15:00Z"
        out["cache_age_hours"] = sc.rng.randint(20, 96)
    return out


def _order_summary(sc: Scene) -> dict[str, Any]:
    f, words = sc.facts, (sc.topic.words if sc.topic is not None else ("",))
    status = (
        "in_transit"
        if "ship" in words
        else "processing"
        if "cancel" in words
        else sc.rng.choice(("delivered", "return_requested"))
        if "refund" in words
        else "delivered"
    )
    summary: dict[str, Any] = {
        "order_id": f["order_id"],
        "placed_days_ago": int(f["days"]),
        "status": status,
        "items": [{"name": f["item"], "qty": 1, "price": f["amount"]}],
    }
    if status in ("in_transit", "delivered"):
        summary["carrier"] = f["carrier"]
    if sc.boundary == "edge":
        summary["opened"] = True
    return summary


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


def _enumerated_value(sc: Scene, options: tuple[str, ...]) -> str:
    """One of the values a variable's description enumerates, the one the cell names when it names one."""
    said = " ".join(v.lower() for _, v, _ in sc.cell)
    named = [o for o in options if o.lower() in said]
    return named[0] if named else sc.rng.choice(options)


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
    description = str(spec.get("description", ""))
    options = enumerated_values(description)
    if options:
        value = _enumerated_value(sc, options)
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
                _tool_result(sc)
                if any(w in text for w in ("tool", "result", "api"))
                else _order_summary(sc)
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
