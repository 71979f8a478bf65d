import sys

from ccserver.cli import main

sys.exit(main())
