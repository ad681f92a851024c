from autotrade_tui.cli import main

raise SystemExit(main())
