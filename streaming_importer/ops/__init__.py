"""Running the program: settings, memory, metrics, health, logging, the first steps.

Imports only :mod:`streaming_importer.errors` and :mod:`streaming_importer.sources`
(the agents' folders, for the settings).
"""
