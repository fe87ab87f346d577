"""The lineage graph agrees with networkx, which it replaces on the hot path."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkit.model.digraph import Digraph
from vaultkit.records import Edge

NODES = list("abcdefg")
edge_lists = st.lists(st.tuples(st.sampled_from(NODES), st.sampled_from(NODES)), max_size=14)


EdgeList = list[tuple[str, str]]  # (parent, child)


def both(nodes: Iterable[str], edges: EdgeList) -> tuple[Digraph, nx.DiGraph[str]]:
    ours = Digraph()
    theirs: nx.DiGraph[str] = nx.DiGraph()
    for node in nodes:
        ours.add_node(node)
        theirs.add_node(node)
    for parent, child in edges:
        ours.add_edge(Edge(child, parent))
        theirs.add_edge(parent, child)
    return ours, theirs


def networkx_depths(graph: nx.DiGraph[str], members: list[str], roots: list[str]) -> dict[str, int]:
    """What render used before: longest chain of parents, BFS levels through cycles."""
    depth = {member: 0 for member in members}
    try:
        for member in nx.topological_sort(graph):
            for child in graph.successors(member):
                depth[child] = max(depth[child], depth[member] + 1)
    except nx.NetworkXUnfeasible:
        for start in roots or members[:1]:
            for node, level in nx.single_source_shortest_path_length(graph, start).items():
                depth[node] = max(depth[node], level)
    return depth


@settings(max_examples=400)
@given(st.sets(st.sampled_from(NODES)), edge_lists)
def test_components_orders_and_reach_agree_with_networkx(nodes: set[str], edges: EdgeList) -> None:
    ours, theirs = both(nodes, edges)
    assert sorted(ours.nodes) == sorted(theirs.nodes)
    assert sorted(ours.edges) == sorted((c, p) for p, c in theirs.edges)
    assert sorted(map(sorted, ours.weak_components())) == sorted(
        map(sorted, nx.weakly_connected_components(theirs))
    )
    assert sorted(map(sorted, ours.strong_components())) == sorted(
        map(sorted, nx.strongly_connected_components(theirs))
    )
    for node in theirs:
        assert ours.reachable(node, forward=False) - {node} == nx.ancestors(theirs, node)
        assert ours.reachable(node, forward=True) - {node} == nx.descendants(theirs, node)
        assert ours.in_degree(node) == theirs.in_degree(node)
    for component in nx.weakly_connected_components(theirs):
        members = sorted(component)
        sub = theirs.subgraph(members)
        try:
            expected = list(nx.lexicographical_topological_sort(sub))
        except nx.NetworkXUnfeasible:
            expected = None
        assert ours.topological_order(members) == expected
        roots = [m for m in members if theirs.in_degree(m) == 0]
        assert ours.depths(members, roots) == networkx_depths(sub, members, roots)
        assert ours.edges_among(members) == sorted((c, p) for p, c in sub.edges)


@settings(max_examples=400)
@given(edge_lists)
def test_each_cycle_found_is_a_closed_child_to_parent_walk_inside_its_component(
    edges: EdgeList,
) -> None:
    ours, theirs = both([], edges)
    for component in ours.strong_components():
        start = min(component)
        if len(component) == 1 and not ours.has_edge(start, start):
            continue
        cycle = ours.cycle_upwards(start, component)
        assert cycle[0] == cycle[-1] and len(cycle) >= 2
        assert set(cycle) <= component
        for child, parent in zip(cycle, cycle[1:], strict=False):
            assert theirs.has_edge(parent, child)


@settings(max_examples=300)
@given(edge_lists, st.lists(st.sampled_from(NODES), max_size=4))
def test_removing_nodes_and_parent_edges_agrees_with_networkx(
    edges: EdgeList, removed: list[str]
) -> None:
    ours, theirs = both([], edges)
    for index, node in enumerate(removed):
        if node not in theirs:
            continue
        if index % 2:
            ours.remove_node(node)
            theirs.remove_node(node)
        else:
            ours.remove_in_edges(node)
            theirs.remove_edges_from(list(theirs.in_edges(node)))
        assert sorted(ours.edges) == sorted((c, p) for p, c in theirs.edges)
        assert sorted(ours.nodes) == sorted(theirs.nodes)
