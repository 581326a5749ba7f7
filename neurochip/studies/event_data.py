"""Event data users keep on disk, read into numpy and binned into chip steps, and an embedded
temporal default data set that needs no download.

Events are structured numpy arrays, one per recording or sample:

* camera events (N-MNIST, N-Caltech101, DVS128 Gesture): ``EVENTS_XY`` = (t, x, y, p);
* audio-like events (SHD, SSC): ``EVENTS_X`` = (t, x, p), x the channel, p always 0.

t is in microseconds (int64); x, y are pixel or channel addresses, (0, 0) the top-left
pixel; p is the polarity, 1 = ON (brighter), 0 = OFF (darker).

``bin_events`` turns events into chip input: step k holds the events with
k * dt <= t - t0 < (k + 1) * dt, i.e. bin = floor((t - t0) / dt); channels are flattened
row-major, polarity first: channel = (p * H + y) * W + x for shape (P, H, W) and p * C + x for
shape (P, C), so channels [0, H*W) are OFF and [H*W, 2*H*W) ON. The embedded data set,
``saccade_digits``, uses the same layout.

Readers (each raises ``DataError``, naming the file, the value found and what was expected,
for a truncated or malformed file):

* ``read_atis_file``, ``read_atis_folder``, ``read_nmnist``: the 40-bit-per-event binary
  files of N-MNIST and N-Caltech101 (Orchard et al. 2015);
* ``read_shd``: the HDF5 files of the Spiking Heidelberg Digits and Spiking Speech Commands
  (Cramer et al. 2020);
* ``read_aedat31``, ``read_gesture_labels``, ``read_dvs_gesture``, ``read_dvs_gesture_folder``:
  the AEDAT 3.1 recordings of DVS128 Gesture (Amir et al. 2017) and their label files.
"""
import csv
import struct
from pathlib import Path

import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from neurochip.model.errors import DataError

EVENTS_XY = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
EVENTS_X = np.dtype([("t", "<i8"), ("x", "<i2"), ("p", "u1")])

NMNIST_SHAPE = (2, 34, 34)       # (polarity, y, x) of N-MNIST recordings
ATIS_SHAPE = (2, 240, 304)       # the ATIS sensor of N-Caltech101
SHD_CHANNELS = 700               # cochlea channels of SHD and SSC
DVS128_SHAPE = (2, 128, 128)     # DVS128 Gesture


def _fail(path, what: str):
    raise DataError(f"{path}: {what}")


# ---- binning ----------------------------------------------------------------------------------

def channel_index(events: np.ndarray, shape) -> np.ndarray:
    """The flat channel of each event, row-major with polarity first: (p * H + y) * W + x for
    `shape` (P, H, W) and events with y; p * C + x for shape (P, C) and events without.
    Raises DataError when an address falls outside `shape`."""
    shape = tuple(int(s) for s in shape)
    names = events.dtype.names or ()
    if not {"t", "x", "p"} <= set(names):
        raise DataError(f"events with dtype {events.dtype}: expected a structured array with fields t, x, (y,) p "
                        "(EVENTS_XY or EVENTS_X)")
    fields = ("p", "y", "x") if "y" in names else ("p", "x")
    if len(shape) != len(fields):
        raise DataError(f"shape {shape} has {len(shape)} axes; events with fields {events.dtype.names} "
                        f"need {len(fields)}: ({', '.join(f.upper() for f in fields)})")
    index = np.zeros(len(events), np.int64)
    for field, size in zip(fields, shape):
        value = events[field].astype(np.int64)
        if len(value) and (value.min() < 0 or value.max() >= size):
            bad = value.min() if value.min() < 0 else value.max()
            raise DataError(f"event {field} = {bad} lies outside shape {shape} (expected 0 <= {field} < {size})")
        index = index * size + value
    return index


def bin_events(events: np.ndarray, dt_us: int, steps: int, shape, mode: str = "spike", t0_us: int = 0):
    """Events as chip input: an array (steps, n), n = prod(shape), channels as `channel_index`.

    Step k collects the events with k * dt_us <= t - t0_us < (k + 1) * dt_us, so an event's
    step is floor((t - t0_us) / dt_us); events outside [t0_us, t0_us + steps * dt_us) are
    dropped. Several events of one channel in one step give one spike (mode "spike", bool) or
    their count (mode "count": uint8, widened to uint16 or uint32 only when a count needs it,
    so the counts always sum to the events in the window)."""
    if mode not in ("spike", "count"):
        raise DataError(f"mode {mode!r}: expected 'spike' or 'count'")
    if int(dt_us) != dt_us or dt_us < 1:
        raise DataError(f"dt_us = {dt_us}: expected a whole number of microseconds >= 1")
    if int(steps) != steps or steps < 0:
        raise DataError(f"steps = {steps}: expected an integer >= 0")
    dt_us, steps, n = int(dt_us), int(steps), int(np.prod(shape))
    channels = channel_index(events, shape)
    step = (events["t"].astype(np.int64) - int(t0_us)) // dt_us  # integer floor: exact for every t
    inside = (step >= 0) & (step < steps)
    cells, counts = np.unique(step[inside] * n + channels[inside], return_counts=True)
    if mode == "spike":
        out = np.zeros(steps * n, bool)
        out[cells] = True
    else:
        peak = counts.max() if len(counts) else 0
        dtype = np.uint8 if peak <= 255 else np.uint16 if peak <= 65535 else np.uint32
        out = np.zeros(steps * n, dtype)
        out[cells] = counts
    return out.reshape(steps, n)


# ---- N-MNIST and N-Caltech101 -----------------------------------------------------------------

NMNIST_OVERFLOW_Y = 240          # a y beyond the ATIS's 240 rows marks a timestamp overflow
NMNIST_OVERFLOW_US = 1 << 23     # the wrap of the 23-bit timestamp


def read_atis_file(path, overflow_us: int = NMNIST_OVERFLOW_US) -> np.ndarray:
    """The events of one N-MNIST or N-Caltech101 .bin file (Orchard et al. 2015), EVENTS_XY.

    Each event is 5 bytes, 40 bits, most significant first: bits 39-32 x, 31-24 y, 23 the
    polarity (1 ON, 0 OFF), 22-0 the timestamp in microseconds (the datasets' Readme). An
    event with y = 240 marks a timestamp overflow (the convention of the authors' Python
    reader, eventvision.read_dataset, and tonic.io.read_mnist_file): it is dropped and every
    later event's timestamp gains `overflow_us`. Those readers add 2**13, carried over from
    the 13-bit timestamps of the authors' AER reader; the default here is the wrap of the
    23-bit field, 2**23. Recordings (about 0.3 s) stay below both, so the choice only matters
    for files written with the marker."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        _fail(path, f"{raw.size} bytes is not a whole number of 5-byte events: {raw.size % 5} bytes left "
                    f"after {raw.size // 5} events (truncated, or not an N-MNIST/N-Caltech101 .bin file)")
    b = raw.reshape(-1, 5).astype(np.int64)
    stamp = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
    marker = b[:, 1] == NMNIST_OVERFLOW_Y
    keep = ~marker
    events = np.empty(int(keep.sum()), EVENTS_XY)
    events["t"] = (stamp + np.cumsum(marker) * int(overflow_us))[keep]
    events["x"], events["y"] = b[keep, 0], b[keep, 1]
    events["p"] = b[keep, 2] >> 7
    return events


def _class_folders(folder: Path):
    """Sub-folders of `folder`, digits in numeric order, then names in alphabetical order."""
    subs = [p for p in folder.iterdir() if p.is_dir()]
    return sorted(subs, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def read_atis_folder(folder, overflow_us: int = NMNIST_OVERFLOW_US):
    """Every .bin file under `folder`/<class>/ (the layout of N-MNIST's Train/ and Test/ and of
    N-Caltech101's Caltech101/): (events, labels, classes), events a list of EVENTS_XY arrays,
    labels int64 indices into classes, the class folder names (digits in numeric order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected <class>/*.bin files under it)")
    classes = _class_folders(folder)
    if not classes:
        _fail(folder, "holds no class folders (expected <class>/*.bin, e.g. 0/00002.bin)")
    events, labels = [], []
    for label, sub in enumerate(classes):
        for file in sorted(sub.glob("*.bin")):
            events.append(read_atis_file(file, overflow_us))
            labels.append(label)
    return events, np.array(labels, np.int64), [c.name for c in classes]


def read_nmnist(root, split: str = "train", overflow_us: int = NMNIST_OVERFLOW_US):
    """N-MNIST as unzipped: (events, labels) of `root`/Train/<digit>/*.bin (split "train") or
    `root`/Test/<digit>/*.bin (split "test"); labels are the digits. Bin with NMNIST_SHAPE."""
    if split.lower() not in ("train", "test"):
        raise DataError(f"split {split!r}: expected 'train' or 'test'")
    folder = Path(root) / split.capitalize()
    events, labels, classes = read_atis_folder(folder, overflow_us)
    if not all(c.isdigit() and int(c) < 10 for c in classes):
        _fail(folder, f"class folders {classes}: expected the digits 0 to 9")
    return events, np.array([int(classes[i]) for i in labels], np.int64)


# ---- SHD and SSC ------------------------------------------------------------------------------

SHD_KEYS = ("spikes/times", "spikes/units", "labels")


def _ragged(f, key, path):
    """The variable-length dataset `key` of HDF5 file `f`, all rows read."""
    import h5py

    if key not in f:
        _fail(path, f"has no '{key}' (found top-level keys {sorted(f.keys())}; expected {', '.join(SHD_KEYS)})")
    ds = f[key]
    if not isinstance(ds, h5py.Dataset) or h5py.check_vlen_dtype(ds.dtype) is None or ds.ndim != 1:
        _fail(path, f"'{key}' is {ds!r}: expected a 1-d dataset of variable-length arrays, one per sample")
    return ds[()]


def _read_shd_arrays(path):
    """(times, units, labels) of an SHD/SSC file as read by h5py (imported on first use: it
    comes with nir, and the rest of this module runs without it)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            times, units = _ragged(f, "spikes/times", path), _ragged(f, "spikes/units", path)
            if "labels" not in f or not isinstance(f["labels"], h5py.Dataset):
                _fail(path, f"has no 'labels' dataset (found top-level keys {sorted(f.keys())}; "
                            f"expected {', '.join(SHD_KEYS)})")
            labels = f["labels"][()]
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise DataError(f"{path}: not a readable HDF5 file of SHD/SSC spikes ({e})") from None
    return times, units, labels


def read_shd(path, channels: int = SHD_CHANNELS):
    """The samples of an SHD or SSC HDF5 file (Cramer et al. 2020): (events, labels).

    The file holds `spikes/times` (per sample a variable-length array of spike times in
    seconds), `spikes/units` (per sample the channel, 0 to 699, of each spike) and `labels`
    (one class per sample); `extra/` (speakers, keys) is not read. Events are EVENTS_X with t
    = round(time * 1e6) microseconds, x the channel, p = 0; bin them with shape (1, channels)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    times, units, labels = _read_shd_arrays(path)
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        _fail(path, f"'labels' has shape {labels.shape} and dtype {labels.dtype}: expected one integer a sample")
    if not len(times) == len(units) == len(labels):
        _fail(path, f"{len(times)} rows of spikes/times, {len(units)} of spikes/units and {len(labels)} labels: "
                    "expected one of each per sample")
    return [_shd_sample(path, i, t, u, channels) for i, (t, u) in enumerate(zip(times, units))], \
        labels.astype(np.int64)


def _shd_sample(path, i: int, times, units, channels: int) -> np.ndarray:
    """Sample `i` of an SHD/SSC file as EVENTS_X, its times and channels checked."""
    times, units = np.asarray(times, np.float64), np.asarray(units)
    if len(times) != len(units):
        _fail(path, f"sample {i} has {len(times)} spike times and {len(units)} units: expected as many")
    if not np.issubdtype(units.dtype, np.integer):
        _fail(path, f"sample {i}: spikes/units has dtype {units.dtype}: expected integer channel ids")
    if len(times) and not (np.isfinite(times).all() and times.min() >= 0):
        _fail(path, f"sample {i} has spike time {times[~np.isfinite(times) | (times < 0)][0]}: "
                    "expected finite times >= 0 s")
    if len(units) and (units.min() < 0 or units.max() >= channels):
        bad = units.min() if units.min() < 0 else units.max()
        _fail(path, f"sample {i} has unit {bad}: expected channels 0 to {channels - 1}")
    events = np.zeros(len(times), EVENTS_X)
    events["t"] = np.rint(times * 1e6)
    events["x"] = units
    return events


# ---- DVS128 Gesture: AEDAT 3.1 ----------------------------------------------------------------

AEDAT_VERSION = b"#!AER-DAT3.1"
AEDAT_END = b"#!END-HEADER"
PACKET_HEADER = struct.Struct("<hhiiiiii")   # type, source, size, TS offset, TS overflow, capacity, number, valid
POLARITY_EVENT = 1
POLARITY = np.dtype([("data", "<u4"), ("ts", "<i4")])


def _aedat_header_end(data: bytes, path) -> int:
    """The byte offset after the '#!END-HEADER' line; the first line must be '#!AER-DAT3.1'."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    if first != AEDAT_VERSION:
        _fail(path, f"first line is {first[:40]!r}: expected {AEDAT_VERSION.decode()} (an AEDAT 3.1 file)")
    pos = 0
    while pos < len(data):
        if data[pos:pos + 1] != b"#":
            break
        end = data.find(b"\n", pos)
        if end < 0:
            break
        if data[pos:end].rstrip(b"\r") == AEDAT_END:
            return end + 1
        pos = end + 1
    _fail(path, f"header ends at byte {pos} without a '{AEDAT_END.decode()}' line (truncated header?)")


def _polarity_events(data: bytes, pos: int, header, path) -> np.ndarray:
    """The valid events of the polarity packet whose events start at byte `pos`."""
    _, _, size, ts_offset, overflow, _, number, _ = header
    if size != POLARITY.itemsize or ts_offset != 4:
        _fail(path, f"polarity packet at byte {pos - PACKET_HEADER.size} has eventSize {size}, eventTSOffset "
                    f"{ts_offset}: expected 8 and 4")
    raw = np.frombuffer(data, POLARITY, count=number, offset=pos)
    raw = raw[(raw["data"] & 1) == 1]  # bit 0: the validity mark
    events = np.empty(len(raw), EVENTS_XY)
    events["t"] = (np.int64(overflow) << 31) | raw["ts"].astype(np.int64)  # the 64-bit timestamp
    events["x"] = (raw["data"] >> 17) & 0x7FFF
    events["y"] = (raw["data"] >> 2) & 0x7FFF
    events["p"] = (raw["data"] >> 1) & 1
    return events


def read_aedat31(path) -> np.ndarray:
    """The polarity events of an AEDAT 3.1 file (iniVation's format), EVENTS_XY.

    Header lines start with '#' and end with CRLF, the first '#!AER-DAT3.1', the last
    '#!END-HEADER'. Then event packets: a 28-byte little-endian header (int16 eventType,
    int16 eventSource, int32 eventSize, eventTSOffset, eventTSOverflow, eventCapacity,
    eventNumber, eventValid) and eventCapacity * eventSize bytes of events. Polarity events
    (type 1) are 8 bytes: a uint32 data word (bit 0 valid, bit 1 polarity, bits 2-16 y,
    bits 17-31 x, (0, 0) top left) and an int32 timestamp in microseconds; the full timestamp
    is eventTSOverflow << 31 | timestamp. Other packet types are skipped, invalid events
    dropped."""
    data = Path(path).read_bytes()
    pos = _aedat_header_end(data, path)
    chunks = []
    while pos < len(data):
        if len(data) - pos < PACKET_HEADER.size:
            _fail(path, f"{len(data) - pos} bytes at byte {pos}: expected a {PACKET_HEADER.size}-byte packet "
                        "header (truncated file?)")
        header = PACKET_HEADER.unpack_from(data, pos)
        kind, _, size, _, _, capacity, number, _ = header
        if size <= 0 or capacity < 0 or not 0 <= number <= capacity:
            _fail(path, f"packet at byte {pos} has eventSize {size}, eventCapacity {capacity}, eventNumber "
                        f"{number}: expected size > 0 and 0 <= number <= capacity")
        end = pos + PACKET_HEADER.size + capacity * size
        if end > len(data):
            _fail(path, f"packet at byte {pos} needs {capacity * size} bytes of events ({capacity} x {size}), "
                        f"{len(data) - pos - PACKET_HEADER.size} are left (truncated file?)")
        if kind == POLARITY_EVENT:
            chunks.append(_polarity_events(data, pos + PACKET_HEADER.size, header, path))
        pos = end
    return np.concatenate(chunks) if chunks else np.empty(0, EVENTS_XY)


GESTURE_SEGMENT = np.dtype([("label", "<i8"), ("start_us", "<i8"), ("end_us", "<i8")])
GESTURE_COLUMNS = ["class", "startTime_usec", "endTime_usec"]


def read_gesture_labels(path) -> np.ndarray:
    """A DVS128 Gesture '*_labels.csv' file: the header 'class,startTime_usec,endTime_usec',
    then one gesture a row. Returns GESTURE_SEGMENT rows with label = class - 1 (the classes
    are numbered 1 to 11) and the segment [start_us, end_us) of the recording's timestamps."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip() for c in rows[0]] != GESTURE_COLUMNS:
        _fail(path, f"header {rows[0] if rows else 'missing'}: expected {','.join(GESTURE_COLUMNS)}")
    segments = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            cls, start, end = (int(c) for c in row)
        except ValueError:
            _fail(path, f"line {line} is {','.join(row)!r}: expected three integers class,start,end")
        if cls < 1 or start < 0 or end <= start:
            _fail(path, f"line {line} has class {cls}, start {start}, end {end}: expected class >= 1 and "
                        "0 <= start < end")
        segments.append((cls - 1, start, end))
    return np.array(segments, GESTURE_SEGMENT)


def read_dvs_gesture(aedat_path, labels_path=None):
    """The gestures of one DVS128 Gesture recording: (events, labels), one EVENTS_XY array per
    row of its labels file (default: the recording's name with '_labels.csv' for '.aedat'),
    holding the events with start <= t < end, t counted from the segment's start. Labels are
    0 to 10; bin with DVS128_SHAPE."""
    aedat_path = Path(aedat_path)
    labels_path = Path(labels_path) if labels_path else aedat_path.with_name(aedat_path.stem + "_labels.csv")
    events = read_aedat31(aedat_path)
    segments = read_gesture_labels(labels_path)
    order = np.argsort(events["t"], kind="stable")
    events, t = events[order], events["t"][order]
    out = []
    for seg in segments:
        part = events[np.searchsorted(t, seg["start_us"]):np.searchsorted(t, seg["end_us"])].copy()
        part["t"] -= seg["start_us"]
        out.append(part)
    return out, segments["label"].copy()


def read_dvs_gesture_folder(root, split: str = "train"):
    """DVS128 Gesture as unpacked (DvsGesture/): every recording listed in
    `root`/trials_to_<split>.txt, each with its _labels.csv. Returns (events, labels)."""
    if split not in ("train", "test"):
        raise DataError(f"split {split!r}: expected 'train' or 'test'")
    listing = Path(root) / f"trials_to_{split}.txt"
    if not listing.is_file():
        raise FileNotFoundError(f"{listing}: no such file (expected the DvsGesture folder with its trial lists)")
    events, labels = [], []
    for name in listing.read_text().split():
        ev, lab = read_dvs_gesture(Path(root) / name)
        events += ev
        labels.append(lab)
    return events, np.concatenate(labels) if labels else np.empty(0, np.int64)


# ---- the embedded temporal default: digits in saccades ----------------------------------------

SACCADE_DT_US = 1000   # one chip step of saccade_digits is 1 ms: 3 saccades x 100 steps ~ N-MNIST's 0.3 s
BLACK_LEVEL = 0.1      # the screen's black, relative to its white (1): log intensity stays finite


def saccade_path(steps_per_saccade: int, radius: float) -> np.ndarray:
    """The image's offset (dx, dy) in pixels at times 0, 1, ..., 3 * steps_per_saccade: three
    straight saccades at constant speed around an equilateral triangle whose corners lie on a
    circle of `radius` pixels, starting and ending at the top corner (N-MNIST's three
    saccades; three directions, so that edges of every orientation move across pixels)."""
    angles = np.deg2rad([-90.0, 30.0, 150.0, 270.0])
    corners = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    corners[-1] = corners[0]  # the path closes exactly
    frac = np.arange(steps_per_saccade) / steps_per_saccade
    legs = [a + frac[:, None] * (b - a) for a, b in zip(corners[:-1], corners[1:])]
    return np.concatenate(legs + [corners[-1:]])


def _shifted(padded: np.ndarray, pad: int, dx: float, dy: float, h: int, w: int) -> np.ndarray:
    """Frames (N, h, w) of images moved by (dx, dy) pixels: frame[y, x] = image(y - dy, x - dx),
    bilinear between pixels. `padded` is the images with `pad` pixels around them (the black
    that moves into view), all plus BLACK_LEVEL."""
    sy, sx = -dy, -dx
    iy, ix = int(np.floor(sy)), int(np.floor(sx))
    fy, fx = np.float32(sy - iy), np.float32(sx - ix)
    a = padded[:, pad + iy:pad + iy + h + 1, pad + ix:pad + ix + w + 1]
    top = a[:, :h, :w] * (1 - fx) + a[:, :h, 1:] * fx
    bottom = a[:, 1:, :w] * (1 - fx) + a[:, 1:, 1:] * fx
    return top * (1 - fy) + bottom * fy


def saccade_events(images, steps_per_saccade: int = 100, threshold: float = 0.2, radius: float = 1.5,
                   mismatch: float = 0.05, seed=0) -> np.ndarray:
    """Images (N, H, W) of intensities in [0, 1] moved in three saccades (`saccade_path`) in
    front of an emulated event camera: spikes (N, 3 * steps_per_saccade, 2 * H * W), bool,
    channels polarity first (OFF block, then ON; `channel_index`).

    Each pixel sees L = log(BLACK_LEVEL + I) and keeps a reference R, set to L of the first
    frame. At step k the image is at its offset after k + 1 moves; an ON event when
    L - R > theta_on, an OFF event when R - L > theta_off, and the reference moves one
    threshold towards L (R += theta_on, R -= theta_off). A pixel emits at most one event a
    step; a change of several thresholds comes out over the next steps. Thresholds are
    theta * (1 + mismatch * z) per pixel and polarity, z ~ N(0, 1) drawn from `seed` (an
    integer or a numpy Generator) and clipped to theta / 4 or more: one sensor's fixed pattern,
    the same for every image. With mismatch 0 a saccade that returns to its start leaves each
    pixel with as many ON as OFF events, up to one (the reference ends within a threshold
    of where it began)."""
    images = np.asarray(images, np.float32)  # float32: twice as fast, and far finer than any threshold
    n, h, w = images.shape
    path = saccade_path(steps_per_saccade, radius)
    pad = int(np.ceil(np.abs(path).max())) + 2
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad))) + np.float32(BLACK_LEVEL)
    z = np.random.default_rng(seed).standard_normal((2, h, w))
    theta_off, theta_on = np.maximum(threshold * (1 + mismatch * z), threshold / 4).astype(np.float32)
    ref = np.log(_shifted(padded, pad, *path[0], h, w))
    spikes = np.zeros((n, len(path) - 1, 2, h, w), bool)
    for k, (dx, dy) in enumerate(path[1:]):
        change = np.log(_shifted(padded, pad, dx, dy, h, w)) - ref
        on, off = change > theta_on, change < -theta_off
        ref += theta_on * on
        ref -= theta_off * off
        spikes[:, k, 0], spikes[:, k, 1] = off, on
    return spikes.reshape(n, len(path) - 1, 2 * h * w)


def digit_images(size: int = 16, margin: int | None = None) -> tuple:
    """scikit-learn's digits (1797 of 8x8, values 0 to 16) as intensities in [0, 1], scaled
    bilinearly to (size - 2 * margin) pixels a side and centred in a black size x size view
    (margin default size // 8, at least 1; N-MNIST has 28 pixels in 34). Returns (images, labels)."""
    margin = max(1, size // 8) if margin is None else margin
    inner = size - 2 * margin
    if inner < 2:
        raise DataError(f"size {size} with margin {margin} leaves {inner} pixels for the digit: expected >= 2")
    x, y = load_digits(return_X_y=True)
    small = x.reshape(-1, 8, 8) / 16.0
    scaled = np.clip(zoom(small, (1, inner / 8, inner / 8), order=1), 0.0, 1.0)
    images = np.zeros((len(x), size, size))
    images[:, margin:margin + inner, margin:margin + inner] = scaled
    return images, y


SACCADE_PER_CORE = 32   # its 512-128-10 network: one core cannot hold the synapses and their learning state


def saccade_digits(steps_per_saccade: int = 100, size: int = 16, threshold: float = 0.2,
                   mismatch: float = 0.05, seed=0, split: bool = True):
    """The embedded temporal data set: scikit-learn's digits scaled to `size` pixels
    (`digit_images`) seen by an emulated event camera in three saccades (`saccade_events`,
    radius 0.75 * margin so the digit stays in view), N-MNIST's method (Orchard et al. 2015)
    without a download. One step is SACCADE_DT_US (1 ms); the default is 300 steps of
    2 x 16 x 16 = 512 channels. Spikes are bool (samples, 3 * steps_per_saccade, 2 * size**2),
    channels polarity first; deterministic for a given seed. With `split`, the stratified
    split of `datasets.digits` (test_size 0.25, random_state 0): (x_train, y_train, x_test,
    y_test); else (x, y)."""
    margin = max(1, size // 8)
    images, y = digit_images(size, margin)
    spikes = saccade_events(images, steps_per_saccade, threshold, radius=0.75 * margin,
                            mismatch=mismatch, seed=seed)
    if not split:
        return spikes, y
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
    return spikes[idx_tr], y[idx_tr], spikes[idx_te], y[idx_te]
