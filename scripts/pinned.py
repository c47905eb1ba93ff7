"""Exit 0 when every `name==version` pin of the requirements file given is installed at exactly
that version in the running Python; used by scripts/apitools.sh and scripts/exporters.sh, so pip
runs only when something differs."""
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
