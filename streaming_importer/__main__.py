from streaming_importer.cli import main

raise SystemExit(main())
