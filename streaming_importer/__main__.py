from streaming_importer.cli import run

run()
