from powercrm.cli import main

raise SystemExit(main())
