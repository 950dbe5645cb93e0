"""Merkle tree arithmetic over stored perfect subtrees (RFC 9162 section 2.1), no database.

Why stored subtrees: every perfect aligned subtree ``(level, index)`` = MTH(leaves
``[index * 2**level, (index + 1) * 2**level)``) is written once when its last leaf is
integrated and never changes. Any subtree hash an RFC 9162 proof needs, ``MTH(D[a:b])``,
is then the right fold of at most ``log2(b - a) + 1`` stored nodes (its "compact range"),
so a proof reads O(log n) rows and never the leaves.

Functions here return *coordinates*; the service fetches every coordinate in one query
and composes the hashes with ``compose``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from apps.transparency.verifier import EMPTY_ROOT, node_hash

Coord = tuple[int, int]
Element = list[Coord]  # a proof element: the right fold of these nodes


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (RFC 9162's split point); n must be > 1."""
    if n < 2:
        raise ValueError("n must be at least 2")
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> Element:
    """The perfect aligned nodes whose right fold is MTH(D[start:end]), largest first.

    Every subtree an RFC 9162 recursion visits is left-aligned on its split (the left part
    is always perfect and aligned), so the decomposition below is exact; anything else is a
    programming error and raises.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    nodes: Element = []
    while start < end:
        size = end - start
        if size & (size - 1) == 0 and start % size == 0:
            nodes.append((size.bit_length() - 1, start // size))
            break
        k = largest_power_of_two_below(size)
        if start % k:
            raise ValueError(f"range [{start}, {end}) is not aligned")
        nodes.append((k.bit_length() - 1, start // k))
        start += k
    return nodes


def root_nodes(size: int) -> Element:
    """The frontier of a tree of ``size`` leaves: the nodes whose right fold is its root (empty for 0)."""
    return range_nodes(0, size) if size > 0 else []


def inclusion_elements(index: int, size: int) -> list[Element]:
    """PATH(index, D[size]) of RFC 9162 2.1.3.1, leaf side first, as node coordinates."""
    if not 0 <= index < size:
        raise ValueError("index must be in [0, size)")
    path: list[Element] = []
    lo, hi = 0, size
    stack: list[Element] = []
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index < lo + k:
            stack.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            stack.append(range_nodes(lo, lo + k))
            lo = lo + k
    # The recursion appends on the way back up: deepest sibling first.
    path.extend(reversed(stack))
    return path


def consistency_elements(first: int, second: int) -> list[Element]:
    """PROOF(first, D[second]) of RFC 9162 2.1.4.1 as node coordinates (empty when equal)."""
    if not 0 < first <= second:
        raise ValueError("need 0 < first <= second")
    stack: list[Element] = []
    lo, hi, m, complete = 0, second, first, True
    while True:
        if m == hi - lo:
            if not complete:
                stack.append(range_nodes(lo, hi))
            break
        k = largest_power_of_two_below(hi - lo)
        if m <= k:
            stack.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            stack.append(range_nodes(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    return list(reversed(stack))


def distinct_coords(elements: Iterable[Element]) -> list[Coord]:
    """Every coordinate needed, each once, in first-use order (what one query fetches)."""
    seen: dict[Coord, None] = {}
    for element in elements:
        for coord in element:
            seen.setdefault(coord, None)
    return list(seen)


def compose(element: Element, hashes: Mapping[Coord, bytes]) -> bytes:
    """Right fold of the element's node hashes: node(c0, node(c1, ... c_last))."""
    if not element:
        raise ValueError("empty element")
    value = hashes[element[-1]]
    for coord in reversed(element[:-1]):
        value = node_hash(hashes[coord], value)
    return value


def root_from(size: int, hashes: Mapping[Coord, bytes]) -> bytes:
    """The tree head of ``size`` leaves from its frontier nodes (SHA-256 of nothing when empty)."""
    nodes = root_nodes(size)
    return compose(nodes, hashes) if nodes else EMPTY_ROOT


def integrate(start: int, leaf_hashes: list[bytes], frontier: Mapping[Coord, bytes]) -> dict[Coord, bytes]:
    """The perfect nodes completed by appending ``leaf_hashes`` at ``start``.

    ``frontier`` must hold ``root_nodes(start)``: they are exactly the left siblings the new
    leaves can need besides each other. Returns every new node, level 0 (the leaves) included.
    """
    known: dict[Coord, bytes] = dict(frontier)
    new: dict[Coord, bytes] = {}
    for offset, value in enumerate(leaf_hashes):
        level, index = 0, start + offset
        new[(0, index)] = known[(0, index)] = value
        while index & 1:
            value = node_hash(known[(level, index - 1)], value)
            level, index = level + 1, index >> 1
            new[(level, index)] = known[(level, index)] = value
    return new
