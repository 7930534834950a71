"""Convert dicom-anonymizer's transcription of PS3.15 Table E.1-1 into ``ps3.15_e1-1_<edition>.csv``.

Run once when a new edition is adopted (the CSV is committed; medmint never imports dicom-anonymizer)::

    pip download --no-deps dicom-anonymizer==2.1.0 && unzip dicom_anonymizer-2.1.0-py3-none-any.whl -d /tmp/dan
    python anonymize/data/convert_dicom_anonymizer.py \
        /tmp/dan/dicomanonymizer/dicom_anonymization_databases/dicomfields_2026c.py 2026c

The Python file is parsed as text (each tag tuple and its trailing ``# Name`` comment), not imported.
The two option columns are derived here, as README.md beside this file explains.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

# dicom-anonymizer's list name -> the Basic Profile action code of Table E.1-1.
LISTS = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z",
         "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}

# Attributes Table E.1-1 marks "C" in its Clean Descriptors Option column (the ones we know of and
# that are in the table: free-text descriptions and comments a user wants kept once cleaned).
CLEAN_DESCRIPTORS = {
    "AcquisitionComments", "AcquisitionDeviceProcessingDescription", "AcquisitionProtocolDescription",
    "AdditionalPatientHistory", "AdmittingDiagnosesDescription", "Allergies",
    "CommentsOnThePerformedProcedureStep", "ContrastBolusAgent", "DerivationDescription",
    "DischargeDiagnosisDescription", "FrameComments", "IdentifyingComments", "ImageComments",
    "ImagingServiceRequestComments", "Impressions", "InterpretationDiagnosisDescription", "InterpretationText",
    "MedicalAlerts", "Occupation", "PatientComments", "PatientState", "PerformedProcedureStepDescription",
    "PreMedication", "ProtocolName", "ReasonForStudy", "ReasonForTheImagingServiceRequest",
    "ReasonForTheRequestedProcedure", "ReasonForVisit", "RequestedContrastAgent", "RequestedProcedureComments",
    "RequestedProcedureDescription", "ResultsComments", "ScheduledProcedureStepDescription",
    "SeriesDescription", "ServiceEpisodeDescription", "SpecialNeeds", "StudyComments", "StudyDescription",
    "TextComments", "TextString", "TreatmentSite", "VisitComments",
}
DATE_TIME_VRS = {"DA", "DT", "TM"}
_LIST = re.compile(r"^([A-Z_]+) = \[", re.M)
_TUPLE = re.compile(r"\(\s*((?:0x[0-9A-Fa-f]{4}\s*,\s*){1,3}0x[0-9A-Fa-f]{4})\s*,?\s*\)\s*,?\s*#\s*([^\n]+)")


def _tag_text(numbers: list[int]) -> str:
    """'(0010,0010)'; a masked tag (group, element, group mask, element mask) as '(60xx,3000)'."""
    group, element = numbers[0], numbers[1]
    gmask, emask = (numbers[2], numbers[3]) if len(numbers) == 4 else (0xFFFF, 0xFFFF)
    g = "".join(c if (gmask >> (12 - 4 * i)) & 0xF else "x" for i, c in enumerate(f"{group:04X}"))
    e = "".join(c if (emask >> (12 - 4 * i)) & 0xF else "x" for i, c in enumerate(f"{element:04X}"))
    return f"({g},{e})"


def _vr_and_keyword(tag: str, name: str) -> tuple[str, str]:
    from pydicom.datadict import dictionary_VR, keyword_for_tag

    if "x" in tag:
        return "", ""
    value = int(tag[1:5] + tag[6:10], 16)
    keyword = keyword_for_tag(value)
    try:
        vr = dictionary_VR(value)
    except KeyError:  # newer than this pydicom's dictionary: judge by the name
        vr = "DT" if name.endswith("DateTime") else "DA" if name.endswith(" Date") else \
             "TM" if name.endswith(" Time") else ""
    return vr, keyword or re.sub(r"[^A-Za-z0-9]", "", name.title())


def convert(source: str, edition: str) -> str:
    """The CSV text for the dicom-anonymizer module ``source``."""
    starts = [(m.start(), m.group(1)) for m in _LIST.finditer(source)] + [(len(source), "")]
    rows: dict[str, list[str]] = {}
    for (begin, name), (end, _) in zip(starts, starts[1:]):
        action = LISTS.get(name)
        if action is None:
            continue
        for m in _TUPLE.finditer(source, begin, end):
            tag = _tag_text([int(x, 16) for x in m.group(1).split(",")])
            attr_name = m.group(2).strip()
            vr, keyword = _vr_and_keyword(tag, attr_name)
            if tag in rows:
                raise ValueError(f"{tag} listed twice")
            rows[tag] = [tag, keyword, attr_name, vr, action,
                         "C" if vr in DATE_TIME_VRS else "", "C" if keyword in CLEAN_DESCRIPTORS else ""]
    out = io.StringIO()
    out.write(f"# DICOM PS3.15 {edition} Annex E Table E.1-1 (Application Level Confidentiality Profile Attributes)\n"
              f"# Basic Profile actions transcribed from dicom-anonymizer 2.1.0 (BSD-3-Clause), "
              f"dicomfields_{edition}.py; option columns derived by convert_dicom_anonymizer.py (see README.md)\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tag", "keyword", "name", "vr", "basic", "retain_long_modified_dates", "clean_descriptors"])
    writer.writerows(sorted(rows.values(), key=lambda r: r[0].replace("x", "0")))
    return out.getvalue()


def main(argv: list[str]) -> None:
    source_path, edition = argv[1], argv[2]
    target = Path(__file__).with_name(f"ps3.15_e1-1_{edition}.csv")
    target.write_text(convert(Path(source_path).read_text(), edition))
    print(target)


if __name__ == "__main__":
    main(sys.argv)
