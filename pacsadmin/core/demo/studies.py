"""The demo PACS's studies: DICOM data sets built from :mod:`pixels`.

Eight studies of six patients: a 120-slice CT phantom (Latin-1 name, ISO_IR 100), a CR
chest, a DX hand stored in JPEG 2000 Lossless, a mislabelled CR (wrong patient name and
ID, to practise the correction), an MR head (Greek name, ISO_IR 192), an XA multi-frame
run (Japanese name, ISO_IR 192), an RGB ultrasound image, and an MR series with a missing
slice and a duplicated instance (to practise QC).  UIDs are derived from fixed names
(``generate_uid`` with entropy sources): every generation gives the same UIDs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from pacsadmin.core.demo import pixels

CT_SLICES = 120
CT = "1.2.840.10008.5.1.4.1.1.2"
CR = "1.2.840.10008.5.1.4.1.1.1"
DX = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
MR = "1.2.840.10008.5.1.4.1.1.4"
XA = "1.2.840.10008.5.1.4.1.1.12.1"
US = "1.2.840.10008.5.1.4.1.1.6.1"


@dataclass(frozen=True)
class Patient:
    name: str
    id: str
    birth: str
    sex: str
    charset: str = ""  # "": the default repertoire (ASCII)


MUELLER = Patient("Müller^Jürgen", "DEMO-0001", "19580312", "M", "ISO_IR 100")
DOE = Patient("Doe^Jane", "DEMO-0002", "19750921", "F")
# Jane Doe's chest follow-up, registered under a mistyped name and ID: the one to correct
DOE_WRONG = Patient("Deo^Jnae", "DEMO-0020", "19750921", "F")
PAPADOPOULOS = Patient("Παπαδόπουλος^Γιώργος", "DEMO-0003", "19660205", "M", "ISO_IR 192")
YAMADA = Patient("Yamada^Taro=山田^太郎=やまだ^たろう", "DEMO-0004", "19491130", "M", "ISO_IR 192")
SMITH = Patient("Smith^Anna", "DEMO-0005", "19880714", "F")
PATIENTS = (MUELLER, DOE, DOE_WRONG, PAPADOPOULOS, YAMADA, SMITH)


def uid(*parts: object) -> UID:
    return generate_uid(entropy_srcs=["pacsadmin-demo", *map(str, parts)])


@dataclass(frozen=True)
class Study:
    key: str
    patient: Patient
    date: str
    time: str
    description: str
    accession: str
    modality: str

    @property
    def uid(self) -> UID:
        return uid(self.key)


def _base(study: Study, sop_class: str, series: int, number: int, series_desc: str) -> Dataset:
    """The patient, study, series, equipment and SOP common modules of one instance."""
    p = study.patient
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if p.charset:
        ds.SpecificCharacterSet = p.charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(study.key, series, number)
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.date
    ds.StudyTime = ds.SeriesTime = study.time
    ds.ContentTime = f"{study.time[:4]}{number % 60:02d}"
    ds.AccessionNumber = study.accession
    ds.Modality = study.modality
    ds.Manufacturer = "pacsadmin"
    ds.ManufacturerModelName = "Demo PACS generator"
    ds.InstitutionName = "pacsadmin demo hospital"
    ds.ReferringPhysicianName = "Demo^Referrer"
    ds.StationName = "DEMO"
    ds.StudyDescription = study.description
    ds.SeriesDescription = series_desc
    ds.PatientName = p.name
    ds.PatientID = p.id
    ds.PatientBirthDate = p.birth
    ds.PatientSex = p.sex
    ds.StudyInstanceUID = study.uid
    ds.SeriesInstanceUID = uid(study.key, series)
    ds.StudyID = study.accession[-4:]
    ds.SeriesNumber = series
    ds.InstanceNumber = number
    ds.PatientOrientation = ""
    return ds


def _pixels(ds: Dataset, arr: np.ndarray[Any, Any], *, bits: int = 12) -> None:
    """Image Pixel module for a grey (rows, cols) or (frames, rows, cols) array, or an RGB
    (rows, cols, 3) one."""
    rgb = arr.ndim == 3 and arr.shape[-1] == 3
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = (arr.shape[0], arr.shape[1]) if rgb or arr.ndim == 2 else arr.shape[1:]
    ds.BitsAllocated = 8 if arr.dtype == np.uint8 else 16
    ds.BitsStored = 8 if arr.dtype == np.uint8 else bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = arr.tobytes()


def _slice_geometry(ds: Dataset, z: float, spacing: float, thickness: float) -> None:
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [-115.0, -115.0, round(z, 2)]
    ds.SliceLocation = round(z, 2)
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = thickness
    ds.FrameOfReferenceUID = uid(ds.StudyInstanceUID, "frame")
    ds.PositionReferenceIndicator = ""


def ct_phantom(study: Study) -> Iterator[Dataset]:
    for i, arr in enumerate(pixels.ct_phantom(CT_SLICES)):
        ds = _base(study, CT, 2, i + 1, "Phantom 1.5 mm")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP, ds.BodyPartExamined, ds.PatientPosition = 120, "ABDOMEN", "FFS"
        _slice_geometry(ds, -300.0 + 1.5 * i, 0.9, 1.5)
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = pixels.CT_INTERCEPT, 1, "HU"
        # window presets in the file: soft tissue, lung, bone
        ds.WindowCenter, ds.WindowWidth = [40, -600, 400], [400, 1500, 1800]
        ds.WindowCenterWidthExplanation = ["SOFT TISSUE", "LUNG", "BONE"]
        _pixels(ds, arr)
        yield ds


def _radiograph(study: Study, sop: str, arr: np.ndarray[Any, Any], body: str, desc: str) -> Dataset:
    ds = _base(study, sop, 1, 1, desc)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.BodyPartExamined = body
    ds.ViewPosition = "PA"
    ds.PixelSpacing = ds.ImagerPixelSpacing = [0.4, 0.4] if body == "CHEST" else [0.3, 0.3]
    ds.WindowCenter, ds.WindowWidth = 2000, 3600
    if sop == DX:
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
        ds.PatientOrientation = ["R", "F"]
    _pixels(ds, arr)
    return ds


def chest(study: Study) -> Iterator[Dataset]:
    yield _radiograph(study, CR, pixels.chest_radiograph(), "CHEST", "Chest PA")


def hand_j2k(study: Study) -> Iterator[Dataset]:
    """Stored in JPEG 2000 Lossless (pydicom's encoder with the pylibjpeg-openjpeg plugin,
    a runtime dependency already): a real compressed file for the viewer and the
    transfer-syntax negotiation of retrieve and send."""
    ds = _radiograph(study, DX, pixels.hand_radiograph(), "HAND", "Hand PA (JPEG 2000)")
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    yield ds


def mr_head(study: Study) -> Iterator[Dataset]:
    for i, arr in enumerate(pixels.mr_head(24)):
        ds = _base(study, MR, 3, i + 1, "T2 axial")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "SE", "SK", ""
        ds.MRAcquisitionType, ds.MagneticFieldStrength = "2D", 1.5
        ds.RepetitionTime, ds.EchoTime, ds.EchoTrainLength = 4000, 100, 16
        _slice_geometry(ds, -60.0 + 5.0 * i, 0.9, 5.0)
        ds.WindowCenter, ds.WindowWidth = 750, 1500
        _pixels(ds, arr)
        yield ds


def mr_spine_qc(study: Study) -> Iterator[Dataset]:
    """20 planned slices: slice 12 missing, slice 7 twice (two SOP Instance UIDs, the same
    instance number and position): what the QC checks must find."""
    images = pixels.mr_head(20, size=192)
    for i, arr in enumerate(images):
        n = i + 1
        if n == 12:
            continue
        for copy in (0, 1) if n == 7 else (0,):
            ds = _base(study, MR, 5, n, "T2 axial (QC: one slice missing, one twice)")
            if copy:
                ds.SOPInstanceUID = uid(study.key, 5, n, "duplicate")
            ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
            ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "SE", "SK", ""
            ds.MRAcquisitionType = "2D"
            _slice_geometry(ds, -50.0 + 5.0 * i, 1.2, 5.0)
            ds.WindowCenter, ds.WindowWidth = 750, 1500
            _pixels(ds, arr)
            yield ds


def xa_run(study: Study) -> Iterator[Dataset]:
    frames = pixels.angiography(30)
    ds = _base(study, XA, 1, 1, "Coronary run (30 frames)")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    ds.NumberOfFrames = len(frames)
    ds.FrameTime = 66.7
    ds.CineRate = 15
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.PositionerPrimaryAngle, ds.PositionerSecondaryAngle = 30, 0
    ds.RadiationSetting, ds.KVP = "GR", 80
    ds.ImagerPixelSpacing = [0.3, 0.3]
    ds.WindowCenter, ds.WindowWidth = 128, 256
    _pixels(ds, frames)
    yield ds


def ultrasound(study: Study) -> Iterator[Dataset]:
    ds = _base(study, US, 1, 1, "Carotid colour Doppler")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VASCULAR"]
    ds.LossyImageCompression = "00"
    _pixels(ds, pixels.ultrasound_rgb())
    yield ds


STUDIES: tuple[tuple[Study, Any], ...] = (
    (Study("ct", MUELLER, "20240311", "091500", "CT abdomen phantom", "DEMOACC001", "CT"), ct_phantom),
    (Study("cr", DOE, "20240402", "101000", "Chest PA", "DEMOACC002", "CR"), chest),
    (Study("dx", DOE, "20240520", "143000", "Hand left", "DEMOACC003", "DX"), hand_j2k),
    (Study("wrong", DOE_WRONG, "20240610", "083000", "Chest PA follow-up", "DEMOACC004", "CR"), chest),
    (Study("mr", PAPADOPOULOS, "20240115", "160000", "MR head", "DEMOACC005", "MR"), mr_head),
    (Study("xa", YAMADA, "20240722", "113000", "Coronary angiography", "DEMOACC006", "XA"), xa_run),
    (Study("us", SMITH, "20240805", "090000", "Carotid ultrasound", "DEMOACC007", "US"), ultrasound),
    (Study("qc", SMITH, "20240901", "150000", "MR head (QC practice)", "DEMOACC008", "MR"), mr_spine_qc),
)  # fmt: skip


def datasets() -> Iterator[Dataset]:
    """Every instance of every study, with its file meta information."""
    for study, build in STUDIES:
        for ds in build(study):
            fm = ds.file_meta
            fm.MediaStorageSOPClassUID = ds.SOPClassUID
            fm.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            fm.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
            yield ds
