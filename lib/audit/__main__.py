import sys

from lib.audit.cli import main

sys.exit(main())
