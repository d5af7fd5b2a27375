#!/usr/bin/env python3
"""
Regenerates the JSON Schemas that test/unit/audit/ocsf-schema.test.ts validates Sluice's OCSF events
against: one self-contained schema (objects embedded under $defs) per OCSF class Sluice emits, with
the profiles Sluice declares in metadata.profiles.

Source: the OCSF schema release OCSF_VERSION as compiled from the ocsf/ocsf-schema definitions (the
schema server's `export/schema` document), packaged by the `ocsf-json-schema` library, which also
turns it into JSON Schema (draft 2020-12; enums, required attributes, no unknown attributes).
Bring your own compiled export with --export FILE (e.g. from `python -m ocsf.compile` of ocsf-lib
run on an ocsf-schema checkout at the same tag).

  python3 -m venv /tmp/ocsf-venv && /tmp/ocsf-venv/bin/pip install ocsf-json-schema==1.2.0
  /tmp/ocsf-venv/bin/python scripts/ocsf/generate-schemas.py

Keep OCSF_VERSION and CLASSES in step with gateway/audit/ocsf/ocsf-version.ts.
"""
import argparse
import json
import pathlib

from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

OCSF_VERSION = "1.8.0"
GENERATOR = "ocsf-json-schema==1.2.0"
# class name -> the profiles Sluice applies to it (metadata.profiles of every event of that class).
CLASSES = {
    "api_activity": ["security_control"],
    "authentication": [],
    "authorize_session": [],
    "user_access": [],
    "event_log_actvity": [],
}

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", help="a compiled OCSF schema export (JSON) instead of the packaged release")
    parser.add_argument("--out", default=str(ROOT / "test" / "fixtures" / "ocsf" / OCSF_VERSION))
    args = parser.parse_args()
    if args.export:
        compiled = json.loads(pathlib.Path(args.export).read_text())
    else:
        compiled = get_ocsf_schema(version=OCSF_VERSION)
    if compiled.get("version") != OCSF_VERSION:
        raise SystemExit(f"export is OCSF {compiled.get('version')}, want {OCSF_VERSION}")
    schema = OcsfJsonSchemaEmbedded(compiled)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, profiles in CLASSES.items():
        doc = schema.get_class_schema(class_name=name, profiles=profiles)
        (out / f"{name}.schema.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    (out / "manifest.json").write_text(
        json.dumps({"ocsf_version": OCSF_VERSION, "generator": GENERATOR, "classes": CLASSES}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
