"""`make cluster`: nginx in front of three identidock replicas, one renderer, PostgreSQL
and Redis, under new hashes asked for at once; then one replica SIGKILLed mid-run.

bench/cluster_bench.py's load, made small: wrk (1 thread, 8 connections) for 4 s,
twice, over 200 new hashes, each asked for by all 8 connections at about the same time,
through nginx, which spreads them over the replicas. One cluster (one gunicorn worker of
4 threads per replica, rate limits out of the way: wrk is one client) on a scratch
database and the suite's Redis database under this run's key prefix, shared by the
tests of this module; each test checks one thing the two loads recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bench import cluster_bench
from scripts.stack import databases
from scripts.stack.processes import Exit
from tests import per_run

HASHES = 200
# Small and short: the suite runs two files at a time, and timing tests in the other
# (tests/test_slow_clients.py) should not feel this one's load.
SECONDS = 4
THREADS, CONNECTIONS, REPEATS = 1, 8, 8
THREADS_PER_REPLICA = 4  # GUNICORN_THREADS' default, one worker


@dataclass
class ClusterRun:
    steady: cluster_bench.Figures
    killed: cluster_bench.Figures
    exits: dict[str, Exit]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory) -> Iterator[ClusterRun]:
    database_url = databases.scratch_database_url(
        os.environ["DATABASE_URL"], prefix="test_identidock_cluster"
    )
    databases.create_database(database_url)
    logs = tmp_path_factory.mktemp("cluster-logs")
    try:
        with cluster_bench.cluster(
            database_url=database_url,
            redis_url=os.environ["REDIS_URL"],
            log_dir=logs,
            SECRET_KEY="cluster-test-" + "k" * 40,
            GUNICORN_WORKERS="1",
            CACHE_KEY_PREFIX=per_run.cache_key_prefix(),
        ) as stack:
            revision = cluster_bench.revision_of(stack)

            def load(name: str, kill_after: float | None) -> cluster_bench.Figures:
                return cluster_bench.run_load(
                    stack,
                    database_url=database_url,
                    hashes=cluster_bench.new_hashes(HASHES),
                    revision=revision,
                    seconds=SECONDS,
                    connections=CONNECTIONS,
                    threads=THREADS,
                    repeats=REPEATS,
                    raw=logs / f"{name}.txt",
                    kill_after=kill_after,
                )

            steady = load("steady", None)
            killed = load("killed", SECONDS / 3)
            exits = stack.stop()
        for figures in (steady, killed):
            print("\n".join(figures.lines("cluster test")))
        yield ClusterRun(steady, killed, exits)
    finally:
        databases.drop_database(database_url)


def test_nginx_balances_three_replicas(cluster_run):
    replicas = cluster_run.steady.replicas
    assert sorted(replicas.values()) == ["identidock-1", "identidock-2", "identidock-3"]
    answers = cluster_run.steady.by_replica()
    assert all(sum(answers[name].values()) > 0 for name in replicas.values()), answers


def test_new_hashes_under_load_all_answer_200_with_no_socket_errors(cluster_run):
    steady = cluster_run.steady
    assert len(steady.requested) >= HASHES // 4  # a slow machine still gets through many
    assert set(steady.statuses) == {200}
    assert steady.truncated == []
    assert steady.answered == steady.requested
    assert sum(steady.wrk.errors.values()) == 0, steady.wrk.errors


def test_each_hash_and_size_is_rendered_exactly_once_across_the_replicas(cluster_run):
    steady = cluster_run.steady
    assert steady.renders == dict.fromkeys(steady.answered, 1)


def test_each_hash_and_size_is_audited_exactly_once(cluster_run):
    steady = cluster_run.steady
    assert steady.rows == dict.fromkeys(steady.answered, 1)


def test_every_replica_serves_hits(cluster_run):
    hits = cluster_run.steady.hits_by_replica()
    assert len(hits) == 3
    assert all(count > 0 for count in hits.values()), hits


def test_a_killed_replica_is_routed_around_and_only_its_requests_in_flight_may_fail(cluster_run):
    killed = cluster_run.killed
    assert killed.killed == "identidock-2"
    assert cluster_run.exits["identidock-2"].returncode == -9  # SIGKILL, never stopped
    # A 5xx, or a 200 cut short after its header, only for a request that had reached
    # the killed replica: at most one per thread it had; nginx retries a GET on another
    # replica unless the answer had begun, so usually none.
    assert killed.unexplained_failures() == 0
    assert len(killed.in_flight_on_killed()) <= THREADS_PER_REPLICA
    assert sum(killed.wrk.errors.values()) <= THREADS_PER_REPLICA, killed.wrk.errors
    # The two others carried on.
    survivors = {
        name: counts for name, counts in killed.by_replica().items() if name != killed.killed
    }
    assert all(counts["200 HIT"] > 0 for counts in survivors.values()), survivors


def test_a_killed_replica_loses_no_audit_row(cluster_run):
    assert cluster_run.killed.lost_rows == set()


def test_a_killed_replica_writes_no_audit_row_twice(cluster_run):
    killed = cluster_run.killed
    assert killed.duplicate_rows == {}
    assert killed.rows_without_answer == set()
    # A render in flight on the killed replica may be done again by another once its
    # lock expires: at most one per thread the killed replica had.
    assert len(killed.rendered_more_than_once) <= THREADS_PER_REPLICA


def test_the_surviving_servers_stop_gracefully(cluster_run):
    for name in ("proxy", "identidock-1", "identidock-3", "dnmonster"):
        assert cluster_run.exits[name].returncode == 0, (
            name,
            cluster_run.exits[name].stderr[-2000:],
        )
