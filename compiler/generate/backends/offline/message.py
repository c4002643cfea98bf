"""Writing the user's message of a case for the offline LM, shaped by its cell, strategy, persona and tactic.

Every choice comes from the scene's `random.Random`, so the order of the draws is part of the output and
must not change.
"""

from __future__ import annotations

from compiler.generate.backends.offline import domain_words as domains
from compiler.generate.backends.offline import text_words as bank
from compiler.generate.backends.offline.scene import Scene, flavor_topics
from compiler.generate.backends.offline.situation import situation_line


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text


def pick_second_ask(sc: Scene) -> str:
    """Another request the user could add: the second manual fact, or another topic of the flavour."""
    if sc.flavor == "manual" and sc.second_fact is not None:
        kind = sc.second_fact[0]
        topic = domains.MANUAL_TOPICS[("task", "symptom", "attr", "compare", "safety").index(kind)]
        return sc.rng.choice(topic.asks).replace("{subject}", sc.second_fact[1]).format_map(sc.facts)
    others = [t for t in flavor_topics(sc.flavor) if t is not sc.topic]
    return sc.pick(sc.rng.choice(others).asks) if others else sc.pick(_generic_asks(sc))


def _generic_asks(sc: Scene) -> tuple[str, ...]:
    """Asks about the case's subject; when the subject is something to do, asks to do it ("I'd like to
    cancel.", not "Could you advise me on cancel?")."""
    words = sc.topic_value.split()
    return bank.GENERIC_VERB_ASKS if words and words[0].lower() in bank.REQUEST_VERBS else bank.GENERIC_ASKS


def _core_request(sc: Scene) -> str:
    if sc.tactic == "out_of_scope":
        return sc.pick(bank.OFF_TOPIC)
    if sc.tactic == "semantic_ambiguity":
        return sc.pick(bank.AMBIGUOUS)
    if sc.unsupported:
        return sc.pick(bank.UNSUPPORTED_ASKS.get(sc.flavor, bank.UNSUPPORTED_ASKS[""]))
    if sc.question:
        return sc.question
    if sc.topic is not None:
        return sc.pick(sc.topic.vague if sc.shape == "vague" else sc.topic.asks)
    return sc.pick(_generic_asks(sc))


def _boundary_line(sc: Scene) -> list[str]:
    if sc.boundary == "edge":
        return [
            sc.pick(
                (
                    "It's exactly {window} days today, I think.",
                    "The {window} days are up today, I believe.",
                    "I opened it, but only to check it works.",
                )
                if sc.flavor == "shop"
                else (
                    "I'm not sure this is still allowed, it's right at the limit.",
                    "I think this is just on the edge of what's allowed.",
                )
            )
        ]
    if sc.boundary == "outside":
        return [
            sc.pick(
                (
                    "I know it's been more than {window} days.",
                    "I've used it for a few weeks already.",
                    "I don't have the receipt any more.",
                )
                if sc.flavor == "shop"
                else ("I know this is probably not allowed.", "I realise it's past the deadline.")
            )
        ]
    return []


def _apply_tactic(sc: Scene, parts: list[str]) -> list[str]:
    rng, tactic = sc.rng, sc.tactic
    if tactic == "prompt_injection":
        payloads = bank.INJECTION_PAYLOADS.get(sc.flavor, ()) + bank.INJECTION_PAYLOADS[""]
        line = rng.choice(bank.INJECTIONS).format(payload=rng.choice(payloads))
        parts.insert(rng.choice((0, len(parts), len(parts), max(1, len(parts) - 1))), line)
    elif tactic == "format_pressure":
        parts.append(sc.pick(bank.FORMAT_DEMANDS))
    elif tactic == "overlong_input":
        filler = rng.sample(bank.OVERLONG_FILLER, len(bank.OVERLONG_FILLER))
        story = " ".join(filler[:4]) + "\n\n" + " ".join(parts) + "\n\n" + " ".join(filler[4:])
        parts = [
            story,
            "\n\nTo repeat: " + parts[0],
            " ".join(rng.sample(filler, 4)),
            "\n\nAgain, " + lower_first(parts[0]),
        ]
    elif tactic == "double_intent":
        other = (
            sc.pick(bank.UNSUPPORTED_ASKS.get(sc.flavor, bank.UNSUPPORTED_ASKS[""]))
            if rng.random() < 0.4
            else pick_second_ask(sc)
        )
        parts.append("Also, " + lower_first(other))
    elif tactic == "role_confusion":
        parts.insert(0 if rng.random() < 0.6 else len(parts), sc.pick(bank.ROLE_CLAIMS))
    elif tactic == "distracting_context":
        for line in rng.sample(bank.DISTRACTIONS, 2):
            parts.insert(rng.randint(0, len(parts)), line)
    elif tactic == "boundary_values":
        parts.append(sc.pick(bank.BOUNDARY_LINES.get(sc.flavor, bank.BOUNDARY_LINES[""])))
    elif tactic == "policy_probe":
        parts.append(sc.pick(bank.POLICY_PROBES))
    return parts


def _apply_voice(sc: Scene, parts: list[str]) -> str:
    rng, styles, persona = sc.rng, sc.styles, sc.persona or {}
    expertise = str(persona.get("expertise", "")).lower()
    if persona:
        if any(w in expertise for w in ("novice", "beginner", "non-tech")) and rng.random() < 0.6:
            parts.insert(rng.choice((0, len(parts))), sc.pick(bank.NOVICE_LINES))
        if any(w in expertise for w in ("expert", "advanced", "professional")) and rng.random() < 0.6:
            parts.append(sc.pick(bank.EXPERT_LINES.get(sc.flavor, bank.EXPERT_LINES[""])))
        goal = str(persona.get("goal", "")).strip().rstrip(".")
        if goal and rng.random() < 0.5:
            verb = goal.split()[0].lower()
            parts.append(
                f"I just want to {lower_first(goal)}."
                if verb in bank.GOAL_VERBS
                else f"What matters to me: {lower_first(goal)}."
            )
    for style, lines in (
        ("angry", bank.ANGRY_LINES),
        ("probing", bank.PROBING_LINES),
        ("screen_reader", bank.SCREEN_READER_LINES),
        ("verbose", bank.OVERLONG_FILLER),
    ):
        if style in styles:
            parts.insert(rng.choice((0, len(parts))) if style != "probing" else len(parts), sc.pick(lines))
    if "checklist" in styles and len(parts) > 1:
        body = parts[0] + "\n" + "\n".join(f"- {p}" for p in parts[1:])
    else:
        body = " ".join(parts)
    if "broken" in styles:
        body = bank.break_grammar(body, rng)
    if "casual" in styles:
        body = body.lower().replace(" you ", " u ") + rng.choice(("", " 😅", " 🙏", " lol"))
    if "terse" in styles:
        body = lower_first(body).rstrip(".")
    register = next((s for s in ("formal", "casual", "angry", "polite") if s in styles), "")
    greetings, closings = bank.GREETINGS[register], bank.CLOSINGS[register]
    local = bank.LOCAL_LINES.get(sc.lang)
    if local is not None and rng.random() < 0.7:
        greetings, closings = local[0], local[1]
        if rng.random() < 0.4:
            body += " " + sc.pick(local[2])
    chance = {"email": 1.0, "social": 0.0, "phone": 0.0}.get(sc.channel, 0.0 if "terse" in styles else 0.45)
    greet = sc.pick(greetings) if rng.random() < chance else ""
    close = sc.pick(closings) if rng.random() < (chance if sc.channel else chance * 0.8) else ""
    if sc.channel == "social":
        return f"@{sc.facts['brand']} {body}"
    if sc.channel == "phone":
        return "Uh, hi, " + lower_first(body)
    if sc.channel == "email" or "\n" in close:
        return "\n\n".join(p for p in (greet, body, close) if p)
    if greet.endswith(","):
        body = lower_first(body)
    return " ".join(p for p in (greet, body, close) if p)


def write_message(sc: Scene) -> str:
    """The user's message of this case, shaped by its cell, strategy, persona and tactic."""
    rng = sc.rng
    if sc.tactic == "near_empty_input":
        return sc.pick(bank.NEAR_EMPTY)
    parts = [_core_request(sc)]
    if sc.tactic not in ("out_of_scope", "semantic_ambiguity"):
        pool = (sc.topic.details if sc.topic is not None else ()) + bank.GENERIC_DETAILS
        wanted = max(0, sc.level + ("verbose" in sc.styles) - ("terse" in sc.styles))
        for detail in rng.sample(pool, min(wanted, len(pool))):
            parts.insert(0 if rng.random() < 0.25 else len(parts), detail.format_map(sc.facts))
        if sc.level >= 2 and sc.flavor != "manual":
            parts.append(sc.pick(bank.COMPLICATIONS))
        if sc.asks_second:
            parts.append("And " + lower_first(pick_second_ask(sc)))
        parts += _boundary_line(sc)
        if sc.shape == "multi":
            parts.append("Then " + lower_first(pick_second_ask(sc)))
        elif sc.shape == "conflict":
            parts.append(sc.pick(bank.CONFLICTS))
        if sc.urgent:
            parts.append(sc.pick(bank.URGENT_LINES))
        if sc.shape == "leading":
            parts.append(sc.pick(bank.LEADING_LINES))
        for dim, value, negative in sc.extras:
            if rng.random() < 0.75:
                line = situation_line(dim, value, negative, rng, sc.notes.get(dim, ""))
                parts.insert(0 if rng.random() < 0.3 else len(parts), line)
    if sc.strategy == "evaluator_aligned" and rng.random() < 0.6:
        parts.append(sc.pick(bank.RULE_PROBES.get(sc.flavor, bank.RULE_PROBES[""])))
    text = _apply_voice(sc, _apply_tactic(sc, parts))
    if sc.tactic == "typo_noise":
        text = bank.add_typos(text, rng)
    return bank.britishise(text) if sc.british else text
