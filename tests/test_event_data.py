"""Event data readers, binning and the embedded saccade digits (neurochip.studies.event_data).

Each format is written here by a small encoder of its own, from the published specification
(N-MNIST's Readme and the authors' overflow marker; Cramer et al. 2020's HDF5 layout;
iniVation's AEDAT 3.1 and DVS128 Gesture's label files), not from the reader, and read back.
"""
import struct
from collections import Counter

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from neurochip.studies.datasets import digits
from neurochip.studies.event_data import (
    EVENTS_X, EVENTS_XY, DataError, bin_events, channel_index, digit_images, read_aedat31, read_atis_file,
    read_atis_folder, read_dvs_gesture, read_dvs_gesture_folder, read_gesture_labels, read_nmnist, read_shd,
    saccade_digits, saccade_events, saccade_path)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def xy_events(rows):
    """EVENTS_XY from (t, x, y, p) tuples."""
    return np.array([tuple(r) for r in rows], EVENTS_XY)


# ---- encoders, from the specifications --------------------------------------------------------

def encode_atis(rows) -> bytes:
    """N-MNIST/N-Caltech101: 40 bits an event, most significant first: x (39-32), y (31-24),
    polarity (23), timestamp (22-0, us). Whenever t passes a multiple of 2**23 an overflow
    marker (y = 240) goes first. `rows` are (t, x, y, p) in time order."""
    out, wraps = bytearray(), 0
    for t, x, y, p in rows:
        while t >> 23 > wraps:
            out += ((0 << 32) | (240 << 24)).to_bytes(5, "big")
            wraps += 1
        out += ((x << 32) | (y << 24) | (p << 23) | (t & 0x7FFFFF)).to_bytes(5, "big")
    return bytes(out)


def write_shd(path, samples, labels, time_dtype=np.float64, **extra):
    """SHD/SSC: spikes/times (ragged float seconds), spikes/units (ragged uint16), labels."""
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(time_dtype))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t_us, u) in enumerate(samples):
            times[i] = (np.asarray(t_us, np.float64) / 1e6).astype(time_dtype)
            units[i] = np.asarray(u, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))
        for key, value in extra.items():
            f.create_dataset(key, data=value)


def aedat_header(version=b"#!AER-DAT3.1") -> bytes:
    return b"\r\n".join([version, b"#Format: RAW", b"#Source 0: DVS128",
                         b"#Start-Time: 2017-01-01 00:00:00 (TZ+0000)", b"#!END-HEADER", b""])


def polarity_packet(events, overflow=0, invalid=()) -> bytes:
    """An AEDAT 3.1 polarity packet: the 28-byte header, then per event a uint32 data word
    (bit 0 valid, 1 polarity, 2-16 y, 17-31 x) and an int32 timestamp, little-endian."""
    n = len(events) + len(invalid)
    body = b"".join(struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | 1, t) for t, x, y, p in events)
    body += b"".join(struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1), t) for t, x, y, p in invalid)
    return struct.pack("<hhiiiiii", 1, 0, 8, 4, overflow, n, n, len(events)) + body


def special_packet(stamps) -> bytes:
    """A SPECIAL_EVENT (type 0) packet of timestamp-wrap events: skipped by the reader."""
    body = b"".join(struct.pack("<Ii", 1, t) for t in stamps)
    return struct.pack("<hhiiiiii", 0, 0, 8, 4, 0, len(stamps), len(stamps), len(stamps)) + body


# ---- N-MNIST ------------------------------------------------------------------------------------

def test_atis_file_reads_back_events_polarity_and_overflow(tmp_path):
    rows = [(0, 1, 2, 1), (5, 33, 0, 0), (8_388_607, 0, 33, 1),       # 2**23 - 1: the last stamp
            (8_388_608, 7, 7, 0), (9_000_000, 12, 30, 1),              # past one overflow
            (2 * 8_388_608 + 3, 255, 239, 1)]                          # past two
    path = tmp_path / "00002.bin"
    path.write_bytes(encode_atis(rows))
    assert path.stat().st_size == 5 * (len(rows) + 2)  # two markers written
    assert read_atis_file(path).tolist() == [tuple(r) for r in rows]


def test_atis_file_rejects_a_four_byte_tail(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(encode_atis([(1, 2, 3, 1), (4, 5, 6, 0)]) + b"\x01\x02\x03\x04")
    with pytest.raises(DataError) as err:
        read_atis_file(path)
    assert str(path) in str(err.value) and "4 bytes left after 2 events" in str(err.value)


def test_nmnist_folder_reads_labels_from_digit_folders(tmp_path):
    written = {}
    for split in ("Train", "Test"):
        for digit in (0, 3, 10 - 1):
            for k in range(2):
                rows = [(100 * k + i, digit, i, i % 2) for i in range(3 + digit)]
                folder = tmp_path / split / str(digit)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{k:05d}.bin").write_bytes(encode_atis(rows))
                written[split, digit, k] = rows
    events, labels = read_nmnist(tmp_path, "test")
    assert labels.tolist() == [0, 0, 3, 3, 9, 9]
    for ev, digit, k in zip(events, labels, [0, 1] * 3):
        assert ev.tolist() == [tuple(r) for r in written["Test", digit, k]]
    assert len(read_nmnist(tmp_path, "train")[0]) == 6
    with pytest.raises(FileNotFoundError, match="Train"):
        read_nmnist(tmp_path / "Test", "train")


def test_caltech_layout_names_its_classes(tmp_path):
    for name in ("airplanes", "BACKGROUND_Google", "yin_yang"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "image_0001.bin").write_bytes(encode_atis([(1, 44, 200, 1)]))
    events, labels, classes = read_atis_folder(tmp_path)
    assert classes == sorted(["airplanes", "BACKGROUND_Google", "yin_yang"])
    assert labels.tolist() == [0, 1, 2] and all(len(e) == 1 for e in events)


# ---- SHD / SSC ----------------------------------------------------------------------------------

@pytest.mark.parametrize("time_dtype", [np.float64, np.float32])
def test_shd_reads_back_ragged_samples_and_labels(tmp_path, time_dtype):
    rng = np.random.default_rng(1)
    samples = []
    for n in (0, 1, 37):
        t_us = np.sort(rng.integers(0, 1_400_000, n))
        samples.append((t_us, rng.integers(0, 700, n)))
    path = tmp_path / "shd_train.h5"
    write_shd(path, samples, [3, 19, 0], time_dtype, **{"extra/speaker": np.array([1, 2, 3])})
    events, labels = read_shd(path)
    assert labels.tolist() == [3, 19, 0] and labels.dtype == np.int64
    for ev, (t_us, units) in zip(events, samples):
        assert ev.dtype == EVENTS_X
        assert ev["t"].tolist() == t_us.tolist() and ev["x"].tolist() == units.tolist()
        assert (ev["p"] == 0).all()


def test_shd_wrong_keys_name_what_is_missing(tmp_path):
    path = tmp_path / "wrong.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/time", data=np.zeros(3))  # 'time', not 'times'
        f.create_dataset("labels", data=np.zeros(3, np.uint16))
    with pytest.raises(DataError) as err:
        read_shd(path)
    assert str(path) in str(err.value) and "spikes/times" in str(err.value)


def test_shd_mismatched_rows_and_units_out_of_range(tmp_path):
    path = tmp_path / "rows.h5"
    write_shd(path, [([1, 2], [3, 4])], [0, 1])
    with pytest.raises(DataError, match="1 rows of spikes/times.*2 labels"):
        read_shd(path)
    path = tmp_path / "units.h5"
    write_shd(path, [([1, 2], [3, 700])], [0])
    with pytest.raises(DataError, match="sample 0 has unit 700: expected channels 0 to 699"):
        read_shd(path)


def test_shd_truncated_and_garbage_files(tmp_path):
    good = tmp_path / "good.h5"
    write_shd(good, [([1, 2, 3], [4, 5, 6])] * 20, [1] * 20)
    data = good.read_bytes()
    for name, content in [("truncated.h5", data[: len(data) // 2]), ("garbage.h5", b"\x00garbage" * 50)]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataError) as err:
            read_shd(path)
        assert str(path) in str(err.value) and "HDF5" in str(err.value)
        assert err.value.__cause__ is None and err.value.__suppress_context__  # no h5py traceback
    with pytest.raises(FileNotFoundError):
        read_shd(tmp_path / "absent.h5")


# ---- DVS128 Gesture ----------------------------------------------------------------------------

def test_aedat31_reads_polarity_events_with_overflow_and_skips_the_rest(tmp_path):
    first = [(10, 0, 0, 1), (20, 127, 5, 0), (2_147_483_647, 64, 127, 1)]
    second = [(3, 1, 2, 0), (40, 100, 90, 1)]                     # eventTSOverflow 1
    path = tmp_path / "user01_fluorescent.aedat"
    path.write_bytes(aedat_header() + special_packet([5]) + polarity_packet(first, invalid=[(11, 9, 9, 1)])
                     + polarity_packet(second, overflow=1))
    events = read_aedat31(path)
    expected = first + [((1 << 31) | t, x, y, p) for t, x, y, p in second]
    assert events.tolist() == expected


def test_gesture_segments_split_a_recording_by_its_labels(tmp_path):
    rows = [(t, t % 128, (3 * t) % 128, t % 2) for t in range(0, 10_000, 7)]
    path = tmp_path / "user02_led.aedat"
    path.write_bytes(aedat_header() + polarity_packet(rows[:500]) + polarity_packet(rows[500:]))
    (tmp_path / "user02_led_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n1,100,2000\n11,2000,2100\n5,9000,20000\n")
    events, labels = read_dvs_gesture(path)
    assert labels.tolist() == [0, 10, 4]
    for ev, (start, end) in zip(events, [(100, 2000), (2000, 2100), (9000, 20000)]):
        inside = [(t - start, x, y, p) for t, x, y, p in rows if start <= t < end]
        assert ev.tolist() == inside
    (tmp_path / "trials_to_test.txt").write_text("user02_led.aedat\n\n")
    events2, labels2 = read_dvs_gesture_folder(tmp_path, "test")
    assert labels2.tolist() == labels.tolist() and [len(e) for e in events2] == [len(e) for e in events]


def test_aedat_malformed_files(tmp_path):
    good = aedat_header() + polarity_packet([(1, 2, 3, 1), (4, 5, 6, 0)])
    cases = {
        "truncated_events.aedat": (good[:-3], "truncated"),
        "truncated_header.aedat": (good + b"\x01\x00\x00", "3 bytes at byte"),
        "no_end.aedat": (aedat_header()[: -len(b"#!END-HEADER\r\n")] + b"\x00" * 28, "#!END-HEADER"),
        "version2.aedat": (aedat_header(b"#!AER-DAT2.0") + b"\x00" * 8, "AER-DAT3.1"),
        "size.aedat": (aedat_header() + struct.pack("<hhiiiiii", 1, 0, 16, 4, 0, 1, 1, 1) + b"\x00" * 16,
                       "eventSize 16"),
        "number.aedat": (aedat_header() + struct.pack("<hhiiiiii", 1, 0, 8, 4, 0, 1, 2, 2) + b"\x00" * 8,
                         "eventNumber 2"),
    }
    for name, (content, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataError) as err:
            read_aedat31(path)
        assert str(path) in str(err.value) and words in str(err.value), (name, str(err.value))


def test_gesture_label_file_errors(tmp_path):
    for name, text, words in [("h.csv", "label,start,end\n1,0,5\n", "header"),
                              ("n.csv", "class,startTime_usec,endTime_usec\n1,0,x\n", "line 2"),
                              ("o.csv", "class,startTime_usec,endTime_usec\n1,9,5\n", "start 9, end 5")]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(DataError) as err:
            read_gesture_labels(path)
        assert str(path) in str(err.value) and words in str(err.value)


# ---- binning --------------------------------------------------------------------------------------

@st.composite
def binning_cases(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 5)))
    n = draw(st.integers(0, 60))
    rows = [(draw(st.integers(-50, 3000)), draw(st.integers(0, shape[2] - 1)), draw(st.integers(0, shape[1] - 1)),
             draw(st.integers(0, shape[0] - 1))) for _ in range(n)]
    return xy_events(rows), shape, draw(st.integers(1, 400)), draw(st.integers(0, 12)), draw(st.integers(-20, 20))


@FAST
@given(binning_cases())
def test_binning_conserves_events_and_puts_each_at_floor_t_over_dt(case):
    events, shape, dt, steps, t0 = case
    counts = bin_events(events, dt, steps, shape, mode="count", t0_us=t0)
    spikes = bin_events(events, dt, steps, shape, t0_us=t0)
    assert counts.shape == spikes.shape == (steps, int(np.prod(shape)))
    assert counts.dtype == np.uint8 and spikes.dtype == bool
    inside = [(t - t0) // dt for t in events["t"].tolist() if t0 <= t < t0 + steps * dt]
    assert counts.sum() == len(inside)                      # conserved inside the window
    expected = Counter(((t - t0) // dt, (p * shape[1] + y) * shape[2] + x)
                       for t, x, y, p in events.tolist() if t0 <= t < t0 + steps * dt)
    got = {(int(k), int(c)): int(v) for (k, c), v in np.ndenumerate(counts) if v}
    assert got == dict(expected)
    assert (spikes == (counts > 0)).all()


def test_binning_audio_events_and_wide_counts():
    ev = np.zeros(300, EVENTS_X)
    ev["x"], ev["t"] = 699, np.arange(300)
    counts = bin_events(ev, 1000, 1, (1, 700), mode="count")
    assert counts.dtype == np.uint16 and counts[0, 699] == 300 and counts.sum() == 300
    assert channel_index(xy_events([(0, 4, 2, 1)]), (2, 3, 5)).tolist() == [(1 * 3 + 2) * 5 + 4]


def test_binning_refuses_what_does_not_fit():
    ev = xy_events([(0, 5, 0, 1)])
    with pytest.raises(DataError, match=r"x = 5 lies outside shape \(2, 4, 4\)"):
        bin_events(ev, 10, 2, (2, 4, 4))
    with pytest.raises(DataError, match="2 axes"):
        bin_events(ev, 10, 2, (2, 16))
    with pytest.raises(DataError, match="dt_us"):
        bin_events(ev, 0.5, 2, (2, 8, 8))
    with pytest.raises(DataError, match="structured array"):
        bin_events(np.zeros(3), 10, 2, (2, 8, 8))


# ---- saccade digits -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saccades():
    return saccade_digits()


def test_saccade_digits_shapes_split_and_both_polarities(saccades):
    x_tr, y_tr, x_te, y_te = saccades
    assert x_tr.shape == (1347, 300, 512) and x_te.shape == (450, 300, 512) and x_tr.dtype == bool
    ref = digits(None)
    assert (y_tr == ref[1]).all() and (y_te == ref[3]).all()  # the split of datasets.digits
    off, on = x_tr[..., :256].sum(), x_tr[..., 256:].sum()
    assert off > 0 and on > 0
    assert 0.8 < on / off < 1.25                      # the path returns to its start


def test_saccade_digits_is_deterministic_per_seed():
    a = saccade_digits(steps_per_saccade=10, size=8, seed=3, split=False)[0]
    b = saccade_digits(steps_per_saccade=10, size=8, seed=3, split=False)[0]
    c = saccade_digits(steps_per_saccade=10, size=8, seed=4, split=False)[0]
    assert (a == b).all() and not (a == c).all()


def test_a_blank_image_makes_no_events():
    assert not saccade_events(np.zeros((2, 16, 16)), steps_per_saccade=20).any()
    assert not saccade_events(np.full((1, 16, 16), 0.7), steps_per_saccade=20, radius=0.0).any()


def test_a_closed_saccade_gives_each_pixel_as_many_on_as_off_events():
    images, _ = digit_images(16)
    spikes = saccade_events(images[:100], steps_per_saccade=40, mismatch=0.0)
    per_pixel = spikes.sum(1).reshape(100, 2, 256).astype(int)
    assert np.abs(per_pixel[:, 1] - per_pixel[:, 0]).max() <= 1
    assert spikes.reshape(100, 120, 2, 256).sum(2).max() <= 1   # a pixel: one event a step
    path = saccade_path(40, 1.5)
    assert len(path) == 121 and np.array_equal(path[0], path[-1])


def test_a_linear_classifier_reads_the_spike_counts(saccades):
    x_tr, y_tr, x_te, y_te = saccades
    clf = LogisticRegression(max_iter=2000).fit(x_tr[:500].sum(1), y_tr[:500])
    accuracy = clf.score(x_te.sum(1), y_te)
    assert accuracy > 0.85, accuracy   # measured 0.916 (seed 0)
