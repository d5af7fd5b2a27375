#!/usr/bin/env python3
"""
Regenerates the JSON Schemas that test/unit/audit/ocsf-schema.test.ts validates Sluice's OCSF events
against: one self-contained schema (objects embedded under $defs) per OCSF class Sluice emits, with
the profiles Sluice declares in metadata.profiles.

Source: the OCSF schema release OCSF_VERSION as compiled from the ocsf/ocsf-schema definitions (the
schema server's `export/schema` document), packaged by the `ocsf-json-schema` library, which also
turns it into JSON Schema (draft 2020-12; enums, required attributes, no unknown attributes).
Bring your own compiled export with --export FILE. --check-source DIR compiles an ocsf/ocsf-schema checkout at
the same tag with ocsf-lib and fails unless every attribute of the emitted classes and of the objects their
schemas embed (requirement, type, enum values, array or not) is the same as in the export used.

  python3 -m venv /tmp/ocsf-venv && /tmp/ocsf-venv/bin/pip install ocsf-json-schema==1.2.0 ocsf-lib==0.10.4
  git clone --branch 1.8.0 --depth 1 https://github.com/ocsf/ocsf-schema /tmp/ocsf-schema
  /tmp/ocsf-venv/bin/python scripts/ocsf/generate-schemas.py --check-source /tmp/ocsf-schema

Keep OCSF_VERSION and CLASSES in step with gateway/audit/ocsf/ocsf-version.ts.
"""
import argparse
import json
import pathlib
import subprocess
import sys

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


def attributes(entity: dict) -> dict:
    """An attribute table in a form both compilers agree on (they spell object types differently)."""
    out = {}
    for name, a in entity.get("attributes", {}).items():
        kind = a.get("object_type") if a.get("type") == "object_t" else a.get("type")
        enum = tuple(sorted((a.get("enum") or {}).keys()))
        out[name] = (a.get("requirement"), kind, enum, bool(a.get("is_array")))
    return out


def check_source(compiled: dict, source_dir: str, objects: set) -> None:
    """Compiles the ocsf-schema checkout and compares what the generated schemas depend on."""
    version = json.loads((pathlib.Path(source_dir) / "version.json").read_text())["version"]
    if version != OCSF_VERSION:
        raise SystemExit(f"{source_dir} is OCSF {version}, want {OCSF_VERSION}")
    run = subprocess.run([sys.executable, "-m", "ocsf.compile", source_dir], capture_output=True, check=True)
    source = json.loads(run.stdout)
    diffs = []
    for group, names in (("classes", CLASSES.keys()), ("objects", objects)):
        for name in sorted(names):
            # $defs names an extension's object `win/win_service` as `win_win_service`.
            key = name if name in compiled[group] else name.replace("_", "/", 1)
            a, b = attributes(compiled[group][key]), attributes(source[group][key])
            diffs += [f"{group}.{name}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if diffs:
        raise SystemExit("export and source definitions differ: " + ", ".join(diffs))
    print(f"checked against {source_dir}: {len(CLASSES)} classes, {len(objects)} objects identical")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", help="a compiled OCSF schema export (JSON) instead of the packaged release")
    parser.add_argument("--check-source", help="an ocsf/ocsf-schema checkout at OCSF_VERSION to compare with")
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
    embedded = set()
    for name, profiles in CLASSES.items():
        doc = schema.get_class_schema(class_name=name, profiles=profiles)
        embedded |= set(doc.get("$defs", {}).keys())
        (out / f"{name}.schema.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    if args.check_source:
        check_source(compiled, args.check_source, embedded)
    (out / "manifest.json").write_text(
        json.dumps({"ocsf_version": OCSF_VERSION, "generator": GENERATOR, "classes": CLASSES}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
