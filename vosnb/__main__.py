from vosnb.cli import main

raise SystemExit(main())
