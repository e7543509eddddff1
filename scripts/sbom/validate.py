#!/usr/bin/env python3
"""Checks an SBOM Bulwark wrote with the specifications' own validators, offline.

    python3 scripts/sbom/validate.py cyclonedx FILE
    python3 scripts/sbom/validate.py spdx FILE [--schema SPDX_SCHEMA_JSON]

cyclonedx: a CycloneDX 1.6 JSON document, against the official 1.6 JSON schema as
    cyclonedx-python-lib ships it (strict: no unknown properties, formats checked), then
    what the schema cannot say: every bom-ref unique, every reference (dependencies,
    vulnerabilities' affects) resolving, every purl a valid package URL.
spdx: an SPDX 2.3 JSON document, parsed and fully validated by spdx-tools (the SPDX
    project's own library: required fields, SPDX ids, relationships, purl locators,
    the namespace URI, ...); with --schema, also against the official SPDX 2.3 JSON schema
    (spdx-spec, schemas/spdx-schema.json), which rejects unknown fields the parser ignores.

Exit status: 0 when valid; 1 with the errors printed when not; 2 when the command is
wrong or a package it needs is missing.

Needs (PyPI): cyclonedx-python-lib[json-validation] >= 8 (checked with 11.12.0; brings
jsonschema[format-nongpl], referencing, packageurl-python) and spdx-tools >= 0.8 (checked
with 0.8.5). For example:
    python3 -m pip install 'cyclonedx-python-lib[json-validation]>=8,<12' 'spdx-tools>=0.8,<0.9'
"""

import argparse
import json
import sys


def fail_import(error):
    print(
        f"missing package: {error}\n"
        "install: python3 -m pip install 'cyclonedx-python-lib[json-validation]>=8,<12' "
        "'spdx-tools>=0.8,<0.9'",
        file=sys.stderr,
    )
    sys.exit(2)


def where(path):
    """A JSON pointer of a jsonschema error's path."""
    return "/" + "/".join(str(part) for part in path)


def cyclonedx(file):
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
        from packageurl import PackageURL
    except ImportError as error:
        fail_import(error)

    with open(file, encoding="utf-8") as handle:
        text = handle.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"not JSON: {error}"]
    if not isinstance(document, dict):
        return ["not a JSON object"]

    errors = []
    if document.get("bomFormat") != "CycloneDX":
        errors.append(f"bomFormat is {document.get('bomFormat')!r}, not 'CycloneDX'")
    if document.get("specVersion") != "1.6":
        errors.append(f"specVersion is {document.get('specVersion')!r}, not '1.6'")

    found = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    for error in found or []:
        data = error.data
        path = getattr(data, "absolute_path", None)
        message = getattr(data, "message", str(data))
        errors.append(f"schema: {where(path) if path is not None else '/'}: {message}")

    # What the schema cannot check.
    refs = {}

    def collect(element, pointer):
        if not isinstance(element, dict):
            return
        ref = element.get("bom-ref")
        if isinstance(ref, str):
            if ref in refs:
                errors.append(f"bom-ref {ref!r} at {pointer} is also at {refs[ref]}")
            else:
                refs[ref] = pointer
        purl = element.get("purl")
        if isinstance(purl, str):
            try:
                PackageURL.from_string(purl)
            except ValueError as error:
                errors.append(f"purl at {pointer}: {purl!r}: {error}")
        for index, child in enumerate(element.get("components") or []):
            collect(child, f"{pointer}/components/{index}")
        for index, child in enumerate(element.get("services") or []):
            collect(child, f"{pointer}/services/{index}")

    metadata = document.get("metadata") or {}
    if isinstance(metadata, dict):
        collect(metadata.get("component"), "/metadata/component")
    for key in ("components", "services", "vulnerabilities"):
        for index, element in enumerate(document.get(key) or []):
            collect(element, f"/{key}/{index}")

    def resolves(ref, pointer):
        if isinstance(ref, str) and not ref.startswith("urn:cdx:") and ref not in refs:
            errors.append(f"{pointer}: {ref!r} names no bom-ref in the document")

    for index, dependency in enumerate(document.get("dependencies") or []):
        if not isinstance(dependency, dict):
            continue
        resolves(dependency.get("ref"), f"/dependencies/{index}/ref")
        for key in ("dependsOn", "provides"):
            for position, ref in enumerate(dependency.get(key) or []):
                resolves(ref, f"/dependencies/{index}/{key}/{position}")
    for index, vulnerability in enumerate(document.get("vulnerabilities") or []):
        if not isinstance(vulnerability, dict):
            continue
        for position, affect in enumerate(vulnerability.get("affects") or []):
            if isinstance(affect, dict):
                resolves(affect.get("ref"), f"/vulnerabilities/{index}/affects/{position}/ref")
    return errors


def spdx(file, schema):
    try:
        from spdx_tools.spdx.parser.error import SPDXParsingError
        from spdx_tools.spdx.parser.json import json_parser
        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    except ImportError as error:
        fail_import(error)

    errors = []
    with open(file, encoding="utf-8") as handle:
        try:
            document = json.load(handle)
        except json.JSONDecodeError as error:
            return [f"not JSON: {error}"]
    if not isinstance(document, dict):
        return ["not a JSON object"]
    if document.get("spdxVersion") != "SPDX-2.3":
        errors.append(f"spdxVersion is {document.get('spdxVersion')!r}, not 'SPDX-2.3'")

    if schema:
        try:
            import jsonschema
        except ImportError as error:
            fail_import(error)
        with open(schema, encoding="utf-8") as handle:
            loaded = json.load(handle)
        validator_class = jsonschema.validators.validator_for(loaded)
        validator = validator_class(loaded, format_checker=validator_class.FORMAT_CHECKER)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
            errors.append(f"schema: {where(error.absolute_path)}: {error.message}")

    # The JSON parser of spdx-tools, whatever the file is called (parse_anything goes by
    # the file's extension).
    try:
        parsed = json_parser.parse_from_file(file)
    except SPDXParsingError as error:
        errors.extend(f"parse: {message}" for message in error.get_messages())
        return errors
    for message in validate_full_spdx_document(parsed, spdx_version="SPDX-2.3"):
        context = message.context
        element = getattr(context, "spdx_id", None) or getattr(context, "parent_id", None)
        prefix = f"{element}: " if element else ""
        errors.append(f"spdx-tools: {prefix}{message.validation_message}")
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("format", choices=["cyclonedx", "spdx"])
    parser.add_argument("file")
    parser.add_argument(
        "--schema",
        help="spdx only: the SPDX 2.3 JSON schema to check the document against as well",
    )
    args = parser.parse_args()
    if args.schema and args.format != "spdx":
        parser.error("--schema is for spdx documents")
    try:
        if args.format == "cyclonedx":
            errors = cyclonedx(args.file)
        else:
            errors = spdx(args.file, args.schema)
    except OSError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 2
    if errors:
        for error in errors:
            print(f"{args.file}: {error}")
        print(f"{args.file}: not a valid {args.format} document ({len(errors)} errors)")
        return 1
    print(f"{args.file}: valid {args.format} document")
    return 0


if __name__ == "__main__":
    sys.exit(main())
