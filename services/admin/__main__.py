"""``python -m services.admin``: the same as the ``crm-admin`` command."""

from services.admin.cli import main

raise SystemExit(main())
