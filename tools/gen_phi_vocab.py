#!/usr/bin/env python3
"""Writes the vocabularies the PHI detectors validate against, under src/phi/data/:

- icd10cm.txt: every ICD-10-CM code (FY2026 tabular list, April 2026 update), one line per
  three-character category followed by the rest of each of its codes, dots removed
  ("E11 0 00 01 ..."). From PyPI's `simple-icd-10-cm` (its bundled CMS code list).
- medications.txt: lowercase medication names, generic and brand, one per line. From
  PyPI's `drug-named-entity-recognition` (its dictionary of MedlinePlus, NHS, DrugBank
  and Wikipedia drug names), keeping the names of medicines (those with a MedlinePlus,
  NHS, DrugBank or Wikipedia drug entry) rather than the MeSH chemistry terms the
  dictionary also holds.
- first_names.txt: lowercase given names, one per line, from the US Census Bureau's 1990
  frequency lists (male and female first names) as PyPI's `names` bundles them; names of
  months and weekdays are left out (a capitalised "May" is more often the month).

All three packages are MIT-licensed. Run `python3 tools/gen_phi_vocab.py`: it downloads the
pinned packages with `pip download --no-deps` (no install) and reads their data files.
"""
import bz2
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ICD_PACKAGE = "simple-icd-10-cm==1.5.0"
ICD_DATA = "simple_icd_10_cm/data/code-list-April-2026.txt"
DRUG_PACKAGE = "drug-named-entity-recognition==2.0.9"
DRUG_DATA = "drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2"
NAMES_PACKAGE = "names==0.3.0"
NAMES_DATA = ["names-0.3.0/names/dist.male.first", "names-0.3.0/names/dist.female.first"]
CALENDAR_WORDS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday",
}

OUT = Path(__file__).resolve().parent.parent / "src" / "phi" / "data"


def wheel(package, into):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", into, package],
        check=True,
    )
    name = package.split("==")[0].replace("-", "_")
    return zipfile.ZipFile(next(Path(into).glob(f"{name}-*.whl")))


def sdist(package, into):
    """The source archive of a package published without a wheel."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "-d", into, package],
        check=True,
    )
    name = package.split("==")[0]
    return tarfile.open(next(Path(into).glob(f"{name}-*.tar.gz")))


def first_names(archive):
    names = set()
    for member in NAMES_DATA:
        for line in archive.extractfile(member).read().decode().splitlines():
            name = line.split()[0].lower() if line.strip() else ""
            if re.fullmatch(r"[a-z]{3,}", name) and name not in CALENDAR_WORDS:
                names.add(name)
    return "".join(name + "\n" for name in sorted(names))


def icd10cm(archive):
    categories = {}
    for line in archive.read(ICD_DATA).decode().splitlines():
        code = line.strip().replace(".", "")
        # The list also names chapters ("1") and blocks ("A00-A09"): only codes count.
        if re.fullmatch(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}", code):
            categories.setdefault(code[:3], []).append(code[3:])
    return "".join(
        " ".join([category] + [rest for rest in sorted(rests) if rest]) + "\n"
        for category, rests in sorted(categories.items())
    )


def medications(archive):
    dictionary = pickle.loads(bz2.decompress(archive.read(DRUG_DATA)))
    canonical = dictionary["drug_canonical_to_data"]
    medicine = {
        name
        for name, data in canonical.items()
        if {"medline_plus_id", "nhs_url", "drugbank_id", "wikipedia_url"} & data.keys()
    }
    names = {
        variant
        for variant, targets in dictionary["drug_variant_to_canonical"].items()
        if any(target in medicine for target in targets)
        # Words the detector can match: letters, hyphens, up to three words.
        and re.fullmatch(r"[a-z][a-z-]{3,}(?: [a-z][a-z-]+){0,2}", variant)
    }
    return "".join(name + "\n" for name in sorted(names))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as into:
        (OUT / "icd10cm.txt").write_text(icd10cm(wheel(ICD_PACKAGE, into)))
        (OUT / "medications.txt").write_text(medications(wheel(DRUG_PACKAGE, into)))
        (OUT / "first_names.txt").write_text(first_names(sdist(NAMES_PACKAGE, into)))
    for name in ["icd10cm.txt", "medications.txt", "first_names.txt"]:
        path = OUT / name
        print(f"{path}: {len(path.read_text().splitlines())} lines, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
