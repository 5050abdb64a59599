"""The food-safety registers as documents an inspector accepts: the temperature log, the
disinfection register, the sample retention register and the probe calibration register for a
period, as a print-ready PDF (`pdf_bytes`) or an XLSX workbook (`xlsx_bytes`), in Chinese or
English. `build_document` decides what a register holds; the writers only lay it out.
"""

from alerts.register_export.build import build_document
from alerts.register_export.documents import (
    REGISTER_KINDS,
    RegisterDocument,
    RegisterKindError,
    RegisterName,
    RegisterSources,
    register_devices,
)
from alerts.register_export.labels import Lang

__all__ = [
    "REGISTER_KINDS",
    "Lang",
    "RegisterDocument",
    "RegisterKindError",
    "RegisterName",
    "RegisterSources",
    "build_document",
    "pdf_bytes",
    "register_devices",
    "xlsx_bytes",
]


def pdf_bytes(document: RegisterDocument) -> bytes:
    from alerts.register_export.pdf import pdf_bytes as write  # matplotlib loads when asked

    return write(document)


def xlsx_bytes(document: RegisterDocument) -> bytes:
    from alerts.register_export.xlsx import xlsx_bytes as write

    return write(document)
