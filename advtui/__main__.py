from advtui.cli import main

raise SystemExit(main())
