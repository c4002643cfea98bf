"""The tool side of a case for the offline LM: the calls a good answer makes, the tool result and the order
summary the prompt shows. Every choice comes from the scene's `random.Random`: the order of draws is output."""

from __future__ import annotations

from typing import Any

from compiler.generate.backends.offline.scene import Scene


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


def write_tool_result(sc: Scene) -> dict[str, Any]:
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
        result = summarize_order(sc)
    out: dict[str, Any] = {"tool": tool, "status": "ok", "result": result}
    if sc.tool_state == "stale":
        out["fetched_at"] = f"2024-{f['iso'][5:]}T08:15:00Z"
        out["cache_age_hours"] = sc.rng.randint(20, 96)
    return out


def summarize_order(sc: Scene) -> dict[str, Any]:
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
