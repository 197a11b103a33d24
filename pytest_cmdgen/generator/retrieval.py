"""Flow retrieval's ordering of the prompt's flow list (reference §9.8, modern §2.2).

Embedding and searching are the caller's business (the runtime or a test double); this module only
turns the three inputs into Rasa's order, which decides the prompt bytes even when every flow fits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

DEFAULT_NUM_FLOWS = 20
"""``flow_retrieval.num_flows`` default (values < 0 are reset to it)."""


def effective_num_flows(num_flows: int | None) -> int:
    """``num_flows`` as Rasa uses it: ``None`` or a negative value → 20."""
    if num_flows is None or num_flows < 0:
        return DEFAULT_NUM_FLOWS
    return num_flows


def top_k_similar(scored: Iterable[tuple[str, float]], num_flows: int | None = DEFAULT_NUM_FLOWS) -> list[str]:
    """The ids of the ``num_flows`` best search hits, by score descending (ties keep the given order)."""
    ranked = sorted(scored, key=lambda hit: hit[1], reverse=True)
    return [flow_id for flow_id, _score in ranked[: effective_num_flows(num_flows)]]


def order_prompt_flows(
    candidates: Collection[str],
    *,
    always_include: Sequence[str] = (),
    recently_started: Sequence[str] = (),
    similar: Iterable[tuple[str, float]] = (),
    num_flows: int | None = DEFAULT_NUM_FLOWS,
) -> list[str]:
    """The flow ids flow retrieval puts into the prompt, in prompt order.

    * ``candidates``: retrieval's input set — the turn's available flows (startable ∪ active) minus
      link-only flows (guard statically false). Everything below is kept only if it is a candidate.
    * ``always_include``: flows with ``always_include_in_prompt: true``, in flow order.
    * ``recently_started``: flows with a ``FlowStarted`` event in the last 20 turns, most recent first.
    * ``similar``: ``(flow_id, score)`` search hits; the ``num_flows`` best (score descending) are used,
      taken before filtering by ``candidates`` as the vector store holds every embeddable flow.

    Order: always-included, recently started, similar; de-duplicated, first occurrence wins. The
    caller then applies the guard re-check of §9.3 (c) and drops pattern flows.
    """
    allowed = set(candidates)
    ordered: list[str] = []
    seen: set[str] = set()
    for flow_id in [*always_include, *recently_started, *top_k_similar(similar, num_flows)]:
        if flow_id in allowed and flow_id not in seen:
            seen.add(flow_id)
            ordered.append(flow_id)
    return ordered
