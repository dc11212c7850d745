"""The throwaway PostgreSQL server of the tests; it lives in the library (tutor/bench/postgres.py)
because the replica bench starts one too."""

from tutor.bench.postgres import USER, TemporaryPostgres, find_bin

__all__ = ["USER", "TemporaryPostgres", "find_bin"]
