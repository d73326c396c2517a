"""What the language-scheme tests share: asking a comparator like an oracle is asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hypothesis import strategies as st

from hullscan.versions.base import Comparator, VersionError


def verdicts(compare: Comparator, pairs: Sequence[tuple[str, str]]) -> list[int | str]:
    """-1/0/1 per pair, or "error" where the comparator raises VersionError."""
    out: list[int | str] = []
    for a, b in pairs:
        try:
            out.append(compare(a, b))
        except VersionError:
            out.append("error")
    return out


def mismatches(
    compare: Comparator,
    pairs: Sequence[tuple[str, str]],
    oracle: Callable[[Sequence[tuple[str, str]]], list[int | str]],
) -> list[tuple[str, str, int | str, int | str]]:
    """(a, b, ours, theirs) wherever our verdict differs from the oracle's."""
    ours = verdicts(compare, pairs)
    theirs = oracle(pairs)
    return [(a, b, o, t) for (a, b), o, t in zip(pairs, ours, theirs, strict=True) if o != t]


def pairs_of(
    versions: st.SearchStrategy[str], size: int = 40
) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Batches of pairs drawn from one pool, so equal and near-equal versions meet often."""

    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[str, str]]:
        pool = draw(st.lists(versions, min_size=2, max_size=size))
        index = st.integers(0, len(pool) - 1)
        picks = draw(st.lists(st.tuples(index, index), min_size=size, max_size=size))
        return [(pool[i], pool[j]) for i, j in picks]

    return build()


def joined(
    parts: st.SearchStrategy[str], seps: st.SearchStrategy[str], max_size: int = 5
) -> st.SearchStrategy[str]:
    """Tokens joined by separators: version-shaped text with the odd corner in it."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        tokens = draw(st.lists(parts, min_size=1, max_size=max_size))
        out = tokens[0]
        for token in tokens[1:]:
            out += draw(seps) + token
        return out

    return build()


def assert_total_order(compare: Comparator, ordered: Sequence[str]) -> None:
    """Every earlier version is below every later one, both ways round."""
    for i, low in enumerate(ordered):
        assert compare(low, low) == 0, low
        for high in ordered[i + 1 :]:
            assert compare(low, high) == -1, (low, high)
            assert compare(high, low) == 1, (high, low)
