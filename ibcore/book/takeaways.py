"""A chapter's takeaway (all chapters): two or three sentences written from its records — what
its primary verdict says, what the secondary verdicts and checks add, at what scale — shown at
the end of the verdict section and glued into the box at the top of the page."""

from __future__ import annotations

from collections.abc import Sequence

from ibcore.verdicts import DIRECTION_SIGNS, Verdict


def _short(statement: str) -> str:
    s = statement.strip().rstrip(".")
    return s[0].lower() + s[1:] if s[:2] != s[:2].upper() else s


def takeaway(primary: Verdict | None, records: Sequence[Verdict], setting: str) -> str:
    """The takeaway: the primary's status and numbers, then the secondary verdicts that read
    reproduced and not reproduced (by their statements), then the checks; ``setting`` says at
    what scale and on what (e.g. "20-layer MLPs on digits, 30 epochs")."""
    if primary is None:
        head = "The primary verdict was not run with these parameters."
    else:
        side = "lower" if primary.direction == ">=" else "upper"
        conf = primary.preregistration.get("confirmatory", "")
        seeds = f"{len(primary.per_seed)} {'confirmatory ' if not conf else ''}seeds"
        head = (
            f"At scale `{primary.scale}` ({setting}; {seeds}), the primary verdict — "
            f"{_short(primary.statement)} — reads **{primary.status}**: {primary.mean_text()} "
            f"(95 % {side} bound {primary.bound_text()}, needs "
            f"{DIRECTION_SIGNS[primary.direction]} {primary.threshold:g})."
        )
    others = [v for v in records if v is not primary and v.kind == "secondary"]
    checks = [v for v in records if v.kind == "check"]
    tail = ""
    if others:
        counts = ", ".join(
            f"{n} {status}" for status in ("reproduced", "not reproduced", "inconclusive")
            if (n := sum(v.status == status for v in others))
        )  # fmt: skip
        held = [v for v in others if v.status == "reproduced"]
        tail = (f" Of the {len(others)} exploratory (secondary) verdicts on the same runs, "
                f"{counts}" + (f" (among them: {_short(held[0].statement)})" if held else "")
                + ".")  # fmt: skip
    if checks:
        bad = [v.claim for v in checks if v.status != "check holds"]
        if len(checks) == 1:
            tail += f" Its one check ({checks[0].claim}) reads {checks[0].status}."
        else:
            tail += (f" {'All' if not bad else len(checks) - len(bad)} of its {len(checks)} "
                     "checks hold" + (f" (not: {', '.join(bad)})." if bad else "."))  # fmt: skip
    return head + tail


def show_takeaway(name: str, primary: Verdict | None, records: Sequence[Verdict],
                  setting: str) -> str:  # fmt: skip
    """Display :func:`takeaway` under the verdicts and glue it for the box at the top of the
    chapter (:func:`glue_takeaway`); returns its text."""
    return glue_takeaway(name, takeaway(primary, records, setting))


def glue_takeaway(name: str, text: str) -> str:
    """Display ``text`` as the chapter's takeaway and glue it as ``name`` for the box at the top
    of the chapter (myst-nb ``{glue:md}``); returns it."""
    from IPython.display import Markdown, display
    from myst_nb import glue

    glue(name, Markdown(text), display=False)
    display(Markdown(f"**Takeaway.** {text}"))
    return text
