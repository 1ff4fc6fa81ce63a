"""Answering a query: filters, ranking (pure), results and the exchange around a hit.

Imports the store, the model's BM25 terms, sources and state; nothing of pipeline or surfaces.
"""
