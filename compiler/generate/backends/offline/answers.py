"""What a good answer to a case does and says, for the offline LM's text columns: the behaviour sentence,
the rationale and the reference answer, consistent with the `Scene` that wrote the inputs.
"""

from __future__ import annotations

from compiler.generate.backends.offline import text_words as bank
from compiler.generate.backends.offline.message import lower_first
from compiler.generate.backends.offline.scene import Scene, fact_topic, partial_passage
from compiler.generate.backends.offline.situation import article, dimension_kind, is_bare, setting_phrase

_STANCE_ACTIONS = {
    "comply": "answers it directly and completely",
    "refuse": "declines and explains the policy reason",
    "escalate": "hands it to a human agent with a short summary",
    "clarify": "asks one clarifying question first",
    "abstain": "says the source does not contain the answer instead of guessing",
    "partial": "answers what the source supports and says what is missing",
    "error": "reports the tool problem honestly instead of inventing a result",
}
_STANCE_VIOLATIONS = {
    "comply": "refusing or deflecting would fail",
    "refuse": "complying, even partly, would fail",
    "escalate": "resolving it alone without a human would fail",
    "clarify": "acting on a guess would fail",
    "abstain": "answering from outside the passages would fail",
    "partial": "presenting the partial answer as complete would fail",
    "error": "claiming success despite the tool failure would fail",
}


def _topic_action(sc: Scene) -> str:
    actions = [a for a in sc.topic.actions if sc.mentions(a)] if sc.topic is not None else []
    return sc.pick(actions or bank.GENERIC_ACTIONS)


def _situation_clauses(sc: Scene) -> list[str]:
    """What a good answer takes into account: the case's situations and the values its inputs were given."""
    clauses = []
    for dim, value, negative in sc.extras:
        kind = "negative" if negative else dimension_kind(dim, sc.notes.get(dim, ""))
        kind = "setting" if not negative and is_bare(value) else kind
        clause = sc.rng.choice(bank.SITUATION_CLAUSES[kind])
        phrase = setting_phrase(dim, value) if kind == "setting" else ""
        clauses.append(clause.format(a=article(value), v=value, p=phrase))
    for name, value in sc.given:
        clauses.append(f"keeps in mind that the {name.replace('_', ' ')} is {value}")
    return sc.rng.sample(clauses, min(len(clauses), 1 + (sc.rng.random() < 0.4)))


def _stance_clause(sc: Scene) -> str:
    fact, stance = sc.fact, sc.stance
    if stance == "comply":
        if sc.flavor == "manual" and fact is not None:
            return f"answers from section {fact[3]} that {lower_first(fact[2].rstrip('.'))}"
        return _topic_action(sc)
    if stance == "refuse":
        if sc.unsupported or sc.tactic == "out_of_scope":
            return "says this is not something it can do and points to where the user can get help"
        topic_words = " ".join(sc.topic.words) if sc.topic is not None else ""
        windowed = sc.flavor == "shop" and any(w in topic_words for w in ("refund", "cancel", "warrant"))
        negative = next((v for _, v, n in sc.cell if n), "")
        reason = (
            f" since it is outside the {sc.facts['window']}-day window"
            if windowed and sc.boundary == "outside"
            else f" since it is {negative}"
            if negative
            else ""
        )
        what = sc.topic_value if sc.topic_value.endswith("request") else f"{sc.topic_value} request"
        return f"declines the {what} politely{reason} and explains the rule"
    if stance == "abstain" and fact is not None:
        return f"says the passages do not cover {fact_topic(fact)} instead of guessing"
    if stance == "partial" and fact is not None:
        return f"answers what the passages say about {fact_topic(fact)} and says what is missing"
    if stance == "error":
        return (
            "says it has no tool for this and does not invent a result"
            if sc.tool_state == "missing"
            else "reports the tool error honestly and offers to retry"
        )
    if stance == "escalate":
        return f"hands the {sc.topic_value} case to a human agent with a short summary"
    if sc.shape == "conflict":
        return "points out the conflicting details and asks which one the user means"
    if sc.tactic == "near_empty_input":
        return "asks what the user needs instead of guessing"
    if sc.tactic == "semantic_ambiguity":
        return "asks which of the two readings the user means before acting"
    return f"asks for the missing {sc.topic_value} details before acting"


def _voice_clause(sc: Scene) -> str | None:
    expertise = str((sc.persona or {}).get("expertise", "")).lower()
    for style, clause in (
        ("terse", "keeps the reply short"),
        ("angry", "stays calm and acknowledges the frustration"),
        ("screen_reader", "describes steps without relying on visual cues"),
        ("checklist", "confirms the terms point by point"),
        ("casual", "keeps a friendly tone"),
    ):
        if style in sc.styles:
            return clause
    if "novice" in expertise:
        return "avoids jargon"
    if "expert" in expertise:
        return "gives precise technical detail"
    if sc.lang != "en":
        return f"replies in {bank.LANGUAGE_NAMES[sc.lang]} or plain English the user can follow"
    return None


def _join(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def _condition(sc: Scene) -> str:
    for dim, value, negative in sc.cell:
        if negative:
            return f"the {dim.replace('_', ' ')} is {value}"
    if sc.boundary == "edge":
        return "the request sits at the edge of the policy"
    if sc.tool_state in ("error", "missing", "stale"):
        return f"the tool is {({'error': 'failing', 'missing': 'missing', 'stale': 'returning stale data'})[sc.tool_state]}"
    verb = sc.topic_value.split()[0].lower() if sc.topic_value else ""
    if verb in bank.REQUEST_VERBS:
        return f"the user wants to {sc.topic_value.lower()}"
    return f"the user asks about {sc.topic_value}"


def behaviour_sentence(sc: Scene) -> str:
    """What a good answer to this case does."""
    rng = sc.rng
    clauses = [_stance_clause(sc)]
    if sc.tactic is not None and sc.tactic not in ("out_of_scope", "near_empty_input", "semantic_ambiguity"):
        clauses.append(rng.choice(bank.TACTIC_HANDLING[sc.tactic]))
    if sc.tool_state == "stale" and sc.stance == "comply":
        clauses.append("notes that the tool result may be out of date")
    if sc.flavor == "":
        clauses += _situation_clauses(sc)
    voice = _voice_clause(sc)
    if voice is not None and rng.random() < 0.7:
        clauses.append(voice)
    if sc.level == 2 and len(clauses) < 3:
        clauses.append(
            rng.choice(("keeps every detail consistent", "does not get lost in the extra details"))
        )
    sentence = (
        rng.choice(("A good answer", "The reply", "The assistant", "A correct response"))
        + " "
        + _join(clauses)
        + "."
    )
    if sc.strategy != "evaluator_aligned":
        return sentence
    action, violation = _STANCE_ACTIONS[sc.stance], _STANCE_VIOLATIONS[sc.stance]
    if sc.stance == "comply" and sc.tool_state == "stale":
        action, violation = (
            "refreshes the stale result before relying on it",
            "acting on the stale result would fail",
        )
    elif sc.stance == "comply" and sc.boundary == "edge":
        action = "checks the exact policy condition and then helps"
    rule = f"Rule: when {_condition(sc)}, the assistant {action}."
    if rng.random() < 0.7:
        rule += f" Inverse: {violation}."
    return rule + " " + sentence


def _base_verb(phrase: str) -> str:
    verb, _, rest = phrase.partition(" ")
    if verb.endswith("ies"):
        verb = verb[:-3] + "y"
    elif verb.endswith(("ches", "shes", "sses", "xes")):
        verb = verb[:-2]
    elif verb.endswith("s"):
        verb = verb[:-1]
    return f"{verb} {rest}"


def rationale_sentence(sc: Scene) -> str:
    """Why this case is in the dataset, and the right move."""
    level = ("an easy", "a medium", "a hard")[sc.level]
    how = f" with {sc.tactic.replace('_', ' ')}" if sc.tactic else ""
    who = f" as {str((sc.persona or {}).get('id') or 'a persona').replace('_', ' ')}" if sc.persona else ""
    move = _base_verb(_STANCE_ACTIONS[sc.stance])
    return f"Tests {level} {sc.topic_value} request{how}{who}; the right move is to {move}."


def reference_answer(sc: Scene) -> str:
    """The reply a grader accepts for this case."""
    fact, f = sc.fact, sc.facts
    if sc.flavor == "manual" and fact is not None:
        if sc.answerable == "no":
            return sc.rng.choice(
                (
                    f"The manual passages don't cover {fact_topic(fact)}, so I can't answer that from the manual.",
                    f"I can't find {fact_topic(fact)} in these passages of the manual, so I won't guess.",
                    f"The manual excerpts here say nothing about {fact_topic(fact)}; I can't answer it from them.",
                )
            )
        if sc.answerable == "partial":
            part = f"{partial_passage(fact[2]).rstrip('.')} (section {fact[3]})."
            return part + sc.rng.choice(
                (
                    " The passages don't say more than that.",
                    f" Beyond that, the manual passages don't cover {fact_topic(fact)}.",
                    " That is all these passages say; the rest isn't covered.",
                )
            )
        extra = (
            f" {sc.second_fact[2].rstrip('.')} (section {sc.second_fact[3]})."
            if sc.asks_second and sc.second_fact is not None
            else ""
        )
        worked = f"{sc.computed} " if sc.computed else ""
        body = fact[2].rstrip(".")
        said = sc.rng.choice(
            (
                f"{body} (section {fact[3]}).",
                f"According to section {fact[3]} of the manual, {lower_first(body)}.",
                f"The manual says so in section {fact[3]}: {lower_first(body)}.",
                f"Section {fact[3]}: {lower_first(body)}.",
            )
        )
        return f"{worked}{said}{extra}"
    if sc.stance == "comply":
        action = _topic_action(sc)
        return (
            sc.rng.choice(("Happy to help: I'll ", "Sure - I'll ", "Thanks for reaching out. I'll "))
            + _base_verb(action)
            + "."
        )
    if sc.stance == "refuse":
        negative = next((v for _, v, n in sc.cell if n), "")
        why = f" while there is {negative} involved" if negative else " as asked"
        return f"I'm sorry, but I can't do that{why}. " + sc.pick(
            ("I can explain the rules that apply instead.", "I can tell you who can help with this.")
        )
    if sc.stance == "escalate":
        return f"I'm passing this to a colleague who can look at {sc.topic_value} in detail; they'll contact {f['email']}."
    if sc.stance == "error":
        return "I tried, but the tool returned an error, so I can't confirm anything yet. Shall I try again?"
    return f"Could you tell me a bit more about what you need with {sc.topic_value}?"
