"""Validates an OpenAPI document as OpenAPI 3.1 with openapi-spec-validator (PyPI).

Usage: python3 validate_openapi.py DOCUMENT.json
Prints every error it finds and exits 1 if there is any; prints "valid" otherwise.
"""

import json
import sys

from openapi_spec_validator import OpenAPIV31SpecValidator


def main(path):
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    for error in errors:
        where = "/".join(str(part) for part in error.absolute_path)
        print(f"{where}: {error.message}")
    if errors:
        return 1
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
