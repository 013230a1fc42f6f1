"""Which phrases a study's equations use: leaves, display forms, constants and who needs each input."""

from __future__ import annotations

from collections.abc import Iterable

from ..equations import Equation, normalize_phrase
from ..study import SOURCES, Study

__all__ = ["QUANTIFIED", "SOURCE_RANK", "constants_map", "customer_phrases", "display_names", "input_phrases",
           "leaf_phrases", "needed_for", "phrase_users", "study_equations"]

SOURCE_RANK = {s: i for i, s in enumerate(SOURCES)}  # higher = less reliable


QUANTIFIED = ("difference", "contention")  # statuses that are summed


def constants_map(study: Study) -> dict[str, tuple[float, int]]:
    """The study's constants by normalized phrase.

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict
        Normalized phrase -> ``(value, rank)``, the rank being the position
        of the constant's kind in :data:`~cvm_kit.study.SOURCES`.
    """
    return {normalize_phrase(c.name): (c.value, SOURCE_RANK.get(c.kind, SOURCE_RANK["data"])) for c in study.constants}


def study_equations(study: Study) -> Iterable[Equation]:
    """Every equation of the study: derived quantities (in evaluation order), the price, the elements.

    Parameters
    ----------
    study : Study

    Yields
    ------
    Equation
    """
    for d in study.derived:
        yield d.equation
    if study.price is not None:
        yield study.price
    for e in study.elements:
        if e.equation is not None:
            yield e.equation


def display_names(study: Study) -> dict[str, str]:
    """Each phrase of the study's equations as first written (normalized phrase -> display form).

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict of str to str
        E.g. ``{"tonnes coated per year": "Tonnes coated per year"}``.
    """
    d: dict[str, str] = {}
    for eq in study_equations(study):
        for p, shown in zip(eq.phrases, eq.display_phrases):
            d.setdefault(p, shown)
    return d


def leaf_phrases(study: Study) -> dict[str, tuple[str, ...]]:
    """For every phrase any equation uses, the measured/constant phrases it rests on.

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict of str to tuple of str
        Normalized phrase -> its leaf phrases (itself, unless it is derived).
    """
    derived = {normalize_phrase(d.name): d.equation for d in study.derived}
    memo: dict[str, tuple[str, ...]] = {}

    def leaves(p: str) -> tuple[str, ...]:
        if p in memo:
            return memo[p]
        if p in derived:
            out: list[str] = []
            for q in derived[p].phrases:
                out.extend(leaves(q))
            memo[p] = tuple(dict.fromkeys(out))
        else:
            memo[p] = (p,)
        return memo[p]

    for eq in study_equations(study):
        for p in eq.phrases:
            leaves(p)
    return memo


def input_phrases(study: Study) -> list[str]:
    """Every measured/constant phrase the study's equations rest on (normalised), in order.

    Parameters
    ----------
    study : Study

    Returns
    -------
    list of str
    """
    derived = {normalize_phrase(d.name) for d in study.derived}
    out: list[str] = []
    for leaves in leaf_phrases(study).values():
        out.extend(p for p in leaves if p not in derived)
    return list(dict.fromkeys(out))


def customer_phrases(study: Study) -> list[str]:
    """Input phrases customers are asked for: every leaf phrase that is not a constant.

    Parameters
    ----------
    study : Study

    Returns
    -------
    list of str
    """
    consts = set(constants_map(study))
    return [p for p in input_phrases(study) if p not in consts]


def phrase_users(study: Study) -> dict[str, list[str]]:
    """Leaf phrase -> the quantified elements (and ``price``) that rest on it.

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict of str to list of str
        Normalized leaf phrase -> element ids (and ``"price"``), each once,
        in the study's order.
    """
    leaves = leaf_phrases(study)
    users: dict[str, list[str]] = {}
    for e in study.elements:
        if e.equation is not None and e.quantified:
            for p in e.equation.phrases:
                for q in leaves.get(p, (p,)):
                    users.setdefault(q, []).append(e.id)
    if study.price is not None:
        for p in study.price.phrases:
            for q in leaves.get(p, (p,)):
                users.setdefault(q, []).append("price")
    return {k: list(dict.fromkeys(v)) for k, v in users.items()}


def needed_for(study: Study, users: list[str], subsegment: str) -> list[str]:
    """The users of a phrase that need it for a customer of ``subsegment`` (parity needs nothing).

    Parameters
    ----------
    study : Study
    users : list of str
        Element ids (and ``"price"``), as :func:`phrase_users` gives them.
    subsegment : str
        The customer's subsegment.

    Returns
    -------
    list of str
        The users whose status in ``subsegment`` is quantified, and the price.
    """
    out = []
    for u in users:
        if u == "price" or study.element(u).status_for(subsegment) in QUANTIFIED:
            out.append(u)
    return out
