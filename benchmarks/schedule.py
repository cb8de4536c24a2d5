"""How a graph of jobs would spread over N workers, from measured durations.

Plain Python, no Odoo: ``bench_queue_job.py`` feeds it the jobs of a run
(each job's duration and the jobs it waits for) and prints the total work,
the critical path (the longest chain through the dependencies: no number of
workers finishes sooner) and the makespan of a list schedule on 1, 2, 4, 8
and 16 workers: whenever a worker is free it takes, among the jobs whose
dependencies are done, the one with the longest path to the end of the graph.
Each job keeps its measured duration whatever runs beside it: the model of a
database that is not the bottleneck (PostgreSQL with a core per worker).

``python3 benchmarks/schedule.py`` runs its self-check.
"""

import heapq

WORKERS = (1, 2, 4, 8, 16)


def remaining_paths(durations, parents):
    """``{job: length of the longest path from its start to the end of the
    graph}`` (its own duration included).

    :param durations: ``{job: seconds}``
    :param parents: ``{job: jobs it waits for}``
    """
    children = {job: [] for job in durations}
    for job, waits_for in parents.items():
        for parent in waits_for:
            children[parent].append(job)
    remaining = {}
    for job in reversed(topological_order(durations, parents)):
        remaining[job] = durations[job] + max((remaining[c] for c in children[job]), default=0.0)
    return remaining


def topological_order(durations, parents):
    """The jobs, each after the jobs it waits for; ValueError on a cycle."""
    order, state = [], {}
    for start in durations:
        stack = [(start, iter(parents.get(start, ())))]
        if state.get(start):
            continue
        state[start] = "open"
        while stack:
            job, pending = stack[-1]
            parent = next(pending, None)
            if parent is None:
                stack.pop()
                state[job] = "done"
                order.append(job)
            elif state.get(parent) == "open":
                raise ValueError(f"cycle through {parent!r}")
            elif not state.get(parent):
                state[parent] = "open"
                stack.append((parent, iter(parents.get(parent, ()))))
    return order


def critical_path(durations, parents):
    """``(seconds, [jobs])``: the longest chain through the dependencies."""
    remaining = remaining_paths(durations, parents)
    if not remaining:
        return 0.0, []
    children = {job: [] for job in durations}
    for job, waits_for in parents.items():
        for parent in waits_for:
            children[parent].append(job)
    job = max((j for j in durations if not parents.get(j)), key=remaining.get)
    path = [job]
    while children[job]:
        job = max(children[job], key=remaining.get)
        path.append(job)
    return remaining[path[0]], path


def makespan(durations, parents, workers):
    """Seconds until the last job ends, list-scheduled on ``workers`` workers
    (longest remaining path first; ties by the order of ``durations``)."""
    remaining = remaining_paths(durations, parents)
    rank = {job: index for index, job in enumerate(durations)}
    waiting = {job: len(set(parents.get(job, ()))) for job in durations}
    children = {job: [] for job in durations}
    for job, waits_for in parents.items():
        for parent in set(waits_for):
            children[parent].append(job)
    ready = [(-remaining[job], rank[job], job) for job in durations if not waiting[job]]
    heapq.heapify(ready)
    running = []  # (end, rank, job)
    now, free = 0.0, workers
    while ready or running:
        while ready and free:
            _, order, job = heapq.heappop(ready)
            heapq.heappush(running, (now + durations[job], order, job))
            free -= 1
        now, _, job = heapq.heappop(running)
        free += 1
        for child in children[job]:
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, (-remaining[child], rank[child], child))
    return now


def simulate(durations, parents, workers=WORKERS):
    """``{"total", "critical", "path", "makespans": {n: seconds}}``."""
    critical, path = critical_path(durations, parents)
    return {
        "total": sum(durations.values()),
        "critical": critical,
        "path": path,
        "makespans": {n: makespan(durations, parents, n) for n in workers},
    }


def table(result):
    """The simulation as lines of text."""
    total, critical = result["total"], result["critical"]
    share = critical / total if total else 0.0
    lines = [
        f"total work {total:.1f} s; critical path {critical:.1f} s ({share:.0%} of the total,"
        f" at most {total / critical if critical else 0:.1f}x with any number of workers)",
        f"{'workers':>8}{'makespan s':>12}{'speedup':>9}",
    ]
    for workers, seconds in result["makespans"].items():
        lines.append(f"{workers:>8}{seconds:>12.1f}{total / seconds if seconds else 0:>8.2f}x")
    return lines


def self_check():
    """The scheduler on graphs whose answers are known by hand."""
    # Four independent jobs of 1 s: 4 s on one worker, 2 s on two, 1 s on four.
    flat = dict.fromkeys("abcd", 1.0)
    assert [makespan(flat, {}, n) for n in (1, 2, 4, 8)] == [4.0, 2.0, 1.0, 1.0]
    # A chain a(2) -> b(3) and a lone c(4): the critical path is a, b (5 s).
    chain = {"a": 2.0, "b": 3.0, "c": 4.0}
    parents = {"b": ["a"]}
    assert critical_path(chain, parents) == (5.0, ["a", "b"])
    assert makespan(chain, parents, 1) == 9.0
    assert makespan(chain, parents, 2) == 5.0  # a then b on one worker, c on the other
    # Longest remaining path first: with one free worker at the start, the
    # root of the long chain goes before the long lone job.
    graph = {"x": 1.0, "y": 1.0, "z": 1.0, "long": 2.5}
    deps = {"y": ["x"], "z": ["y"]}
    assert makespan(graph, deps, 2) == 3.0
    assert remaining_paths(graph, deps)["x"] == 3.0
    # A join: d waits for b and c, which wait for a.
    diamond = {"a": 1.0, "b": 2.0, "c": 4.0, "d": 1.0}
    dependencies = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert critical_path(diamond, dependencies) == (6.0, ["a", "c", "d"])
    assert makespan(diamond, dependencies, 1) == 8.0
    assert makespan(diamond, dependencies, 2) == 6.0
    result = simulate(diamond, dependencies, (1, 2))
    assert result["total"] == 8.0 and result["makespans"] == {1: 8.0, 2: 6.0}
    try:
        topological_order({"a": 1.0, "b": 1.0}, {"a": ["b"], "b": ["a"]})
    except ValueError:
        pass
    else:
        raise AssertionError("a cycle must be refused")
    return True


if __name__ == "__main__":
    self_check()
    print("schedule.py: self-check passed")
