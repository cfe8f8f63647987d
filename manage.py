#!/usr/bin/env python
"""Django's command-line utility; `safepassage` (the installed script) is the same."""

from safepassage.cli import main

if __name__ == "__main__":
    main()
