"""``transparency_audit``: recompute the log from its stored leaves and check everything built on them.

What is checked (docs/transparency-service.md, "Audit"):

1. every leaf ``0..head-1`` exists ("entry N is missing") and its stored ``leaf_hash`` is
   SHA-256(0x00 || data) of its stored data;
2. every stored node equals the node recomputed from the leaves' *data* (so editing a leaf
   together with its ``leaf_hash`` is still caught by the integrated node); only the lowest
   differing node is named, not each of its ancestors;
3. every stored checkpoint: its signature, its size and root lines, and its root recomputed
   from the data; a root that fails while every stored hash matched its data means the
   entries were rewritten together with the tree: the range since the previous good
   checkpoint is named;
4. each registered kind (``registry``): the entry rebuilt from the current rows equals the
   stored entry, and the domain's own file checks.

Memory is O(n) hashes (100,000 leaves: a few MB); rows are read in batches of at most 1,000.
"""

from __future__ import annotations

import base64
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.transparency import registry, services, tree
from apps.transparency.repository import TransparencyRepository
from apps.transparency.verifier import VerificationError, leaf_hash, node_hash, parse_verifier_key, verify_checkpoint

log = logging.getLogger(__name__)

READ_BATCH = 1000


@dataclass(order=True)
class Problem:
    entry: int  # the first entry concerned (problems are listed in entry order)
    order: int
    text: str = field(compare=False)


@dataclass
class AuditReport:
    head: int = 0
    integrated: int = 0
    checkpoints: int = 0
    kinds_checked: list[str] = field(default_factory=list)
    kinds_without_hooks: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def add(self, entry: int, text: str) -> None:
        self.problems.append(Problem(entry, len(self.problems), text))

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [p.text for p in sorted(self.problems)]

    def summary(self) -> str:
        status = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        hooks = ", ".join(self.kinds_checked) or "none"
        text = (
            f"transparency audit: {status}; {self.head} entries, {self.integrated} integrated, "
            f"{self.checkpoints} checkpoints checked; row checks for: {hooks}"
        )
        if self.kinds_without_hooks:
            text += f"; no row check registered for: {', '.join(sorted(self.kinds_without_hooks))}"
        return text


async def run_audit(repo: TransparencyRepository | None = None) -> AuditReport:
    """Run every check; the report lists problems in entry order."""
    r = repo or TransparencyRepository()
    report = AuditReport()
    state = await r.state()
    report.head, report.integrated = state["head"], state["tree"]
    # Level 0 recomputed from the data (None where the leaf is missing).
    level0: list[bytes | None] = []
    without_hooks: set[str] = set()
    for start in range(0, report.head, READ_BATCH):
        end = min(report.head, start + READ_BATCH)
        rows = await r.leaves(start, end, with_data=True)
        by_index = {int(row["index"]): row for row in rows}
        for index in range(start, end):
            row = by_index.get(index)
            if row is None:
                report.add(index, f"entry {index} is missing")
                level0.append(None)
                continue
            computed = leaf_hash(row["data"].encode("utf-8"))
            level0.append(computed)
            if base64.b64encode(computed).decode("ascii") != row["leaf_hash"]:
                report.add(index, f"entry {index}: its stored leaf hash does not match its data (the data was edited)")
        await _check_rows(report, rows, without_hooks)
    report.kinds_without_hooks = sorted(without_hooks)
    levels = await _check_nodes(r, report, level0)
    await _check_checkpoints(r, report, levels)
    return report


async def _check_rows(report: AuditReport, rows: list[dict[str, Any]], without_hooks: set[str]) -> None:
    """Ask each kind's hooks about this batch of leaves."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        try:
            stored = json.loads(row["data"])
        except ValueError:
            report.add(int(row["index"]), f"entry {row['index']}: its data is not JSON")
            continue
        stored["log_index"] = int(row["index"])
        by_kind[row["entity_kind"]].append({"entity_id": row["entity_id"], "entry": stored})
    for kind, items in by_kind.items():
        hooks = registry.hooks(kind)
        if hooks is None:
            without_hooks.add(kind)
            continue
        if kind not in report.kinds_checked:
            report.kinds_checked.append(kind)
        rebuilt = await hooks.rebuild([item["entity_id"] for item in items])
        for item in items:
            stored = dict(item["entry"])
            index = stored.pop("log_index")
            label = f"entry {index} ({kind} {item['entity_id']})"
            current = rebuilt.get(item["entity_id"])
            if current is None:
                report.add(index, f"{label}: the {kind} row is missing")
            elif current != stored:
                report.add(index, f"{label}: the {kind} row differs from its leaf")
        if hooks.check_files is not None:
            for line in await hooks.check_files([item["entry"] for item in items]):
                report.add(_entry_of(line, items), line)


def _entry_of(line: str, items: list[dict[str, Any]]) -> int:
    """The entry number a hook's problem line names ("entry N: ..."), for ordering."""
    if line.startswith("entry "):
        number = line[6:].split(":", 1)[0].split(" ", 1)[0]
        if number.isdigit():
            return int(number)
    return int(items[0]["entry"]["log_index"]) if items else 0


async def _check_nodes(
    r: TransparencyRepository, report: AuditReport, level0: list[bytes | None]
) -> list[list[bytes | None]]:
    """Compare every stored node of the integrated tree with the one recomputed from the data."""
    size = min(report.integrated, len(level0))
    levels: list[list[bytes | None]] = [level0[:size]]
    bad_below: set[int] = set()  # indexes at the current level that already differ (their ancestors are not named)
    level = 0
    while True:
        expected = levels[level]
        if not expected:
            break
        bad_here: set[int] = set()
        for start in range(0, len(expected), READ_BATCH):
            end = min(len(expected), start + READ_BATCH)
            stored = dict(await r.node_range(level, start, end))
            for index in range(start, end):
                children_bad = level > 0 and (2 * index in bad_below or 2 * index + 1 in bad_below)
                want = expected[index]
                have = stored.get(index)
                first, last = index << level, ((index + 1) << level) - 1
                if have is None:
                    bad_here.add(index)
                    if not children_bad:
                        report.add(first, f"entry {first}: the stored tree node (level {level}, index {index}) "
                                          f"covering entries {first}..{last} is missing")  # fmt: skip
                    continue
                if want is None or base64.b64encode(want).decode("ascii") != have:
                    bad_here.add(index)
                    if children_bad or want is None:
                        continue
                    if level == 0:
                        report.add(first, f"entry {first}: its data does not match the leaf hash integrated into "
                                          "the tree (the entry and its leaf hash were rewritten)")  # fmt: skip
                    else:
                        report.add(first, f"entry {first}: the stored tree node (level {level}, index {index}) "
                                          f"covering entries {first}..{last} differs from those entries")  # fmt: skip
        parents: list[bytes | None] = []
        for index in range(len(expected) // 2):
            left, right = expected[2 * index], expected[2 * index + 1]
            parents.append(node_hash(left, right) if left is not None and right is not None else None)
        levels.append(parents)
        bad_below = bad_here
        level += 1
    return levels


class _Expected:
    """The recomputed nodes as the mapping ``tree.compose`` reads."""

    def __init__(self, levels: list[list[bytes | None]]) -> None:
        self._levels = levels

    def __getitem__(self, coord: tree.Coord) -> bytes:
        level, index = coord
        value = self._levels[level][index] if level < len(self._levels) and index < len(self._levels[level]) else None
        if value is None:
            raise KeyError(coord)
        return value


async def _check_checkpoints(r: TransparencyRepository, report: AuditReport, levels: list[list[bytes | None]]) -> None:
    sizes = await r.checkpoint_sizes()
    report.checkpoints = len(sizes)
    if not sizes:
        return
    verifier = parse_verifier_key((await services.public_key()).strip())
    origin = settings.CONFIG.transparency_origin
    expected = _Expected(levels)
    hash_problem_entries = sorted(p.entry for p in report.problems)
    previous_good = 0
    failed = 0
    for start in range(0, len(sizes), READ_BATCH):
        for row in await r.checkpoints_of(sizes[start : start + READ_BATCH]):
            size = int(row["tree_size"])
            problem = _checkpoint_problem(row, size, verifier, origin, expected)
            if problem is None:
                previous_good = size
                continue
            failed += 1
            if failed > 1:
                continue
            if problem == "root" and not any(previous_good <= e < size for e in hash_problem_entries):
                report.add(
                    previous_good,
                    f"checkpoint {size}: its root does not match the stored entries although every stored hash "
                    f"matches its data: entries {previous_good}..{size - 1} (after checkpoint {previous_good}) "
                    "were rewritten together with the tree",
                )
            elif problem == "root":
                report.add(size - 1 if size else 0, f"checkpoint {size}: its root does not match the stored entries")
            else:
                report.add(size - 1 if size else 0, f"checkpoint {size}: {problem}")
    if failed > 1:
        report.add(sizes[-1], f"{failed - 1} later checkpoint(s) do not hold either")


def _checkpoint_problem(row: dict[str, Any], size: int, verifier: Any, origin: str, expected: _Expected) -> str | None:
    try:
        checkpoint = verify_checkpoint(row["note"], verifier, origin)
    except VerificationError as exc:
        return f"its signed note does not verify ({exc})"
    if checkpoint.tree_size != size:
        return f"its note says size {checkpoint.tree_size}"
    if base64.b64encode(checkpoint.root_hash).decode("ascii") != row["root_hash"]:
        return "its stored root differs from its signed note"
    try:
        root = tree.root_from(size, expected)
    except KeyError:
        return "root"
    return None if root == checkpoint.root_hash else "root"
