"""Tests of helpers.physics against known answers: real Z->mumu events, analytic cases, a
constructed three-prong jet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import physics

MUON_MASS = 0.1056583755  # GeV, PDG 2024
Z_MASS = 91.1880  # GeV, PDG 2024


# --- single four-vectors ---------------------------------------------------------------------


def test_components_of_known_vectors():
    e = np.array([5.0, 10.0, 13.0])
    px = np.array([3.0, 0.0, 0.0])
    py = np.array([4.0, 6.0, 0.0])
    pz = np.array([0.0, 0.0, 5.0])
    np.testing.assert_allclose(physics.pt(px, py), [5.0, 6.0, 0.0])
    np.testing.assert_allclose(physics.phi(px, py), [np.arctan2(4, 3), np.pi / 2, 0.0])
    # eta = -ln tan(theta/2); the first two vectors are transverse (eta 0), the third along +z
    np.testing.assert_allclose(physics.eta(px, py, pz), [0.0, 0.0, np.inf])
    np.testing.assert_allclose(physics.mass(e, px, py, pz), [0.0, 8.0, 12.0])


def test_eta_matches_polar_angle_definition():
    theta = np.array([0.1, 0.7, np.pi / 2, 2.0, 3.0])
    p = 50.0
    px, pz = p * np.sin(theta), p * np.cos(theta)
    expected = -np.log(np.tan(theta / 2))
    np.testing.assert_allclose(physics.eta(px, 0 * px, pz), expected, atol=1e-12)


def test_zero_vector_and_beam_axis_conventions():
    z = np.zeros(3)
    np.testing.assert_array_equal(
        physics.eta(z, z, np.array([0.0, 2.0, -2.0])), [0, np.inf, -np.inf]
    )
    assert physics.phi(0.0, 0.0) == 0.0
    assert physics.mass(0.0, 0.0, 0.0, 0.0) == 0.0


def test_rapidity_equals_eta_for_massless_and_differs_for_massive():
    pt_, eta_, phi_ = np.array([20.0, 50.0]), np.array([0.5, -2.0]), np.array([0.3, -1.0])
    e, _, _, pz = physics.pt_eta_phi_m_to_e_px_py_pz(pt_, eta_, phi_, 0.0)
    np.testing.assert_allclose(physics.rapidity(e, pz), eta_, rtol=1e-12)
    e, _, _, pz = physics.pt_eta_phi_m_to_e_px_py_pz(pt_, eta_, phi_, 30.0)
    assert np.all(np.abs(physics.rapidity(e, pz)) < np.abs(eta_))


def test_round_trip_cartesian_to_polar_and_back():
    rng = np.random.default_rng(1)
    n = 1000
    pt_ = rng.uniform(1, 500, n)
    eta_ = rng.uniform(-4, 4, n)
    phi_ = rng.uniform(-np.pi, np.pi, n)
    m_ = rng.uniform(1, 200, n)
    e, px, py, pz = physics.pt_eta_phi_m_to_e_px_py_pz(pt_, eta_, phi_, m_)
    back = physics.e_px_py_pz_to_pt_eta_phi_m(e, px, py, pz)
    for got, want in zip(back[:3], (pt_, eta_, phi_), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # m from E and |p| loses absolute precision ~ eps * E^2 / m: E < 14 TeV, m > 1 GeV here
    np.testing.assert_allclose(back[3], m_, atol=1e-6)


def test_series_in_series_out():
    idx = pd.Index([10, 11], name="event")
    px = pd.Series([3.0, 1.0], index=idx)
    py = pd.Series([4.0, 0.0], index=idx)
    out = physics.pt(px, py)
    assert isinstance(out, pd.Series)
    assert list(out.index) == [10, 11]
    np.testing.assert_allclose(out.to_numpy(), [5.0, 1.0])
    assert isinstance(physics.pt(px.to_numpy(), py.to_numpy()), np.ndarray)


# --- negative m^2 and NaN ----------------------------------------------------------------------


def test_negative_mass_squared_clipped_or_signed():
    # |p| = 5 > E = 4: m^2 = -9
    assert physics.mass(4.0, 3.0, 4.0, 0.0) == 0.0
    assert physics.mass(4.0, 3.0, 4.0, 0.0, negative="signed") == pytest.approx(-3.0)
    assert physics.mass(5.0, 3.0, 0.0, 0.0, negative="signed") == pytest.approx(4.0)
    with pytest.raises(ValueError, match="negative"):
        physics.mass(4.0, 3.0, 4.0, 0.0, negative="abs")


def test_nan_input_gives_nan_without_warnings():
    out = physics.mass(np.array([np.nan, 5.0]), np.array([0.0, 3.0]), 0.0, 0.0)
    assert np.isnan(out[0]) and out[1] == pytest.approx(4.0)
    assert np.isnan(physics.pt(np.nan, 1.0))


def test_light_particle_at_high_energy_keeps_its_mass():
    # E^2 - p^2 computed naively loses the muon mass at 5 TeV; (E - p)(E + p) keeps ~1e-6
    p = 5000.0
    e = np.hypot(p, MUON_MASS)
    assert physics.mass(e, 0.0, 0.0, p) == pytest.approx(MUON_MASS, rel=1e-3)


# --- delta phi, delta R ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phi1", "phi2", "expected"),
    [
        (0.1, -0.1, 0.2),
        (np.pi - 0.1, -np.pi + 0.1, -0.2),  # across the +-pi seam: short way round
        (-np.pi + 0.1, np.pi - 0.1, 0.2),
        (3 * np.pi + 0.5, 0.0, -np.pi + 0.5),  # unwrapped input
        (0.0, 10 * np.pi + 0.25, -0.25),
        (1.0, 1.0, 0.0),
        (np.pi, 0.0, -np.pi),  # exactly pi maps to -pi: the interval is [-pi, pi)
    ],
)
def test_delta_phi_wrapping(phi1, phi2, expected):
    assert physics.delta_phi(phi1, phi2) == pytest.approx(expected, abs=1e-12)


def test_delta_phi_range_on_random_values():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-20, 20, (2, 10_000))
    d = physics.delta_phi(a, b)
    assert np.all((d >= -np.pi) & (d < np.pi))
    np.testing.assert_allclose(np.cos(d), np.cos(a - b), atol=1e-9)
    np.testing.assert_allclose(np.sin(d), np.sin(a - b), atol=1e-9)


def test_delta_r():
    assert physics.delta_r(0.0, 0.0, 3.0, 4.0 - 2 * np.pi) == pytest.approx(
        np.hypot(3.0, 4.0 - 2 * np.pi)
    )
    assert physics.delta_r(1.0, np.pi - 0.3, 1.4, -np.pi + 0.0) == pytest.approx(0.5)


# --- invariant masses ---------------------------------------------------------------------------


def test_back_to_back_massless_pair_has_mass_2e():
    e = np.array([1.0, 45.6, 3000.0])
    theta, phi_ = 0.8, 2.1
    n = np.array([np.sin(theta) * np.cos(phi_), np.sin(theta) * np.sin(phi_), np.cos(theta)])
    p1 = np.stack([e, *(e[None, :] * n[:, None])], axis=-1)  # shape (3, 4)
    p2 = p1 * np.array([1.0, -1.0, -1.0, -1.0])
    np.testing.assert_allclose(physics.invariant_mass(p1, p2), 2 * e, rtol=1e-12)


def test_two_body_decay_at_rest_and_boosted():
    # a 125 GeV scalar decaying to two photons, boosted along z with gamma = 3
    m, gamma = 125.0, 3.0
    beta = np.sqrt(1 - 1 / gamma**2)
    half = m / 2
    cos_t = np.array([-0.9, 0.0, 0.5])
    sin_t = np.sqrt(1 - cos_t**2)
    photons = []
    for sign in (1.0, -1.0):
        px, pz = sign * half * sin_t, sign * half * cos_t
        e = np.full_like(px, half)
        photons.append((gamma * (e + beta * pz), px, 0 * px, gamma * (pz + beta * e)))
    np.testing.assert_allclose(physics.invariant_mass(*photons), m, rtol=1e-12)
    # three bodies: adding a zero vector changes nothing
    zero = (0 * cos_t, 0 * cos_t, 0 * cos_t, 0 * cos_t)
    np.testing.assert_allclose(physics.invariant_mass(*photons, zero), m, rtol=1e-12)


def test_invariant_mass_rejects_dataframe():
    df = pd.DataFrame({"E": [1.0], "px": [0.0], "py": [0.0], "pz": [0.0]})
    with pytest.raises(TypeError, match="tuple"):
        physics.invariant_mass(df)


def _zmumu(real_data_dir) -> pd.DataFrame:
    uproot = pytest.importorskip("uproot")
    path = real_data_dir / "scikit-hep-testdata" / "uproot-Zmumu.root"
    tree = uproot.open(path)["events"]
    cols = [f"{c}{i}" for i in (1, 2) for c in ("E", "px", "py", "pz", "eta", "phi")] + ["M"]
    return pd.DataFrame(tree.arrays(cols, library="np"))


@pytest.mark.real_data
def test_zmumu_dimuon_mass_matches_stored_m(real_data_dir):
    """The file's M column is the dimuon mass of the same four-momenta, stored with 10 decimal
    places (1e-10 GeV). We find a largest relative difference of 1.1e-8 and require rtol=1e-7:
    loose enough for that rounding, tight enough to catch a massless-muon approximation, which
    shifts M by (m_mu / M)^2 >= 1.4e-6 relative (checked below)."""
    df = _zmumu(real_data_dir)
    mu1 = (df.E1, df.px1, df.py1, df.pz1)
    mu2 = (df.E2, df.px2, df.py2, df.pz2)
    m = physics.invariant_mass(mu1, mu2)
    assert isinstance(m, pd.Series) and len(m) == 2304
    np.testing.assert_allclose(m, df.M, rtol=1e-7)

    # sensitivity: the same muons with zero mass (E = |p|) fail this tolerance
    def massless(e, px, py, pz):
        return (np.sqrt(px**2 + py**2 + pz**2), px, py, pz)

    m0 = physics.invariant_mass(massless(*mu1), massless(*mu2))
    assert np.max(np.abs(m0 / df.M - 1)) > 1e-6


@pytest.mark.real_data
def test_zmumu_single_muon_mass_and_angles(real_data_dir):
    """Each muon's own mass is the muon mass. The file's energies were computed with a mass
    rounded to 0.10566 GeV and stored to 1e-10 GeV, so individual masses scatter by a few 1e-6
    GeV: we require 1e-5 GeV (a pion mass hypothesis, 0.1396 GeV, would be far off)."""
    df = _zmumu(real_data_dir)
    for i in (1, 2):
        m = physics.mass(df[f"E{i}"], df[f"px{i}"], df[f"py{i}"], df[f"pz{i}"])
        np.testing.assert_allclose(m, MUON_MASS, atol=1e-5)
    # the stored eta1/phi1 are rounded to 6 digits and most agree with the four-momentum to that
    # precision (a fifth of the stored pt1 come from another fit and differ: not compared)
    _, eta_, phi_, _ = physics.e_px_py_pz_to_pt_eta_phi_m(df.E1, df.px1, df.py1, df.pz1)
    assert np.median(np.abs(eta_ - df.eta1)) < 1e-5
    assert np.median(np.abs(physics.delta_phi(phi_, df.phi1))) < 1e-5


@pytest.mark.real_data
def test_zmumu_peak_is_at_the_z_mass(real_data_dir):
    """Independent of the stored column: the dimuon spectrum peaks at the Z mass. With 1 GeV
    bins the mode must lie within 2 GeV of 91.19 GeV (the Z width is 2.5 GeV and the CMS
    dimuon resolution ~1-2 GeV)."""
    df = _zmumu(real_data_dir)
    m = physics.invariant_mass(
        (df.E1, df.px1, df.py1, df.pz1), (df.E2, df.px2, df.py2, df.pz2)
    ).to_numpy()
    counts, edges = np.histogram(m, bins=np.arange(60.0, 121.0, 1.0))
    mode = 0.5 * (edges[:-1] + edges[1:])[np.argmax(counts)]
    assert abs(mode - Z_MASS) < 2.0
    assert np.mean((m > 81) & (m < 101)) > 0.5  # most events sit in the peak


# --- jets ---------------------------------------------------------------------------------------


def _jets_from_polar(pt_, eta_, phi_, n_constituents: int = 200) -> np.ndarray:
    """Massless constituents (n_jets, n_constituents, 4), zero-padded."""
    n_jets, k = pt_.shape
    out = np.zeros((n_jets, n_constituents, 4))
    e, px, py, pz = physics.pt_eta_phi_m_to_e_px_py_pz(pt_, eta_, phi_, 0.0)
    out[:, :k] = np.stack([e, px, py, pz], axis=-1)
    return out


def _top_frame(constituents: np.ndarray) -> pd.DataFrame:
    _, k, _ = constituents.shape
    cols = {}
    for i in range(k):
        for j, c in enumerate(("E", "PX", "PY", "PZ")):
            cols[f"{c}_{i}"] = constituents[:, i, j]
    frame = pd.DataFrame(cols)
    frame["is_signal_new"] = 1
    return frame


def test_constituents_from_frame_layout_and_jet_sums():
    rng = np.random.default_rng(3)
    jets = _jets_from_polar(
        rng.uniform(1, 100, (5, 7)), rng.uniform(-1, 1, (5, 7)), rng.uniform(-3, 3, (5, 7)), 10
    )
    frame = _top_frame(jets)
    got = physics.constituents_from_frame(frame)
    assert got.shape == (5, 10, 4)
    np.testing.assert_array_equal(got, jets)
    assert physics.constituents_from_frame(frame, n_constituents=3).shape == (5, 3, 4)
    with pytest.raises(KeyError):
        physics.constituents_from_frame(frame, n_constituents=11)
    # every input form gives the same jet four-momentum = sum of the constituents
    total = jets.sum(axis=1)
    for args in ((jets,), (frame,), tuple(jets[..., j] for j in range(4))):
        np.testing.assert_allclose(physics.jet_four_momentum(*args), total)
    np.testing.assert_allclose(physics.jet_pt(frame), np.hypot(total[:, 1], total[:, 2]))
    np.testing.assert_allclose(physics.jet_mass(jets), physics.mass(*total.T))


def test_jet_mass_of_w_decay_with_padding():
    # two massless quarks from an 80.4 GeV W at rest -> jet mass 80.4, padding and NaN ignored
    q = 80.4 / 2
    jets = np.zeros((2, 200, 4))
    jets[:, 0] = [q, q, 0.0, 0.0]
    jets[:, 1] = [q, -q, 0.0, 0.0]
    jets[1, 50:] = np.nan
    np.testing.assert_allclose(physics.jet_mass(jets), 80.4)
    np.testing.assert_allclose(physics.jet_pt(jets), 0.0, atol=1e-12)


# --- jet images ---------------------------------------------------------------------------------

# A three-prong jet in its canonical frame: pT fractions and (eta', phi') positions with the
# pT-weighted centroid at the origin, <eta' phi'> = 0, <phi'^2> = 0.090 > <eta'^2> = 0.018 (major
# axis vertical), more pT at eta' > 0 (0.6 vs 0.4) and at phi' > 0 (0.7 vs 0.3); no prong sits on
# an axis, so rounding cannot move it across one.
PRONG_W = np.array([0.6, 0.3, 0.1])
PRONG_X = np.array([0.1, -0.1, -0.3])
PRONG_Y = np.array([0.1, -0.4, 0.6])
# With 21 pixels over [-1.05, 1.05] (0.1 wide, pixel centres at multiples of 0.1) they land at
# (row = phi' bin, col = eta' bin):
PRONG_PIXELS = [(11, 11), (6, 9), (16, 7)]
GRID = {"n_pixels": 21, "eta_range": (-1.05, 1.05), "phi_range": (-1.05, 1.05)}


def _three_prong(angle: float, mirror: bool, eta0: float, phi0: float, pt_jet: float = 600.0):
    """The canonical jet mirrored, rotated by ``angle`` and moved to (eta0, phi0)."""
    x = -PRONG_X if mirror else PRONG_X
    ca, sa = np.cos(angle), np.sin(angle)
    xr, yr = ca * x - sa * PRONG_Y, sa * x + ca * PRONG_Y
    phi_ = np.mod(phi0 + yr + np.pi, 2 * np.pi) - np.pi
    return _jets_from_polar((pt_jet * PRONG_W)[None], (eta0 + xr)[None], phi_[None])


@pytest.mark.parametrize(
    ("angle", "mirror", "eta0", "phi0"),
    [
        (0.0, False, 0.0, 0.0),  # already canonical
        (0.7, False, 0.5, 3.0),  # rotated, and across the phi = +-pi seam
        (2.5, True, -1.2, -2.9),  # mirrored and rotated past 90 degrees
        (np.pi, False, 1.0, 1.0),  # upside down: only the flips fix it
    ],
)
def test_three_prong_jet_image_pixels(angle, mirror, eta0, phi0):
    jets = _three_prong(angle, mirror, eta0, phi0)
    img = physics.jet_images(jets, **GRID)
    assert img.shape == (1, 21, 21)
    assert np.count_nonzero(img) == 3
    for (r, c), w in zip(PRONG_PIXELS, PRONG_W, strict=True):
        assert img[0, r, c] == pytest.approx(w, rel=1e-9)
    assert img.sum() == pytest.approx(1.0)


def test_jet_image_unnormalised_keeps_gev_and_batches():
    jets = np.concatenate([_three_prong(0.3, False, 0.1, 0.2), _three_prong(1.9, True, 0, -3)])
    img = physics.jet_images(jets, normalize=False, **GRID)
    assert img.shape == (2, 21, 21)
    for k in range(2):
        for (r, c), w in zip(PRONG_PIXELS, PRONG_W, strict=True):
            assert img[k, r, c] == pytest.approx(600.0 * w, rel=1e-9)


def test_jet_images_of_many_jets_in_float32():
    # more jets than one vectorised chunk, float32 input and output, NaN padding
    one = _three_prong(1.1, True, 0.4, -1.0, pt_jet=500.0)[:, :5].astype(np.float32)
    one[:, 3:] = np.nan
    jets = np.repeat(one, physics._CHUNK + 3, axis=0)
    img = physics.jet_images(jets, dtype=np.float32, **GRID)
    assert img.dtype == np.float32 and img.shape == (len(jets), 21, 21)
    for (r, c), w in zip(PRONG_PIXELS, PRONG_W, strict=True):
        np.testing.assert_allclose(img[:, r, c], w, rtol=1e-5)
    np.testing.assert_allclose(img.sum(axis=(1, 2)), 1.0, rtol=1e-5)


def test_jet_image_without_preprocessing_centres_on_leading():
    # no rotation, no flip, centred on the leading prong: positions relative to it
    jets = _three_prong(0.0, False, 0.2, -0.4)
    img = physics.jet_images(jets, center="leading", rotate=False, flip=False, **GRID)
    rows, cols = np.nonzero(img[0])
    lit = sorted(zip(rows.tolist(), cols.tolist(), strict=True))
    # offsets from the leading prong (eta', phi'): (0, 0), (-0.2, -0.5), (-0.4, 0.5)
    assert lit == sorted([(10, 10), (5, 8), (15, 6)])


def test_jet_image_drops_outside_and_handles_empty_jets():
    jets = _three_prong(0.0, False, 0.0, 0.0)
    # a window of +-0.25 keeps only the leading prong, at (0.1, 0.1): pixel (3, 3) of 5 x 5
    img = physics.jet_images(jets, n_pixels=5, eta_range=(-0.25, 0.25), phi_range=(-0.25, 0.25))
    assert np.count_nonzero(img) == 1 and img[0, 3, 3] == pytest.approx(1.0)
    raw = physics.jet_images(
        jets, n_pixels=5, eta_range=(-0.25, 0.25), phi_range=(-0.25, 0.25), normalize=False
    )
    assert raw.sum() == pytest.approx(600.0 * 0.6)
    empty = np.zeros((2, 200, 4))
    out = physics.jet_images(empty)
    assert out.shape == (2, 40, 40) and not out.any()


def test_default_grid_matches_dataset_pixel_size():
    jets = _three_prong(0.4, False, 0.0, 0.0)
    img = physics.jet_images(jets)
    assert img.shape == (1, 40, 40)
    # the default window (0.029 x 0.035 pixels) holds the whole jet: all of its pT is kept
    assert img.sum() == pytest.approx(1.0) and np.count_nonzero(img) == 3
    assert physics.jet_images(jets, normalize=False).sum() == pytest.approx(600.0)
