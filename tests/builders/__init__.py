"""Builders for test data: tiny CLEF/CIRAL collections and tiny NMT models; and comparing two indexes.

They live under ``tests/`` so that they never ship in the wheel. Benchmarks
import them from here too (the repository root must be on ``sys.path``).
"""
