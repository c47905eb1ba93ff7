"""Validates checklist JSON files against the committed schema, with `jsonschema_rs` (pinned in
tests/api/requirements.txt and installed into .venv by scripts/apitools.sh, which the test command runs).

Usage: validate_schema.py SCHEMA VALID.json... -- INVALID.json...

Every file before `--` must be valid and every file after it invalid: the second half shows
the schema constrains what the Rust reader refuses, not only that it accepts what it writes.
Run by tests/schema.rs (`a_produced_checklist_is_valid_under_the_schema`).
"""

import json
import sys

import jsonschema_rs


def main(argv: list[str]) -> int:
    schema_path, *rest = argv
    split = rest.index("--") if "--" in rest else len(rest)
    valid, invalid = rest[:split], rest[split + 1 :]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    # Building the validator checks the schema itself against its draft's meta-schema.
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    failures = 0
    for path in valid:
        with open(path, encoding="utf-8") as f:
            errors = list(validator.iter_errors(json.load(f)))
        for e in errors:
            print(f"{path}: {e.instance_path}: {e.message[:200]}")
        failures += bool(errors)
    for path in invalid:
        with open(path, encoding="utf-8") as f:
            if validator.is_valid(json.load(f)):
                print(f"{path}: valid, but the checklist reader refuses it")
                failures += 1
    print(f"{len(valid)} valid and {len(invalid)} invalid documents checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
