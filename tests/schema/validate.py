#!/usr/bin/env python3
"""Validates recorded IPC messages against docs/ipc.schema.json with the
real `jsonschema` package (Draft 2020-12), for tests/tests/ipc_schema.rs.

    validate.py SCHEMA RECORDING

RECORDING is JSON lines: {"def": NAME, "message": ..., "valid": true|false}
where NAME is one of the schema's $defs (ClientHello, Request, ServerHello,
Response, ...) and `valid` what the message must be (false: a negative
control the schema must refuse). Prints one JSON summary line; exits 1 when
any message is not as expected, 3 when jsonschema is missing.
"""

import importlib.metadata
import json
import sys

try:
    import jsonschema
except ImportError:
    print(
        f"Python jsonschema is missing in {sys.executable}: run scripts/test.sh, "
        f"or `{sys.executable} -m pip install jsonschema`",
        file=sys.stderr,
    )
    sys.exit(3)


def main(schema_path, recording_path):
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validators = {}

    def validator(name):
        if name not in validators:
            if name not in schema["$defs"]:
                raise SystemExit(f"the schema has no $defs/{name}")
            validators[name] = jsonschema.Draft202012Validator(
                {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{name}"}
            )
        return validators[name]

    checked, refused, failures = {}, 0, []
    with open(recording_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            record = json.loads(line)
            name, message, valid = record["def"], record["message"], record.get("valid", True)
            errors = sorted(validator(name).iter_errors(message), key=lambda e: list(e.path))
            if valid and errors:
                best = jsonschema.exceptions.best_match(errors)
                failures.append(
                    f"line {number}: {name} {json.dumps(message)[:300]}: "
                    f"{best.message} at {'/'.join(map(str, best.absolute_path)) or '(root)'}"
                )
            elif not valid and not errors:
                failures.append(f"line {number}: {name} accepted a message it must refuse: {json.dumps(message)[:300]}")
            elif valid:
                checked[name] = checked.get(name, 0) + 1
            else:
                refused += 1
    print(json.dumps({
        "jsonschema": importlib.metadata.version("jsonschema"),
        "valid": checked,
        "refused": refused,
        "failures": failures,
    }))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
