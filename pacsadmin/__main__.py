from pacsadmin.cli.main import main

raise SystemExit(main())
