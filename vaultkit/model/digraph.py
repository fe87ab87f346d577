"""The lineage graph: parent -> child edges between experiments, and the few algorithms
vaultkit runs on it on every build.

networkx does the same (and ``tests/test_digraph.py`` checks this module against it),
but importing networkx takes ~0.12 s: more than a build of an unchanged vault, so the
hot path keeps its own small graph and networkx serves the graph exports only. Nodes
and edges keep insertion order; every answer is sorted, so it never depends on it.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from vaultkit.records import Edge


class TreeLine(NamedTuple):
    """One line of a lineage drawn as a tree (``Digraph.tree``)."""

    node: str
    depth: int  # generations below its root
    last: bool  # the last child of its parent, or the last root
    repeated: bool  # reached again through another parent: shown, not expanded again
    hidden: int  # children left out below ``max_depth``


class Digraph:
    def __init__(self) -> None:
        self.succ: dict[str, dict[str, None]] = {}  # node -> children (dicts: ordered sets)
        self.pred: dict[str, dict[str, None]] = {}  # node -> parents

    def __contains__(self, node: str) -> bool:
        return node in self.succ

    @property
    def nodes(self) -> list[str]:
        return list(self.succ)

    @property
    def edges(self) -> list[Edge]:
        return [Edge(child, parent) for parent, children in self.succ.items() for child in children]

    def add_node(self, node: str) -> None:
        if node not in self.succ:
            self.succ[node] = {}
            self.pred[node] = {}

    def add_edge(self, edge: Edge) -> None:
        child, parent = edge
        self.add_node(parent)
        self.add_node(child)
        self.succ[parent][child] = None
        self.pred[child][parent] = None

    def remove_in_edges(self, node: str) -> None:
        for parent in self.pred.get(node, {}):
            del self.succ[parent][node]
        if node in self.pred:
            self.pred[node] = {}

    def remove_node(self, node: str) -> None:
        self.remove_in_edges(node)
        for child in self.succ.pop(node, {}):
            del self.pred[child][node]
        self.pred.pop(node, None)

    def in_degree(self, node: str) -> int:
        return len(self.pred[node])

    def edges_among(self, members: Iterable[str]) -> list[Edge]:
        """The edges with both ends in ``members``, sorted."""
        inside = set(members)
        return sorted(
            Edge(child, parent)
            for parent in inside
            for child in self.succ.get(parent, ())
            if child in inside
        )

    def reachable(self, start: str, forward: bool) -> set[str]:
        """Nodes reached from ``start`` along edges (forward: descendants, else
        ancestors), ``start`` itself only when a cycle leads back to it."""
        step = self.succ if forward else self.pred
        found: set[str] = set()
        queue = deque(step.get(start, ()))
        while queue:
            node = queue.popleft()
            if node not in found:
                found.add(node)
                queue.extend(step[node])
        return found

    def within(self, starts: Iterable[str], generations: int) -> set[str]:
        """The nodes at most ``generations`` steps below ``starts`` (``starts`` included)."""
        found = set(starts)
        frontier = list(found)
        for _ in range(generations):
            frontier = [c for node in frontier for c in self.succ[node] if c not in found]
            found.update(frontier)
            if not frontier:
                break
        return found

    def chain(self, node: str) -> tuple[list[str], list[str], list[Edge]]:
        """(ancestors, descendants, the edges among them and ``node``), sorted."""
        ancestors = sorted(self.reachable(node, forward=False) - {node})
        descendants = sorted(self.reachable(node, forward=True) - {node})
        return ancestors, descendants, self.edges_among({node, *ancestors, *descendants})

    def weak_components(self) -> list[set[str]]:
        """Sets of nodes joined by edges in either direction."""
        seen: set[str] = set()
        components = []
        for start in self.succ:
            if start in seen:
                continue
            component = {start}
            queue = deque([start])
            while queue:
                node = queue.popleft()
                for other in (*self.succ[node], *self.pred[node]):
                    if other not in component:
                        component.add(other)
                        queue.append(other)
            seen |= component
            components.append(component)
        return components

    def strong_components(self) -> list[set[str]]:
        """Sets of nodes that reach each other (Tarjan's algorithm, without recursion)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        components = []
        for root in self.succ:
            if root in index:
                continue
            work = [(root, iter(self.succ[root]))]
            index[root] = low[root] = len(index)
            stack.append(root)
            on_stack.add(root)
            while work:
                node, children = work[-1]
                child = next(children, None)
                if child is not None:
                    if child not in index:
                        index[child] = low[child] = len(index)
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(self.succ[child])))
                    elif child in on_stack:
                        low[node] = min(low[node], index[child])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
        return components

    def has_edge(self, parent: str, child: str) -> bool:
        return child in self.succ.get(parent, ())

    def cycle_upwards(self, start: str, within: set[str]) -> list[str]:
        """A closed path ``[a, b, …, a]`` that walks child -> parent inside ``within`` (a
        strongly connected set holding ``start``), found depth first from ``start`` with
        parents in id order, so the same graph always gives the same cycle."""
        path = [start]
        on_path = {start: 0}
        choices = [iter(sorted(p for p in self.pred[start] if p in within))]
        visited = {start}
        while choices:
            parent = next(choices[-1], None)
            if parent is None:
                choices.pop()
                on_path.pop(path.pop())
                continue
            if parent in on_path:
                return path[on_path[parent] :] + [parent]
            if parent in visited:
                continue
            visited.add(parent)
            on_path[parent] = len(path)
            path.append(parent)
            choices.append(iter(sorted(p for p in self.pred[parent] if p in within)))
        return []

    def topological_order(self, members: Iterable[str]) -> list[str] | None:
        """Parents before children, the smallest id first among the ready ones; None when
        the members hold a cycle."""
        inside = set(members)
        waiting = {m: sum(p in inside for p in self.pred[m]) for m in inside}
        ready = [m for m, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in self.succ[node]:
                if child in inside:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(ready, child)
        return order if len(order) == len(inside) else None

    def depths(self, members: list[str], roots: list[str]) -> dict[str, int]:
        """Generation of each member: the longest chain of parents above it. Inside a
        cycle, where that is endless, the shortest distance from a root counts too."""
        inside = set(members)
        depth = {member: 0 for member in members}
        waiting = {m: sum(p in inside for p in self.pred[m]) for m in inside}
        ready = deque(m for m in members if waiting[m] == 0)
        done = 0
        while ready:
            node = ready.popleft()
            done += 1
            for child in self.succ[node]:
                if child in inside:
                    depth[child] = max(depth[child], depth[node] + 1)
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        ready.append(child)
        if done < len(inside):
            for start in roots or members[:1]:
                level = {start: 0}
                queue = deque([start])
                while queue:
                    node = queue.popleft()
                    for child in self.succ[node]:
                        if child in inside and child not in level:
                            level[child] = level[node] + 1
                            queue.append(child)
                for node, distance in level.items():
                    depth[node] = max(depth[node], distance)
        return depth

    def tree(
        self, roots: list[str], keep: set[str] | None = None, scope: set[str] | None = None
    ) -> Iterator[TreeLine]:
        """The graph below ``roots`` as a tree, depth first, children in id order: a node
        with several parents is expanded under the first and shown as repeated under the
        others. ``keep`` limits it to some nodes; a child in ``scope`` but not kept is
        counted as ``hidden``. Iterative: a chain of any length."""
        shown: set[str] = set()
        stack = [
            TreeLine(root, 0, index == len(roots) - 1, False, 0) for index, root in enumerate(roots)
        ]
        stack.reverse()
        while stack:
            line = stack.pop()
            if line.node in shown:
                yield line._replace(repeated=True)
                continue
            shown.add(line.node)
            children = sorted(self.succ[line.node])
            kept = [c for c in children if keep is None or c in keep]
            hidden = sum(1 for c in children if scope is not None and c in scope and c not in kept)
            yield line._replace(hidden=hidden)
            for index in reversed(range(len(kept))):
                last = index == len(kept) - 1
                stack.append(TreeLine(kept[index], line.depth + 1, last, False, 0))
